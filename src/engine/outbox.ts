// The outbox: pushes of lead changes to CRMs. Rows are written in the same transaction
// as the lead change, so an acknowledged change is never lost; a worker claims them
// with leases, pushes them in batches (one CRM call per up to 100 leads), retries
// transient failures with backoff and jitter (honouring the CRM's Retry-After) for
// RETRY_WINDOW_MS (24 hours by default), charges each failure to the lead whose write
// failed only, and fails permanent errors at once with the administrator's steps.
import { SYNCED_FIELDS, type CrmError, type LeadFields, type OutboundLead } from '../../adapters/contract.ts';
import type { CrmLink, Integration, PrismaClient } from '../generated/prisma/client.ts';
import { admit, isTransient, probeUnused, recordFailure } from './breaker.ts';
import { DISCONNECTED } from './connection-state.ts';
import { asCrmError, errInfo } from './crm-errors.ts';
import type { DispatchQueue } from './dispatcher.ts';
import { canonicalFields, fieldsHash, readSnapshot } from './fields.ts';
import { outboundExtra, planFor } from './mapped-fields.ts';
import { recordUnmappable } from './mapping-warnings.ts';
import { HistoryBatch } from './history.ts';
import { pushAnnounced, type ToPush } from './outbox-push.ts';
import { BatchFill } from './outbox-fill.ts';
import { finish, recordPush, retryOrFail, type ClaimedItem, type OutboxDeps, type PassDeps } from './outbox-steps.ts';
import { announceUnlinkedWrites, announceWrites, forgetUnlinkedWrites, forgetWrites } from './pending-writes.ts';
import { readBackRetried, retriedRecords } from './read-back.ts';
import { byIntegration, claimRows, releaseRows } from './queue.ts';

export const OUTBOX_BATCH = 100;
/** How long a push waits for a change of its record still in the inbox to be applied first. */
const INBOX_FIRST_MS = 500;

/** The outbox as the dispatcher drives it: claims per integration, one push task each. */
export function outboxQueue(deps: OutboxDeps): DispatchQueue {
  // While leads keep arriving, a partial batch waits a little for more (outbox-fill.ts).
  const fill = new BatchFill(OUTBOX_BATCH, deps.config.OUTBOX_BATCH_WAIT_MS, async (integrationId, limit) =>
    (await claimRows(deps.prisma, 'OutboxItem', deps.instanceId, limit, 'createdAt', deps.config.WORK_LEASE_MS, [], integrationId)).map((r) => r.id),
  );
  return {
    claim: async (exclude) =>
      byIntegration(await claimRows(deps.prisma, 'OutboxItem', deps.instanceId, OUTBOX_BATCH, 'createdAt', deps.config.WORK_LEASE_MS, exclude)),
    run: async (integrationId, ids) => pushClaimed(deps, await fill.fill(integrationId, ids)),
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
  if (integration.connectionState === DISCONNECTED) {
    // Queued by another instance just before the disconnect reached it: nothing goes to a
    // CRM the customer left (disconnect.ts closed the rest the same way).
    await finish(deps.prisma, items, 'done', 'skipped: integration disconnected');
    return;
  }
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

  const toPush: ToPush[] = [];
  const plan = planFor(deps.connections.adapter(integration.provider), integration);
  for (const [, group] of byLead) {
    const lead = group[0].lead;
    const link = lead.links.find((l) => l.integrationId === integration.id);
    const fields = canonicalFields(lead);
    // The mapped fields beyond the six the CRM does not hold yet, in its terms; values a
    // mapping cannot carry are warnings in the history (the rest is still written).
    const mapped = outboundExtra(plan, lead, link);
    if (mapped.unmappable.length) await recordUnmappable(deps, integration, 'outbound', 'push', lead.id, link?.externalId ?? null, mapped.unmappable, group[0].id);
    const extra = Object.keys(mapped.extra).length > 0 ? mapped.extra : undefined;
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
    const skip = plan.skip.length ? plan.skip : undefined;
    if (link && !extra && (link.lastPushedHash === hash || holdsAll(readSnapshot(link.remoteFields), fields, plan.skip))) {
      // The CRM already holds exactly these values: pushing again would only echo.
      await finish(prisma, group, 'done', 'unchanged');
      recordPush(deps, integration, group, { kind: 'skipped', status: 'skipped', reason: 'unchanged' });
      continue;
    }
    const changed = changedFields(link, fields)?.filter((k) => !plan.skip.includes(k));
    toPush.push({ lead, items: group, outbound: { localId: lead.id, fields, externalId: link?.externalId ?? null, changed, ...(extra ? { extra } : {}), ...(skip ? { skip } : {}) }, hash });
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
    toPush.filter((p) => p.outbound.externalId).map((p) => ({ leadId: p.lead.id, fields: pickFields(p.outbound.fields, written(p.outbound)) })),
  );
  // A lead not linked yet: its write (create or link) is announced on its outbox items;
  // the link a later push makes inherits the ones never answered.
  const unlinked = toPush.filter((p) => !p.outbound.externalId);
  const announcedUnlinked = await announceUnlinkedWrites(
    prisma,
    unlinked.map((p) => ({ leadId: p.lead.id, itemIds: p.items.map((i) => i.id), fields: pickFields(p.outbound.fields, written(p.outbound)) })),
  );
  const answered: { leadId: string; id: string }[] = [];
  const answeredUnlinked: string[] = [];
  const answer = (p: { lead: { id: string } }, error?: CrmError) => {
    if (error?.code === 'NETWORK') return;
    const id = announced.get(p.lead.id);
    if (id) answered.push({ leadId: p.lead.id, id });
    const uid = announcedUnlinked.get(p.lead.id);
    if (uid) answeredUnlinked.push(uid);
  };
  try {
    await pushAnnounced(deps, integration, toPush, answer, log, announcedUnlinked);
  } finally {
    await forgetWrites(prisma, integration.id, answered);
    await forgetUnlinkedWrites(prisma, unlinked.flatMap((p) => p.items.map((i) => i.id)), answeredUnlinked);
  }
}


/** The synced fields a write sends: the changed ones (all when unlinked), never the skipped ones. */
function written(o: OutboundLead): (keyof LeadFields)[] {
  return (o.changed ?? SYNCED_FIELDS).filter((k) => !o.skip?.includes(k));
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

/** True when a snapshot knows every synced field written (not skipped) and each equals the lead's. */
function holdsAll(snapshot: Partial<LeadFields> | null, fields: LeadFields, skip: readonly (keyof LeadFields)[]): boolean {
  if (!snapshot) return false;
  return SYNCED_FIELDS.every((k) => skip.includes(k) || (k in snapshot && snapshot[k] === fields[k]));
}
