// The inbox: durable, idempotent webhook intake. A webhook is parsed, routed to its
// integration(s), verified, and its events are persisted in one statement (duplicates
// of an event already held are ignored by the (integration, dedupeKey) key) BEFORE it
// is acknowledged. Processing happens afterwards, by workers claiming events with
// leases; events of an instance that died are taken over when the lease expires.
import {
  CrmError,
  isCrmError,
  type ChangeEvent,
  type CrmAdapter,
  type CrmClient,
  type CrmRecord,
  type WebhookRequest,
} from '../../adapters/contract.ts';
import type { Config } from '../config.ts';
import { AppError } from '../errors.ts';
import type { InboxEvent, Integration } from '../generated/prisma/client.ts';
import type { Logger } from '../logger.ts';
import { applyRecords } from './apply-batch.ts';
import { settingsOf } from './connections.ts';
import { HistoryBatch } from './history.ts';
import type { IntakeRow, IntakeWriter } from './inbox-store.ts';
import { admit, isTransient, probeUnused, recordFailure, recordSuccess } from './breaker.ts';
import type { DispatchQueue } from './dispatcher.ts';
import { asCrmError, errInfo, storedError, webhookApiError } from './crm-errors.ts';
import { inboundFromOutcome, type ApplyOutcome } from './outcomes.ts';
import { backoffMs, byIntegration, claimRows, markInboxDone, releaseRows } from './queue.ts';
import { remedyFor } from './remedies.ts';
import { applyDeletion, applyMerge } from './removals.ts';
import { markNeedsReconnect, revokesGrant } from './connection-state.ts';
import type { WebhookResponse } from './types.ts';
import { acceptedEndpointSecrets, storedChannel, usesEndpointSecret } from './webhook-secrets.ts';
import type { EngineContext } from './context.ts';
import type { Routed, WebhookRoutes } from './webhook-routes.ts';
import type { Arrivals } from './arrivals.ts';
import { gatherForRead, type ClaimedRow } from './inbox-gather.ts';

export const INBOX_BATCH = 100;

export type InboxDeps = Pick<EngineContext, 'config' | 'prisma' | 'logger' | 'pubsub' | 'connections' | 'instanceId' | 'platformTag' | 'wake'> &
  Partial<Pick<EngineContext, 'metrics'>> & { arrivals: Arrivals };
/** Intake also needs the routes (webhook-routes.ts) and the group-commit writer (inbox-store.ts). */
export type IntakeDeps = Omit<InboxDeps, 'arrivals'> & { routes: Pick<WebhookRoutes, 'resolve'>; writer: Pick<IntakeWriter, 'store'> };

/**
 * What verification of a webhook for this integration needs: the adapter builds it (its
 * own type, opaque here) from what the service holds, decrypted once per route
 * (webhook-routes.ts), and only its own codec reads it.
 */
function secretsOf(config: Config, adapter: CrmAdapter, { integration, credentials, hooks }: Routed, now: Date = new Date()): unknown {
  return adapter.webhookSecrets({
    credentials,
    settings: settingsOf(integration),
    env: config,
    accountId: integration.accountId,
    channel: adapter.routing.by === 'channel' ? storedChannel(integration, hooks) : null,
    endpointSecrets: usesEndpointSecret(adapter) ? acceptedEndpointSecrets(hooks, now) : [],
  });
}

/** Verifies and persists a webhook, then answers the CRM. Throws AppError (400/401/404). */
export async function receiveWebhook(deps: IntakeDeps, adapter: CrmAdapter, req: WebhookRequest): Promise<WebhookResponse & { stored: number; integrationIds: string[] }> {
  const { logger } = deps;
  let parsed;
  try {
    parsed = adapter.codec.parse(req);
  } catch (e) {
    throw webhookApiError(e, adapter.provider) ?? e;
  }
  // Routed the way the adapter says: by the accounts the payload names, or (a CRM whose
  // notifications name no account, Zoho) by the channel the service opened, looked up in
  // its own column only (never compared with account ids).
  const byChannel = adapter.routing.by === 'channel';
  const accountIds = byChannel ? [] : [...new Set(parsed.accountIds)];
  const channelIds = byChannel ? [...new Set(parsed.channelIds ?? [])] : [];
  const routed = await deps.routes.resolve(adapter, byChannel ? channelIds : accountIds);
  const integrations = routed.map((r) => r.integration);

  const log = logger.child({ provider: adapter.provider, accounts: accountIds });
  if (integrations.length === 0) {
    // Nobody here owns that account. Still authenticate with the service-wide secret
    // where the CRM has one, so a forged request cannot learn anything; answer 2xx so the
    // CRM does not retry an event nobody will take.
    const serviceWide = adapter.unroutedWebhookSecrets?.(deps.config) ?? null;
    if (serviceWide) {
      verifyOrThrow(adapter, req, serviceWide, log);
      log.warn({ events: parsed.events.length }, 'webhook for an account with no integration: ignored');
      return { ...adapter.codec.acknowledge(), stored: 0, integrationIds: [] };
    }
    throw new AppError('UNAUTHENTICATED', 'Webhook signature could not be verified');
  }
  for (const r of routed) verifyOrThrow(adapter, req, secretsOf(deps.config, adapter, r), log);

  const integrationOf = (ev: ChangeEvent) =>
    byChannel
      ? integrations.find((i) => ev.channelId != null && i.channelId === ev.channelId)
      : integrations.find((i) => ev.accountId !== null && i.accountId === ev.accountId);
  const rows: IntakeRow[] = [];
  for (const ev of parsed.events) {
    const integration = integrationOf(ev);
    if (!integration) continue;
    rows.push({
      integrationId: integration.id,
      dedupeKey: ev.dedupeKey,
      kind: ev.kind,
      externalId: ev.externalId,
      occurredAt: ev.occurredAt,
      payload: serialiseEvent(ev),
      // The emergency brake: a disabled integration's events are recorded, never applied.
      disabled: !integration.webhooksEnabled,
    });
  }
  const stored = await deps.writer.store(rows);
  if (deps.metrics && rows.length) {
    deps.metrics.webhookEventsReceived.inc({ provider: adapter.provider }, rows.length);
    const disabled = rows.filter((r) => r.disabled).length;
    if (disabled) deps.metrics.webhookEventsSkipped.inc({ provider: adapter.provider, reason: 'skipped_disabled' }, disabled);
  }
  log.info({ events: parsed.events.length, stored, duplicates: rows.length - stored }, `webhook received: ${parsed.events.length} event(s)`);
  return { ...adapter.codec.acknowledge(), stored, integrationIds: [...new Set(rows.map((r) => r.integrationId))] };
}

function verifyOrThrow(adapter: CrmAdapter, req: WebhookRequest, secrets: unknown, log: Logger) {
  try {
    adapter.codec.verify(req, secrets);
  } catch (e) {
    const refused = webhookApiError(e, adapter.provider);
    if (refused?.code === 'UNAUTHENTICATED') log.warn({ reason: (e as Error).message }, 'webhook rejected: signature invalid');
    throw refused ?? e;
  }
}

/** The event as stored: JSON text (times as ISO strings), written once, as it is. */
function serialiseEvent(ev: ChangeEvent): string {
  return JSON.stringify(ev);
}

function deserialiseEvent(row: InboxEvent): ChangeEvent {
  // Rows stored by older versions may hold a `record` copied from the notification: it is
  // dropped here, never applied (the record is read back from the CRM's API).
  const { record: _ignored, ...p } = row.payload as unknown as ChangeEvent & { occurredAt: string; record?: unknown };
  void _ignored;
  return { ...p, occurredAt: new Date(p.occurredAt) };
}

/** The inbox as the dispatcher drives it: claims per integration, one task each (events in order). */
export function inboxQueue(deps: InboxDeps): DispatchQueue {
  // Arrival signals as they stood before each claim: one coming during the claim is not missed.
  const signalsAtClaim = new Map<string, number>();
  return {
    claim: async (exclude) => {
      const signals = deps.arrivals.snapshot();
      const groups = byIntegration(await claimRows(deps.prisma, 'InboxEvent', deps.instanceId, INBOX_BATCH, 'occurredAt', deps.config.WORK_LEASE_MS, exclude));
      for (const id of groups.keys()) signalsAtClaim.set(id, signals(id));
      return groups;
    },
    run: (integrationId, ids) => {
      const since = signalsAtClaim.get(integrationId) ?? deps.arrivals.signalCount(integrationId);
      signalsAtClaim.delete(integrationId);
      return processClaimed(deps, ids, since);
    },
    release: (ids) => releaseRows(deps.prisma, 'InboxEvent', ids),
  };
}

/** Applies claimed events of one integration (unless its circuit breaker says wait). */
export async function processClaimed(deps: InboxDeps, ids: string[], since?: number): Promise<void> {
  const rows = await deps.prisma.inboxEvent.findMany({
    where: { id: { in: ids }, status: 'processing', lockedBy: deps.instanceId },
    include: { integration: true },
    orderBy: { occurredAt: 'asc' },
  });
  if (rows.length === 0) return;
  const admission = await admit(deps.prisma, rows[0].integration, deps.config);
  if (admission.kind === 'wait') {
    await releaseRows(deps.prisma, 'InboxEvent', rows.map((r) => r.id), admission.until);
    return;
  }
  // The history of the whole task is written with one insert at its end.
  const history = new HistoryBatch(deps);
  try {
    await processForIntegration({ ...deps, history, probe: admission.kind === 'probe' }, rows[0].integration, rows, since);
  } finally {
    await history.flush();
  }
}

type PassDeps = InboxDeps & { history: HistoryBatch; probe?: boolean };

/** Counts and records the outcome of one event. */
function recordOutcome(deps: PassDeps, integration: Integration, row: InboxEvent, outcome: ApplyOutcome, leadId: string | null) {
  const m = deps.metrics;
  if (m) {
    const provider = integration.provider;
    const entry = inboundFromOutcome(outcome);
    if (entry.status === 'skipped') m.webhookEventsSkipped.inc({ provider, reason: outcome });
    else m.webhookEventsApplied.inc({ provider, outcome });
    if (outcome === 'created') m.webhookLeadsCreated.inc({ provider });
  }
  deps.history.inbound(integration, { ...inboundFromOutcome(outcome), leadId, externalId: row.externalId, via: 'webhook', inboxEventId: row.id });
}

/**
 * Reads a task's records: those a lead is linked to with their per-field history (a
 * person's edit our write overwrote shows only there), those no lead is linked to yet
 * without it: a CRM answering fewer records per call with history (HubSpot: 50, else
 * 100) then reads a burst of new people in half the calls of its budget.
 */
async function readTaskRecords(prisma: PassDeps['prisma'], client: CrmClient, integrationId: string, ids: string[]): Promise<CrmRecord[]> {
  const links = await prisma.crmLink.findMany({ where: { integrationId, externalId: { in: ids } }, select: { externalId: true } });
  const linked = new Set(links.map((l) => l.externalId));
  const known = ids.filter((id) => linked.has(id));
  const fresh = ids.filter((id) => !linked.has(id));
  return [...(known.length ? await client.readRecords(known) : []), ...(fresh.length ? await client.readRecords(fresh, { history: false }) : [])];
}

async function processForIntegration(deps: PassDeps, integration: Integration, claimed: ClaimedRow[], since: number | undefined) {
  const { prisma } = deps;
  const log = deps.logger.child({ integrationId: integration.id, provider: integration.provider });
  if (!integration.webhooksEnabled) {
    await prisma.inboxEvent.updateMany({
      where: { id: { in: claimed.map((r) => r.id) } },
      data: { status: 'done', outcome: 'skipped_disabled', processedAt: new Date(), lockedBy: null, lockedUntil: null, attempts: { increment: 1 } },
    });
    for (const row of claimed) recordOutcome(deps, integration, row, 'skipped_disabled', null);
    return;
  }
  let rows = claimed;
  if (!deps.probe && rows.some((r) => r.kind !== 'deleted')) {
    // A partial batch may wait for the next events, to read them in one call of the CRM's
    // budget (inbox-gather.ts); null: given back, to be claimed again later.
    const gathered = await gatherForRead(deps, deps.connections.client(integration), { integration, rows, since: since ?? deps.arrivals.signalCount(integration.id), perRequest: INBOX_BATCH }, log);
    if (!gathered) return;
    rows = gathered;
  }
  const events = rows.map((r) => ({ row: r, ev: deserialiseEvent(r) }));
  // A notification is never trusted for data (anyone can send one, and it may be older
  // than the record): every record is read back from the CRM's API, batched, and what the
  // API returns is what is applied. A record the API does not return is skipped_missing.
  const needRead = [...new Set(events.filter(({ ev }) => ev.kind !== 'deleted').map(({ ev }) => ev.externalId))];
  let records = new Map<string, CrmRecord>();
  if (needRead.length) {
    const client = deps.connections.client(integration);
    // One batched read per task: it is also the probe of a CRM whose breaker was open.
    try {
      const read = await readTaskRecords(prisma, client, integration.id, needRead);
      records = new Map(read.map((r) => [r.externalId, r]));
      await recordSuccess(prisma, integration.id, log);
    } catch (err) {
      const error = asCrmError(err);
      log.warn({ err: errInfo(error), events: rows.length }, 'reading records for webhook events failed');
      if (isTransient(error)) await recordFailure(prisma, integration.id, error, deps.config, log);
      else await recordSuccess(prisma, integration.id, log);
      for (const { row } of events) await retryOrFail(deps, row, error, log);
      return;
    }
  } else if (deps.probe) {
    await probeUnused(prisma, integration.id);
  }
  // One batch apply for the task's records (apply-batch.ts), in event order: a removal
  // (deletion, merge) first applies the records announced before it, so a record
  // deleted and restored in one task ends as the CRM holds it.
  const done: { row: InboxEvent & { integration: Integration }; outcome: ApplyOutcome; leadId: string | null }[] = [];
  let pending: { row: InboxEvent & { integration: Integration }; ev: ChangeEvent; record: CrmRecord }[] = [];
  const fail = async (row: InboxEvent & { integration: Integration }, ev: ChangeEvent, err: unknown) => {
    log.error({ err, eventId: row.id, externalId: ev.externalId }, `failed to process ${integration.provider} event ${row.id}`);
    await retryOrFail(deps, row, isCrmError(err) ? err : new CrmError('UPSTREAM', 'processing failed', { retryable: true, cause: err }), log);
  };
  const applyPending = async () => {
    if (pending.length === 0) return;
    const batch = pending;
    pending = [];
    let results;
    try {
      results = await applyRecords(deps, integration, batch.map(({ record, ev }) => ({ record, event: ev })), 'webhook');
    } catch (err) {
      // The batch could not even be looked up (the database refused): each event retries.
      for (const { row, ev } of batch) await fail(row, ev, err);
      return;
    }
    for (const [n, r] of results.entries()) {
      if (r.outcome === 'failed') await fail(batch[n].row, batch[n].ev, r.error);
      else done.push({ row: batch[n].row, outcome: r.outcome, leadId: r.leadId });
    }
  };
  for (const { row, ev } of events) {
    try {
      if (ev.kind === 'deleted' || ev.kind === 'merged') {
        await applyPending();
        if (ev.kind === 'deleted') {
          const { outcome, leadId } = await applyDeletion(deps, integration, ev.externalId);
          done.push({ row, outcome, leadId });
        } else {
          const merged = await applyMerge(deps, integration, ev.externalId, ev.mergedIds ?? []);
          const rec = records.get(ev.externalId);
          const [after] = rec ? await applyRecords(deps, integration, [{ record: rec, event: ev }], 'webhook') : [];
          if (after?.outcome === 'failed') throw after.error;
          done.push({ row, ...merged });
        }
        continue;
      }
      const record = records.get(ev.externalId);
      if (record) {
        pending.push({ row, ev, record });
      } else {
        log.info({ externalId: ev.externalId }, `skipping ${ev.externalId}: no longer in the CRM`);
        done.push({ row, outcome: 'skipped_missing', leadId: null });
      }
    } catch (err) {
      await fail(row, ev, err);
    }
  }
  await applyPending();
  // What was applied is recorded in one statement, and in the history in event order.
  await markInboxDone(prisma, done.map(({ row, outcome, leadId }) => ({ id: row.id, outcome, leadId })));
  const order = new Map(rows.map((r, i) => [r.id, i]));
  done.sort((a, b) => order.get(a.row.id)! - order.get(b.row.id)!);
  for (const { row, outcome, leadId } of done) recordOutcome(deps, integration, row, outcome, leadId);
}

/**
 * Records a failed attempt at an event. Transient errors (the CRM not answering, a
 * database hiccup) are retried with backoff until RETRY_WINDOW_MS after the first of
 * them (24 hours by default: as long as the CRMs keep re-sending their own webhooks);
 * permanent ones fail at once, with the steps that fix them.
 */
async function retryOrFail(deps: PassDeps, row: InboxEvent & { integration: Integration }, error: CrmError, log: Logger) {
  if (revokesGrant(error)) {
    // The CRM refused the grant: the event waits, unclaimed and uncounted, for the
    // customer to connect again (connection-state.ts).
    await markNeedsReconnect(deps, row.integration, error);
    await releaseRows(deps.prisma, 'InboxEvent', [row.id]);
    return;
  }
  const now = new Date();
  const attempts = row.attempts + 1;
  const firstFailedAt = row.firstFailedAt ?? now;
  const expired = now.getTime() - firstFailedAt.getTime() >= deps.config.RETRY_WINDOW_MS;
  const final = !error.retryable || expired;
  const message = !error.retryable
    ? `${storedError(error)} ${remedyFor(error.code, deps.connections.find(row.integration.provider))}`
    : expired
      ? `${storedError(error)} (gave up after ${attempts} attempts over ${Math.round((now.getTime() - firstFailedAt.getTime()) / 60_000)} min)`
      : storedError(error);
  const wait = Math.max(backoffMs(attempts, deps.config.RETRY_BASE_MS, deps.config.RETRY_MAX_DELAY_MS), error.retryAfterMs ?? 0);
  await deps.prisma.inboxEvent.update({
    where: { id: row.id },
    data: {
      attempts,
      firstFailedAt,
      lastError: message,
      errorCode: error.code,
      lockedBy: null,
      lockedUntil: null,
      ...(final ? { status: 'failed', processedAt: now } : { status: 'pending', nextAttemptAt: new Date(now.getTime() + wait) }),
    },
  });
  if (final) {
    log.error({ eventId: row.id, code: error.code, attempts }, `webhook event ${row.id} failed: ${error.code}`);
    deps.metrics?.webhookEventsFailed.inc({ provider: row.integration.provider });
    deps.history.inbound(row.integration, {
      kind: 'failed',
      status: 'failed',
      reason: error.code,
      errorCode: error.code,
      error: message,
      externalId: row.externalId,
      leadId: row.leadId,
      via: 'webhook',
      inboxEventId: row.id,
    });
  }
}
