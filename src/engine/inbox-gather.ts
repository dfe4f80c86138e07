// Sizing a webhook task's CRM read to the call budget. A task holding fewer events than
// one read carries asks the CRM client how long to wait (CrmClient.budgetWaitMs, given
// the events in hand and how fast its integration's events arrive: kit/limiter.ts
// paceFor). A trickle is never held. When the arrivals would spend the budget faster
// than it frees, the task keeps its claimed events and waits, in place, for the next
// ones: it is woken the moment more of its integration's events are stored (Arrivals),
// claims them into the same read, and reads once its batch is a fair share of the budget
// or its hold ran out (at most one even spacing of the budget window). A longer wait (the
// budget is spent) gives the events back, due when it frees, so nothing sits claimed.
import type { CrmClient } from '../../adapters/contract.ts';
import type { InboxEvent, Integration } from '../generated/prisma/client.ts';
import type { Logger } from '../logger.ts';
import type { Arrivals } from './arrivals.ts';
import type { EngineContext } from './context.ts';
import { claimRows, releaseRows } from './queue.ts';

export type ClaimedRow = InboxEvent & { integration: Integration };

/** Waits up to this long (ms) keep the events claimed; a longer one gives them back. */
export const HOLD_IN_PLACE_MAX_MS = 1_000;

export type GatherDeps = Pick<EngineContext, 'prisma' | 'config' | 'instanceId' | 'wake'> & { arrivals: Arrivals };

export interface Gathering {
  integration: Integration;
  rows: ClaimedRow[];
  /** Arrival signals counted when the rows were claimed (Arrivals.signalCount). */
  since: number;
  /** The most events one read carries. */
  perRequest: number;
}

/**
 * Returns the events to read now (those given, and those that arrived while they were
 * held, in event order), or null when they were given back (a long wait, or the engine
 * stopping) and nothing is to be read now.
 */
export async function gatherForRead(deps: GatherDeps, client: CrmClient, g: Gathering, log: Logger): Promise<ClaimedRow[] | null> {
  if (!client.budgetWaitMs) return g.rows;
  const { integration, perRequest } = g;
  const firstAt = Date.now();
  deps.arrivals.record(integration.id, g.rows.length, firstAt);
  let rows = g.rows;
  let since = g.since;
  for (;;) {
    const now = Date.now();
    const wait = client.budgetWaitMs({
      pending: rows.length,
      perRequest,
      perSecond: deps.arrivals.perSecond(integration.id, now),
      oldestAt: firstAt,
      nextArrivalAt: deps.arrivals.nextArrivalAt(integration.id, now),
    });
    if (wait <= 0) return rows;
    if (wait > HOLD_IN_PLACE_MAX_MS) {
      await releaseRows(deps.prisma, 'InboxEvent', rows.map((r) => r.id), new Date(now + wait));
      setTimeout(() => deps.wake.inbox(), wait).unref();
      log.debug({ events: rows.length, waitMs: wait }, 'holding events until the CRM call budget frees');
      return null;
    }
    const reason = await deps.arrivals.wait(integration.id, wait, since);
    if (reason === 'stop') {
      await releaseRows(deps.prisma, 'InboxEvent', rows.map((r) => r.id));
      return null;
    }
    since = deps.arrivals.signalCount(integration.id);
    if (rows.length < perRequest) {
      const more = await claimMore(deps, integration.id, perRequest - rows.length);
      if (more.length) {
        deps.arrivals.record(integration.id, more.length);
        rows = [...rows, ...more].sort((a, b) => a.occurredAt.getTime() - b.occurredAt.getTime());
      }
    }
    if (reason === 'timeout') return rows;
  }
}

/** Claims up to `limit` more due events of one integration, loaded as processClaimed loads them. */
async function claimMore(deps: GatherDeps, integrationId: string, limit: number): Promise<ClaimedRow[]> {
  const claimed = await claimRows(deps.prisma, 'InboxEvent', deps.instanceId, limit, 'occurredAt', deps.config.WORK_LEASE_MS, [], integrationId);
  if (claimed.length === 0) return [];
  return deps.prisma.inboxEvent.findMany({
    where: { id: { in: claimed.map((r) => r.id) }, status: 'processing', lockedBy: deps.instanceId },
    include: { integration: true },
  });
}
