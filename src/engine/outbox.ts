// The outbox: pushes of lead changes to CRMs. Rows are written in the same transaction
// as the lead change, so an acknowledged change is never lost; a worker claims them
// with leases, pushes them in batches (one CRM call per up to 100 leads), retries
// transient failures with backoff and jitter (honouring the CRM's Retry-After), and
// leaves a visible failed row after repeated failure.
import { CrmError, SYNCED_FIELDS, isCrmError, type LeadFields, type OutboundLead } from '../../adapters/contract.ts';
import { Prisma, type CrmLink, type Integration, type Lead, type OutboxItem, type PrismaClient } from '../generated/prisma/client.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { PubSub } from '../pubsub.ts';
import { isUniqueViolation } from '../db/errors.ts';
import { applyDeletion } from './apply.ts';
import { settingsOf, tagValuesFor, type Connections } from './connections.ts';
import { asJson, canonicalFields, fieldsHash, readSnapshot, toSnapshot } from './fields.ts';
import { HistoryBatch } from './history.ts';
import { backoffMs, claim } from './queue.ts';

export const OUTBOX_BATCH = 100;
export const OUTBOX_MAX_ATTEMPTS = 6;

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
  config: { WORK_LEASE_MS: number; RETRY_BASE_MS: number };
  prisma: PrismaClient;
  logger: Logger;
  pubsub: PubSub;
  connections: Connections;
  platformTag: string;
  instanceId: string;
  metrics?: Metrics;
}

type PassDeps = OutboxDeps & { history: HistoryBatch };

/** One pass: claims due items and pushes them. Returns how many items it handled. */
export async function processOutbox(deps: OutboxDeps): Promise<number> {
  const ids = await claim(deps.prisma, 'OutboxItem', deps.instanceId, OUTBOX_BATCH, 'createdAt', deps.config.WORK_LEASE_MS);
  if (ids.length === 0) return 0;
  const items = await deps.prisma.outboxItem.findMany({
    where: { id: { in: ids } },
    include: { lead: { include: { links: true } }, integration: true },
  });
  const byIntegration = new Map<string, typeof items>();
  for (const item of items) {
    const list = byIntegration.get(item.integrationId) ?? [];
    list.push(item);
    byIntegration.set(item.integrationId, list);
  }
  // The history of the whole pass is written with one insert at its end.
  const history = new HistoryBatch(deps);
  try {
    for (const list of byIntegration.values()) {
      await pushBatch({ ...deps, history }, list[0].integration, list);
    }
  } finally {
    await history.flush();
  }
  return items.length;
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
    error: entry.error?.message ?? null,
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
    if (link && (link.lastPushedHash === hash || holdsAll(readSnapshot(link.remoteFields), fields))) {
      // The CRM already holds exactly these values: pushing again would only echo.
      await finish(prisma, group, 'done', 'unchanged');
      recordPush(deps, integration, group, { kind: 'skipped', status: 'skipped', reason: 'unchanged' });
      continue;
    }
    toPush.push({ lead, items: group, outbound: { localId: lead.id, fields, externalId: link?.externalId ?? null }, hash });
  }
  if (toPush.length === 0) return;

  let results;
  try {
    const client = deps.connections.client(await prepared(deps, integration));
    log.info({ count: toPush.length }, `pushing ${toPush.length} lead(s) to ${integration.provider}`);
    results = await client.pushLeads(toPush.map((p) => p.outbound), deps.platformTag);
  } catch (err) {
    const error = asCrmError(err);
    log.warn({ err: errInfo(error), count: toPush.length }, 'push to CRM failed');
    for (const p of toPush) await retryOrFail(deps, p.items, error, log);
    return;
  }
  for (let i = 0; i < toPush.length; i++) {
    const p = toPush[i];
    const r = results[i];
    if (!r || r.localId !== p.lead.id) {
      await retryOrFail(deps, p.items, new CrmError('UPSTREAM', 'adapter returned no result for this lead', { retryable: true }), log);
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
          data: { status: 'done', doneAt: now, result: r.action, lockedBy: null, lockedUntil: null, lastError: null, errorCode: null },
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
    data: { settings: { ...settings, ...report.settings, prepared: true } as Prisma.InputJsonValue },
  });
  deps.logger.info({ integrationId: integration.id, originFieldCreated: report.originFieldCreated }, 'CRM prepared for writes (origin field ready)');
  return updated;
}

/** True when a snapshot knows every synced field and each equals the lead's. */
function holdsAll(snapshot: Partial<LeadFields> | null, fields: LeadFields): boolean {
  if (!snapshot) return false;
  return SYNCED_FIELDS.every((k) => k in snapshot && snapshot[k] === fields[k]);
}

async function retryOrFail(deps: PassDeps, items: ClaimedItem[], error: CrmError, log: Logger) {
  const attempts = Math.max(...items.map((i) => i.attempts));
  const final = !error.retryable || attempts >= OUTBOX_MAX_ATTEMPTS;
  if (final) {
    await deps.prisma.outboxItem.updateMany({
      where: { id: { in: items.map((i) => i.id) } },
      data: { status: 'failed', lastError: error.message.slice(0, 1000), errorCode: error.code, lockedBy: null, lockedUntil: null },
    });
    log.error({ leadId: items[0].leadId, code: error.code, attempts }, `failed to push lead ${items[0].leadId} after ${attempts} attempt(s): ${error.code}`);
    recordPush(deps, items[0].integration, items, { kind: 'failed', status: 'failed', error });
    return;
  }
  const wait = Math.max(backoffMs(attempts, deps.config.RETRY_BASE_MS), error.retryAfterMs ?? 0);
  await deps.prisma.outboxItem.updateMany({
    where: { id: { in: items.map((i) => i.id) } },
    data: {
      status: 'pending',
      nextAttemptAt: new Date(Date.now() + wait),
      lastError: error.message.slice(0, 1000),
      errorCode: error.code,
      lockedBy: null,
      lockedUntil: null,
    },
  });
}

async function finish(prisma: PrismaClient, items: ClaimedItem[], status: 'done' | 'failed', result: string) {
  await prisma.outboxItem.updateMany({
    where: { id: { in: items.map((i) => i.id) } },
    data: { status, result, doneAt: new Date(), lockedBy: null, lockedUntil: null },
  });
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
    data: { status: 'pending', attempts: 0, nextAttemptAt: new Date() },
  });
  return r.count;
}
