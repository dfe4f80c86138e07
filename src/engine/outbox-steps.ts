// The steps that end an outbox item's attempt: done, retried later with backoff, or
// failed with the administrator's steps; each step of a lead's push is recorded in the
// pass's history. Shared by the outbox pass (outbox.ts) and the push itself (outbox-push.ts).
import { CrmError, type OutboundLead } from '../../adapters/contract.ts';
import type { CrmLink, Integration, Lead, OutboxItem, PrismaClient } from '../generated/prisma/client.ts';
import type { Logger } from '../logger.ts';
import { storedError } from './crm-errors.ts';
import { markNeedsReconnect, revokesGrant } from './connection-state.ts';
import type { HistoryBatch } from './history.ts';
import { backoffMs, releaseRows } from './queue.ts';
import { remedyFor } from './remedies.ts';
import type { EngineContext } from './context.ts';

export type OutboxDeps = Pick<EngineContext, 'config' | 'prisma' | 'logger' | 'pubsub' | 'connections' | 'platformTag' | 'instanceId'> & Partial<Pick<EngineContext, 'metrics'>>;

export type PassDeps = OutboxDeps & { history: HistoryBatch; probe: boolean };

export type ClaimedItem = OutboxItem & { lead: Lead & { links: CrmLink[] }; integration: Integration };

/** A lead's push in the call: its queued items, what is written, and the hash of its fields. */
export type ToPush = { lead: ClaimedItem['lead']; items: ClaimedItem[]; outbound: OutboundLead; hash: string };

/** Records one push step of a lead (its queued items) in the pass's history. */
export function recordPush(
  deps: PassDeps,
  integration: Integration,
  items: ClaimedItem[],
  entry: { kind: string; status: 'succeeded' | 'skipped' | 'failed'; reason?: string | null; externalId?: string | null; error?: CrmError },
) {
  deps.history.outbound(integration, {
    kind: entry.kind,
    status: entry.status,
    reason: entry.reason ?? entry.error?.code ?? null,
    errorCode: entry.error?.code ?? null,
    error: entry.error ? storedError(entry.error) : null,
    externalId: entry.externalId ?? items[0].lead.links.find((l) => l.integrationId === integration.id)?.externalId ?? null,
    leadId: items[0].leadId,
    outboxItemId: items[0].id,
  });
}

/**
 * Records a failed attempt (or, when `attempted` is false, a push that was never tried:
 * it goes back without costing an attempt; so does a push refused for a revoked grant,
 * held until the integration is connected again). Transient errors are retried with backoff
 * until RETRY_WINDOW_MS after the first of them; permanent ones fail at once, with the
 * steps that fix them.
 */
export async function retryOrFail(deps: PassDeps, items: ClaimedItem[], error: CrmError, log: Logger, attempted = true) {
  const now = new Date();
  const ids = items.map((i) => i.id);
  if (revokesGrant(error)) {
    // The CRM refused the grant: nothing this push did is its fault. It waits, unclaimed
    // and uncounted, for the customer to connect again (connection-state.ts).
    await markNeedsReconnect(deps, items[0].integration, error);
    await releaseRows(deps.prisma, 'OutboxItem', ids, now);
    return;
  }
  if (!attempted) {
    await releaseRows(deps.prisma, 'OutboxItem', ids, new Date(now.getTime() + (error.retryAfterMs ?? 0)));
    return;
  }
  const attempts = Math.max(...items.map((i) => i.attempts)) + 1;
  const firstFailedAt = items.map((i) => i.firstFailedAt).find((d): d is Date => d !== null) ?? now;
  const expired = now.getTime() - firstFailedAt.getTime() >= deps.config.RETRY_WINDOW_MS;
  const integration = items[0].integration;
  if (!error.retryable || expired) {
    const message = !error.retryable
      ? `${storedError(error)} ${remedyFor(error.code, deps.connections.find(integration.provider))}`
      : `${storedError(error)} (gave up after ${attempts} attempts over ${Math.round((now.getTime() - firstFailedAt.getTime()) / 60_000)} min)`;
    await deps.prisma.outboxItem.updateMany({
      where: { id: { in: ids } },
      data: { status: 'failed', attempts, firstFailedAt, lastError: message, errorCode: error.code, lockedBy: null, lockedUntil: null },
    });
    log.error({ leadId: items[0].leadId, code: error.code, attempts }, `failed to push lead ${items[0].leadId} after ${attempts} attempt(s): ${error.code}`);
    recordPush(deps, integration, items, { kind: 'failed', status: 'failed', error: new CrmError(error.code, message, { retryable: error.retryable }) });
    return;
  }
  const wait = Math.max(backoffMs(attempts, deps.config.RETRY_BASE_MS, deps.config.RETRY_MAX_DELAY_MS), error.retryAfterMs ?? 0);
  await deps.prisma.outboxItem.updateMany({
    where: { id: { in: ids } },
    data: {
      status: 'pending',
      attempts,
      firstFailedAt,
      nextAttemptAt: new Date(now.getTime() + wait),
      lastError: storedError(error),
      errorCode: error.code,
      lockedBy: null,
      lockedUntil: null,
    },
  });
}

export async function finish(prisma: PrismaClient, items: ClaimedItem[], status: 'done' | 'failed', result: string) {
  await prisma.outboxItem.updateMany({
    where: { id: { in: items.map((i) => i.id) } },
    data: { status, result, doneAt: new Date(), lockedBy: null, lockedUntil: null, firstFailedAt: null, attempts: { increment: 1 } },
  });
}

/** Puts failed pushes back in the queue (all of an organization's, or one integration's). */
export async function retryFailedOutbox(prisma: PrismaClient, organizationId: string, integrationId?: string): Promise<number> {
  const r = await prisma.outboxItem.updateMany({
    where: { organizationId, status: 'failed', ...(integrationId ? { integrationId } : {}) },
    data: { status: 'pending', attempts: 0, firstFailedAt: null, nextAttemptAt: new Date() },
  });
  return r.count;
}

