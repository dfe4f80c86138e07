// Sync history: one SyncEvent row per inbound change applied (webhook, import, poll)
// and per outbound push step. Workers collect the rows of a pass in a HistoryBatch and
// write them with one INSERT at the end of the pass, then publish them on
// 'sync.activity'. Failed events can be replayed: their inbox event or outbox item goes
// back to pending.
import { boundedText } from '../../adapters/kit/text.ts';
import type { CrmProvider, Integration, PrismaClient, SyncEvent } from '../generated/prisma/client.ts';
import { AppError, notFound } from '../errors.ts';
import { MAX_STORED_ERROR } from './crm-errors.ts';
import { insertSyncEvents } from './history-store.ts';
import { inboundFromOutcome, outcomeStatus, type ApplyOutcome, type ApplyVia } from './outcomes.ts';
import type { EngineContext } from './context.ts';

export type SyncEventInput = {
  organizationId: string;
  integrationId: string;
  provider: CrmProvider;
  leadId?: string | null;
  direction: 'inbound' | 'outbound';
  kind: string;
  status: 'succeeded' | 'skipped' | 'failed' | 'warning';
  reason?: string | null;
  errorCode?: string | null;
  error?: string | null;
  externalId?: string | null;
  via: ApplyVia | 'push';
  inboxEventId?: string | null;
  outboxItemId?: string | null;
};

type IntegrationRef = Pick<Integration, 'id' | 'organizationId' | 'provider'>;

export type HistoryDeps = Pick<EngineContext, 'prisma' | 'pubsub' | 'logger'> & Partial<Pick<EngineContext, 'metrics'>>;

/** The history rows of one worker pass, written together by flush(). */
export class HistoryBatch {
  private rows: (SyncEventInput & { createdAt: Date })[] = [];

  constructor(private readonly deps: HistoryDeps) {}

  add(row: SyncEventInput) {
    // Stamped now, not at the insert: rows of one pass keep their real order, also when
    // several are recorded within one millisecond (a batch's outcomes): each is stamped
    // at least a millisecond after the one before it.
    const last = this.rows.at(-1)?.createdAt.getTime() ?? 0;
    this.rows.push({ ...row, createdAt: new Date(Math.max(Date.now(), last + 1)) });
  }

  inbound(integration: IntegrationRef, row: Omit<SyncEventInput, 'organizationId' | 'integrationId' | 'provider' | 'direction'>) {
    this.add({ ...row, organizationId: integration.organizationId, integrationId: integration.id, provider: integration.provider, direction: 'inbound' });
  }

  outbound(integration: IntegrationRef, row: Omit<SyncEventInput, 'organizationId' | 'integrationId' | 'provider' | 'direction' | 'via'>) {
    this.add({ ...row, organizationId: integration.organizationId, integrationId: integration.id, provider: integration.provider, direction: 'outbound', via: 'push' });
  }

  get size() {
    return this.rows.length;
  }

  /** One INSERT for the whole pass, then one 'sync.activity' message per row. Never throws: history must not fail sync. */
  async flush(): Promise<SyncEvent[]> {
    const rows = this.rows.splice(0);
    if (rows.length === 0) return [];
    let written: SyncEvent[];
    try {
      written = await insertSyncEvents(
        this.deps.prisma,
        rows.map((r) => ({
          organizationId: r.organizationId,
          integrationId: r.integrationId,
          provider: r.provider,
          leadId: r.leadId ?? null,
          direction: r.direction,
          kind: r.kind,
          status: r.status,
          reason: r.reason ?? null,
          errorCode: r.errorCode ?? null,
          error: r.error ? boundedText(r.error, MAX_STORED_ERROR) : (r.error ?? null),
          externalId: r.externalId ?? null,
          via: r.via,
          inboxEventId: r.inboxEventId ?? null,
          outboxItemId: r.outboxItemId ?? null,
          createdAt: r.createdAt,
        })),
      );
    } catch (err) {
      this.deps.logger.error({ err, rows: rows.length }, 'could not record sync history');
      return [];
    }
    for (const e of written) this.deps.metrics?.syncEvents.inc({ provider: e.provider, direction: e.direction, status: e.status });
    for (const event of written) {
      try {
        await this.deps.pubsub.publish('sync.activity', event);
      } catch (err) {
        this.deps.logger.warn({ err }, 'could not publish sync activity');
        break;
      }
    }
    return written;
  }
}

/**
 * Records what an import page or a poll applied: records that changed something or
 * failed (unchanged and skipped records of a bulk pass are not history), with the lead
 * each result names. A record that failed names none: its lead, when the record is
 * linked, is read from the links (one query, for the page's failures only).
 */
export async function recordApplied(
  deps: HistoryDeps,
  integration: IntegrationRef,
  via: 'import' | 'poll',
  applied: { externalId: string; outcome: ApplyOutcome | 'failed'; leadId: string | null }[],
): Promise<void> {
  const interesting = applied.filter((x) => outcomeStatus(x.outcome) !== 'skipped');
  if (interesting.length === 0) return;
  const unknown = interesting.filter((x) => x.leadId === null && x.outcome === 'failed').map((x) => x.externalId);
  let leadByExternal = new Map<string, string>();
  if (unknown.length) {
    try {
      const links = await deps.prisma.crmLink.findMany({
        where: { integrationId: integration.id, externalId: { in: unknown } },
        select: { externalId: true, leadId: true },
      });
      leadByExternal = new Map(links.map((l) => [l.externalId, l.leadId]));
    } catch (err) {
      deps.logger.warn({ err }, 'could not read lead ids for the sync history');
    }
  }
  const batch = new HistoryBatch(deps);
  for (const { externalId, outcome, leadId } of interesting) {
    batch.inbound(integration, { ...inboundFromOutcome(outcome), externalId, leadId: leadId ?? leadByExternal.get(externalId) ?? null, via });
  }
  await batch.flush();
}

/** The failed queue rows a retry puts back: the events' own rows, still failed. */
async function requeue(prisma: PrismaClient, inboxIds: string[], outboxIds: string[]) {
  const now = new Date();
  const data = { status: 'pending' as const, attempts: 0, firstFailedAt: null, nextAttemptAt: now, lockedBy: null, lockedUntil: null };
  const [inbox, outbox] = await prisma.$transaction([
    prisma.inboxEvent.updateMany({ where: { id: { in: inboxIds }, status: 'failed' }, data: { ...data, processedAt: null } }),
    prisma.outboxItem.updateMany({ where: { id: { in: outboxIds }, status: 'failed' }, data }),
  ]);
  return { inbox: inbox.count, outbox: outbox.count };
}

/**
 * Replays one failed sync event of the organization: its inbox event or outbox item goes
 * back to pending. NOT_FOUND for another organization's event; CONFLICT when the event
 * did not fail or its work is no longer failed (already retried, or done since).
 */
export async function retrySyncEvent(prisma: PrismaClient, organizationId: string, id: string): Promise<{ event: SyncEvent; inbox: number; outbox: number }> {
  const event = await prisma.syncEvent.findFirst({ where: { id, organizationId } });
  if (!event) throw notFound('Sync event');
  if (event.status !== 'failed') throw new AppError('CONFLICT', `Sync event ${id} did not fail: nothing to retry.`);
  if (!event.inboxEventId && !event.outboxItemId) {
    throw new AppError('UNSUPPORTED', `Sync event ${id} came from an ${event.via}; run it again instead.`);
  }
  // A push of a lead may have held several queued items, all failed together: they go back together.
  let outboxIds: string[] = [];
  if (event.outboxItemId) {
    const item = await prisma.outboxItem.findFirst({ where: { id: event.outboxItemId, organizationId }, select: { leadId: true, integrationId: true } });
    const siblings = item
      ? await prisma.outboxItem.findMany({ where: { leadId: item.leadId, integrationId: item.integrationId, status: 'failed' }, select: { id: true } })
      : [];
    outboxIds = [event.outboxItemId, ...siblings.map((x) => x.id).filter((x) => x !== event.outboxItemId)];
  }
  const n = await requeue(prisma, event.inboxEventId ? [event.inboxEventId] : [], outboxIds);
  if (n.inbox + n.outbox === 0) throw new AppError('CONFLICT', `Sync event ${id} is not failed any more (already retried or done).`);
  const updated = await prisma.syncEvent.update({ where: { id: event.id }, data: { retriedAt: new Date() } });
  return { event: updated, ...n };
}

/** Puts every failed inbox event and outbox item of the organization (or one integration) back. Returns how many. */
export async function retryFailed(prisma: PrismaClient, organizationId: string, integrationId?: string | null): Promise<{ inbox: number; outbox: number }> {
  const integrations = await prisma.integration.findMany({
    where: { organizationId, ...(integrationId ? { id: integrationId } : {}) },
    select: { id: true },
  });
  if (integrationId && integrations.length === 0) throw notFound('Integration');
  const ids = integrations.map((i) => i.id);
  const [inboxRows, outboxRows] = await Promise.all([
    prisma.inboxEvent.findMany({ where: { integrationId: { in: ids }, status: 'failed' }, select: { id: true } }),
    prisma.outboxItem.findMany({ where: { organizationId, integrationId: { in: ids }, status: 'failed' }, select: { id: true } }),
  ]);
  const inboxIds = inboxRows.map((r) => r.id);
  const outboxIds = outboxRows.map((r) => r.id);
  if (inboxIds.length + outboxIds.length === 0) return { inbox: 0, outbox: 0 };
  const n = await requeue(prisma, inboxIds, outboxIds);
  await prisma.syncEvent.updateMany({
    where: {
      organizationId,
      status: 'failed',
      retriedAt: null,
      OR: [{ inboxEventId: { in: inboxIds } }, { outboxItemId: { in: outboxIds } }],
    },
    data: { retriedAt: new Date() },
  });
  return n;
}
