// The outbox: pushes of lead changes to CRMs. Rows are written in the same transaction
// as the lead change, so an acknowledged change is never lost; a worker claims them
// with leases, pushes them in batches (one CRM call per up to 100 leads), retries
// transient failures with backoff and jitter (honouring the CRM's Retry-After) for
// RETRY_WINDOW_MS (24 hours by default), charges each failure to the lead whose write
// failed only, and fails permanent errors at once with the administrator's steps.
import { CrmError, SYNCED_FIELDS, isCrmError, type LeadFields, type OutboundLead } from '../../adapters/contract.ts';
import { boundedText } from '../../adapters/kit/text.ts';
import type { CrmLink, Integration, Lead, OutboxItem, PrismaClient } from '../generated/prisma/client.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { PubSub } from '../pubsub.ts';
import { isUniqueViolation } from '../db/errors.ts';
import { applyDeletion } from './apply.ts';
import { settingsOf, tagValuesFor, type Connections } from './connections.ts';
import { asJson, canonicalFields, fieldsHash, readSnapshot, toSnapshot } from './fields.ts';
import { HistoryBatch } from './history.ts';
import { admit, isTransient, probeUnused, recordFailure, recordSuccess } from './breaker.ts';
import type { DispatchQueue } from './dispatcher.ts';
import { announceWrites, forgetWrites } from './pending-writes.ts';
import { readBackRetried, retriedRecords } from './read-back.ts';
import { remedyFor } from './remedies.ts';
import { backoffMs, byIntegration, claimRows, releaseRows } from './queue.ts';

export const OUTBOX_BATCH = 100;
/** How long a push waits for a change of its record still in the inbox to be applied first. */
const INBOX_FIRST_MS = 500;

type Tx = Pick<PrismaClient, 'integration' | 'outboxItem'>;

/** Queues a push of `lead` to every auto-sync integration of its organization except `exceptIntegrationId`. */
export async function enqueueForOtherIntegrations(tx: Tx, lead: Lead, exceptIntegrationId: string | null): Promise<number> {
  const targets = await tx.integration.findMany({
    where: { organizationId: lead.organizationId, autoSync: true, ...(exceptIntegrationId ? { id: { not: exceptIntegrationId } } : {}) },
    select: { id: true },
  });
  if (targets.length === 0) return 0;
  await tx.outboxItem.createMany({
    data: targets.map((t) => ({
      organizationId: lead.organizationId,
      integrationId: t.id,
      leadId: lead.id,
      leadVersion: lead.syncVersion,
    })),
  });
  return targets.length;
}

export interface OutboxDeps {
  config: {
    WORK_LEASE_MS: number;
    RETRY_BASE_MS: number;
    RETRY_MAX_DELAY_MS: number;
    RETRY_WINDOW_MS: number;
    BREAKER_THRESHOLD: number;
    BREAKER_COOLDOWN_MS: number;
  };
  prisma: PrismaClient;
  logger: Logger;
  pubsub: PubSub;
  connections: Connections;
  platformTag: string;
  instanceId: string;
  metrics?: Metrics;
}

type PassDeps = OutboxDeps & { history: HistoryBatch; probe: boolean };

/** The outbox as the dispatcher drives it: claims per integration, one push task each. */
export function outboxQueue(deps: OutboxDeps): DispatchQueue {
  return {
    claim: async (exclude) =>
      byIntegration(await claimRows(deps.prisma, 'OutboxItem', deps.instanceId, OUTBOX_BATCH, 'createdAt', deps.config.WORK_LEASE_MS, exclude)),
    run: (_integrationId, ids) => pushClaimed(deps, ids),
    release: (ids) => releaseRows(deps.prisma, 'OutboxItem', ids),
  };
}

/** Pushes claimed items of one integration (unless its circuit breaker says wait). */
export async function pushClaimed(deps: OutboxDeps, ids: string[]): Promise<void> {
  const items = await deps.prisma.outboxItem.findMany({
    where: { id: { in: ids }, status: 'processing', lockedBy: deps.instanceId },
    include: { lead: { include: { links: true } }, integration: true },
    orderBy: { createdAt: 'asc' },
  });
  if (items.length === 0) return;
  const integration = items[0].integration;
  const admission = await admit(deps.prisma, integration, deps.config);
  if (admission.kind === 'wait') {
    await releaseRows(deps.prisma, 'OutboxItem', items.map((i) => i.id), admission.until);
    return;
  }
  // The history of the whole task is written with one insert at its end.
  const history = new HistoryBatch(deps);
  try {
    await pushBatch({ ...deps, history, probe: admission.kind === 'probe' }, integration, items);
  } finally {
    await history.flush();
  }
}

type ClaimedItem = OutboxItem & { lead: Lead & { links: CrmLink[] }; integration: Integration };

/** Records one push step of a lead (its queued items) in the pass's history. */
function recordPush(
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

async function pushBatch(deps: PassDeps, integration: Integration, items: ClaimedItem[]) {
  const { prisma } = deps;
  const log = deps.logger.child({ integrationId: integration.id, provider: integration.provider });
  // Several queued pushes of one lead are one push of its current state.
  const byLead = new Map<string, ClaimedItem[]>();
  for (const it of items) byLead.set(it.leadId, [...(byLead.get(it.leadId) ?? []), it]);
  const waiting = await inboxWaiting(prisma, integration.id, items.flatMap((it) => it.lead.links.filter((l) => l.integrationId === integration.id).map((l) => l.externalId)));
  // A retry may come after a person's newer edit of the record whose notification has not
  // arrived yet: read those records back and apply them first (read-back.ts).
  const retried = retriedRecords(integration, [...byLead.values()], waiting);
  try {
    await readBackRetried(deps, integration, retried, log);
  } catch (err) {
    const error = asCrmError(err);
    log.warn({ err: errInfo(error), count: retried.size }, 'reading records back before retrying their push failed');
    if (isTransient(error)) await recordFailure(prisma, integration.id, error, deps.config, log);
    for (const group of retried.values()) {
      byLead.delete(group[0].leadId);
      await retryOrFail(deps, group, error, log);
    }
  }

  const toPush: { lead: ClaimedItem['lead']; items: ClaimedItem[]; outbound: OutboundLead; hash: string }[] = [];
  for (const [, group] of byLead) {
    const lead = group[0].lead;
    const link = lead.links.find((l) => l.integrationId === integration.id);
    const fields = canonicalFields(lead);
    const hash = fieldsHash(fields);
    if (!integration.autoSync) {
      await finish(prisma, group, 'done', 'skipped: auto-sync is off');
      recordPush(deps, integration, group, { kind: 'skipped', status: 'skipped', reason: 'auto_sync_off' });
      continue;
    }
    if (link?.remoteDeletedAt) {
      await finish(prisma, group, 'done', 'skipped: record deleted in the CRM');
      recordPush(deps, integration, group, { kind: 'skipped', status: 'skipped', reason: 'crm_record_deleted' });
      continue;
    }
    if (link && waiting.has(link.externalId)) {
      // A change of this record in the CRM is still waiting in the inbox: it is read and
      // applied first (where the later writer by modification time wins). Pushing now could
      // put the platform's older value over a newer edit made in the CRM.
      await releaseRows(prisma, 'OutboxItem', group.map((i) => i.id), new Date(Date.now() + INBOX_FIRST_MS));
      continue;
    }
    if (link && (link.lastPushedHash === hash || holdsAll(readSnapshot(link.remoteFields), fields))) {
      // The CRM already holds exactly these values: pushing again would only echo.
      await finish(prisma, group, 'done', 'unchanged');
      recordPush(deps, integration, group, { kind: 'skipped', status: 'skipped', reason: 'unchanged' });
      continue;
    }
    toPush.push({ lead, items: group, outbound: { localId: lead.id, fields, externalId: link?.externalId ?? null, changed: changedFields(link, fields) }, hash });
  }
  if (toPush.length === 0) {
    if (deps.probe) await probeUnused(prisma, integration.id);
    return;
  }
  if (deps.probe && toPush.length > 1) {
    // The CRM was down: one lead's push probes it; the others wait for the answer.
    const rest = toPush.splice(1);
    await releaseRows(prisma, 'OutboxItem', rest.flatMap((p) => p.items.map((i) => i.id)));
    log.info({ waiting: rest.length }, `probing ${integration.provider} with one push`);
  }

  // Updates are announced on their links before the call (pending-writes.ts): if this
  // process dies while the CRM holds the request, the next one still knows the values
  // that may land late for ours. Each is forgotten once its answer is known; an update
  // whose answer never came (NETWORK: deadline passed, connection lost) stays announced.
  const announced = await announceWrites(
    prisma,
    integration.id,
    toPush.filter((p) => p.outbound.externalId).map((p) => ({ leadId: p.lead.id, fields: pickFields(p.outbound.fields, p.outbound.changed ?? SYNCED_FIELDS) })),
  );
  const answered: string[] = [];
  const answer = (p: { lead: { id: string } }, error?: CrmError) => {
    const id = announced.get(p.lead.id);
    if (id && error?.code !== 'NETWORK') answered.push(id);
  };
  try {
    await pushAnnounced(deps, integration, toPush, answer, log);
  } finally {
    await forgetWrites(prisma, integration.id, answered);
  }
}

async function pushAnnounced(
  deps: PassDeps,
  integration: Integration,
  toPush: { lead: ClaimedItem['lead']; items: ClaimedItem[]; outbound: OutboundLead; hash: string }[],
  answer: (p: { lead: { id: string } }, error?: CrmError) => void,
  log: Logger,
) {
  const { prisma } = deps;
  let results;
  try {
    const client = deps.connections.client(await prepared(deps, integration));
    log.info({ count: toPush.length }, `pushing ${toPush.length} lead(s) to ${integration.provider}`);
    results = await client.pushLeads(toPush.map((p) => p.outbound), deps.platformTag);
  } catch (err) {
    const error = asCrmError(err);
    log.warn({ err: errInfo(error), count: toPush.length }, 'push to CRM failed');
    if (isTransient(error)) await recordFailure(prisma, integration.id, error, deps.config, log);
    else await recordSuccess(prisma, integration.id, log);
    for (const p of toPush) {
      answer(p, error);
      await retryOrFail(deps, p.items, error, log);
    }
    return;
  }
  // The breaker follows the CRM's answers: any write that went through, or only
  // permanent refusals, means it is up; only transient failures mean it is not.
  const tried = results.flatMap((r) => (r.ok ? [] : r.attempted === false ? [] : [r.error]));
  const transient = tried.find(isTransient);
  if (transient && !results.some((r) => r.ok)) await recordFailure(prisma, integration.id, transient, deps.config, log);
  else if (results.some((r) => r.ok) || tried.length > 0) await recordSuccess(prisma, integration.id, log);
  for (let i = 0; i < toPush.length; i++) {
    const p = toPush[i];
    const r = results[i];
    if (!r || r.localId !== p.lead.id) {
      await retryOrFail(deps, p.items, new CrmError('UPSTREAM', 'adapter returned no result for this lead', { retryable: true }), log);
      continue;
    }
    answer(p, r.ok ? undefined : r.error);
    if (!r.ok && r.attempted === false) {
      // Not tried: another lead's call failed first and the adapter stopped there.
      await retryOrFail(deps, p.items, r.error, log, false);
      continue;
    }
    if (!r.ok && r.error.code === 'NOT_FOUND' && p.outbound.externalId) {
      // The linked record is gone: deleted in the CRM without a notification reaching us
      // (some CRMs send none for deletions). Same rule as a deletion webhook: the lead
      // stays, and is no longer pushed there.
      await applyDeletion(deps, integration, p.outbound.externalId);
      await finish(prisma, p.items, 'done', 'skipped: record deleted in the CRM');
      recordPush(deps, integration, p.items, { kind: 'skipped', status: 'skipped', reason: 'crm_record_deleted' });
      continue;
    }
    if (!r.ok) {
      log.warn({ leadId: p.lead.id, err: errInfo(r.error) }, `failed to push lead ${p.lead.id}`);
      await retryOrFail(deps, p.items, r.error, log);
      continue;
    }
    const now = new Date();
    try {
      // What the CRM holds now: what we knew, overlaid with what this write set (as the
      // adapter reports it, empty fields included) — never a read made after the write,
      // which may already hold a person's edit. The last-read hash is dropped with it, so
      // the next read is compared field by field with what we wrote.
      const link = p.lead.links.find((l) => l.integrationId === integration.id);
      const remoteFields = asJson({ ...(readSnapshot(link?.remoteFields) ?? {}), ...toSnapshot(r.written ?? p.outbound.fields) });
      const lead = await prisma.$transaction(async (tx) => {
        await tx.crmLink.upsert({
          where: { leadId_integrationId: { leadId: p.lead.id, integrationId: integration.id } },
          create: {
            leadId: p.lead.id,
            integrationId: integration.id,
            externalId: r.externalId,
            remoteFields,
            lastPushedHash: p.hash,
            lastPushedAt: now,
          },
          update: { externalId: r.externalId, remoteFields, lastPushedHash: p.hash, lastPushedAt: now, lastPulledHash: null },
        });
        await tx.outboxItem.updateMany({
          where: { id: { in: p.items.map((x) => x.id) } },
          data: {
            status: 'done',
            doneAt: now,
            result: r.action,
            lockedBy: null,
            lockedUntil: null,
            lastError: null,
            errorCode: null,
            firstFailedAt: null,
            attempts: { increment: 1 },
          },
        });
        return tx.lead.update({
          where: { id: p.lead.id },
          data: { lastSyncDirection: 'to_crm', lastSyncedAt: now, crmProvider: p.lead.crmProvider ?? integration.provider },
        });
      });
      log.info({ leadId: p.lead.id, externalId: r.externalId, action: r.action }, `${r.action} ${integration.provider} record ${r.externalId} for lead ${p.lead.id}`);
      recordPush(deps, integration, p.items, { kind: r.action, status: 'succeeded', externalId: r.externalId });
      await deps.pubsub.publish('lead.updated', { organizationId: lead.organizationId, lead });
    } catch (e) {
      if (isUniqueViolation(e)) {
        // That CRM record is already linked to another lead: a person with two leads
        // would follow. Stop and show it rather than guess.
        await retryOrFail(deps, p.items, new CrmError('CONFLICT', `CRM record ${r.externalId} is already linked to another lead`, { retryable: false }), log);
        continue;
      }
      throw e;
    }
  }
}

/**
 * Before the first push to a CRM, make sure its origin field exists (without touching
 * webhooks). A CRM that cannot be made ready fails the push with the steps an
 * administrator must take; the failed pushes can be retried afterwards.
 */
async function prepared(deps: OutboxDeps, integration: Integration): Promise<Integration> {
  const settings = settingsOf(integration);
  if (settings.prepared === true) return integration;
  const report = await deps.connections.client(integration).prepare(tagValuesFor(integration.provider, deps.platformTag));
  if (!report.originFieldReady) {
    throw new CrmError('VALIDATION', `${integration.provider} is not ready for writes: ${report.manualSteps.join(' ')}`, { retryable: false });
  }
  const updated = await deps.prisma.integration.update({
    where: { id: integration.id },
    data: { settings: deps.connections.settingsToStore(integration.provider, { ...settings, ...report.settings, prepared: true }) },
  });
  deps.logger.info({ integrationId: integration.id, originFieldCreated: report.originFieldCreated }, 'CRM prepared for writes (origin field ready)');
  return updated;
}

function pickFields(fields: LeadFields, keys: readonly (keyof LeadFields)[]): Partial<LeadFields> {
  return Object.fromEntries(keys.map((k) => [k, fields[k]])) as Partial<LeadFields>;
}

/** CRM records of `externalIds` with a change still waiting in the inbox (pending or being processed). */
async function inboxWaiting(prisma: PrismaClient, integrationId: string, externalIds: string[]): Promise<Set<string>> {
  if (externalIds.length === 0) return new Set();
  const rows = await prisma.inboxEvent.findMany({
    where: { integrationId, externalId: { in: [...new Set(externalIds)] }, status: { in: ['pending', 'processing'] } },
    select: { externalId: true },
    distinct: ['externalId'],
  });
  return new Set(rows.map((r) => r.externalId));
}

/** The fields of a linked lead the CRM is not known to hold (undefined: unlinked or nothing known, write all). */
function changedFields(link: CrmLink | undefined, fields: LeadFields): (keyof LeadFields)[] | undefined {
  const snapshot = link ? readSnapshot(link.remoteFields) : null;
  if (!snapshot) return undefined;
  return SYNCED_FIELDS.filter((k) => !(k in snapshot) || snapshot[k] !== fields[k]);
}

/** True when a snapshot knows every synced field and each equals the lead's. */
function holdsAll(snapshot: Partial<LeadFields> | null, fields: LeadFields): boolean {
  if (!snapshot) return false;
  return SYNCED_FIELDS.every((k) => k in snapshot && snapshot[k] === fields[k]);
}

/**
 * Records a failed attempt (or, when `attempted` is false, a push that was never tried:
 * it goes back without costing an attempt). Transient errors are retried with backoff
 * until RETRY_WINDOW_MS after the first of them; permanent ones fail at once, with the
 * steps that fix them.
 */
async function retryOrFail(deps: PassDeps, items: ClaimedItem[], error: CrmError, log: Logger, attempted = true) {
  const now = new Date();
  const ids = items.map((i) => i.id);
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

async function finish(prisma: PrismaClient, items: ClaimedItem[], status: 'done' | 'failed', result: string) {
  await prisma.outboxItem.updateMany({
    where: { id: { in: items.map((i) => i.id) } },
    data: { status, result, doneAt: new Date(), lockedBy: null, lockedUntil: null, firstFailedAt: null, attempts: { increment: 1 } },
  });
}

/** Longest error text stored where tenants read it (the CRM's code and parsed message fit). */
export const MAX_STORED_ERROR = 400;

/**
 * The text of a CRM failure as stored and shown to tenants (lastError, syncEvents.error,
 * importJob.error): the adapters' translators already keep only the CRM's code and its
 * parsed, bounded message; this bounds it once more, whatever produced it.
 */
export function storedError(e: CrmError): string {
  return boundedText(e.message, MAX_STORED_ERROR);
}

export function asCrmError(err: unknown): CrmError {
  if (isCrmError(err)) return err;
  return new CrmError('UPSTREAM', 'unexpected adapter failure', { cause: err, retryable: true });
}

export function errInfo(e: CrmError) {
  return { code: e.code, status: e.status, message: e.message, retryAfterMs: e.retryAfterMs };
}

/** Puts failed pushes back in the queue (all of an organization's, or one integration's). */
export async function retryFailedOutbox(prisma: PrismaClient, organizationId: string, integrationId?: string): Promise<number> {
  const r = await prisma.outboxItem.updateMany({
    where: { organizationId, status: 'failed', ...(integrationId ? { integrationId } : {}) },
    data: { status: 'pending', attempts: 0, firstFailedAt: null, nextAttemptAt: new Date() },
  });
  return r.count;
}
