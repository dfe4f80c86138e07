// Applying what a CRM says about one record to the platform's leads. Used by the
// webhook inbox, the import and the reconciling poll, so all three follow the same
// rules:
//   matching      CRM id link first, then normalised email; one lead per person.
//   own origin    a record carrying our tag that we do not know yet is our own
//                 create coming back: never a new lead (linked if the lead exists).
//   echo          a record whose synced fields hash to what we last pushed is the
//                 echo of our own write: dropped.
//   ordering      a record state older than the one its link holds (CRM modification
//                 time) is never applied, whichever path brought it; equal is not older.
//   conflicts     last writer wins by modification time: a local change newer than the
//                 CRM's, still waiting in the outbox, is kept.
import { SYNCED_FIELDS, hasOwnOrigin, type ChangeEvent, type CrmRecord, type LeadFields } from '../../adapters/contract.ts';
import type { CrmLink, Integration, Lead, PrismaClient } from '../generated/prisma/client.ts';
import type { Logger } from '../logger.ts';
import type { PubSub } from '../pubsub.ts';
import { isUniqueViolation } from '../db/errors.ts';
import type { Connections } from './connections.ts';
import { asJson, canonicalFields, changedFields, changedSince, fieldsHash, readFieldTimes, readSnapshot, stampFieldTimes } from './fields.ts';
import { enqueueForOtherIntegrations } from './outbox.ts';
import { settleLateWrites, staleEchoes } from './pending-writes.ts';

export type ApplyOutcome =
  | 'created'
  | 'updated'
  | 'linked'
  | 'unchanged'
  | 'deleted'
  | 'merged'
  | 'skipped_own_origin'
  | 'skipped_no_email'
  | 'skipped_echo'
  | 'skipped_stale'
  | 'skipped_missing'
  | 'skipped_disabled'
  | 'skipped_deleted';

export const SKIPPED_OUTCOMES: ApplyOutcome[] = [
  'unchanged',
  'skipped_own_origin',
  'skipped_no_email',
  'skipped_echo',
  'skipped_stale',
  'skipped_missing',
  'skipped_disabled',
  'skipped_deleted',
];

/** Synced fields other than email (which is never blank on a lead). */
type FieldPatch = Partial<Omit<LeadFields, 'email'>>;
const BLANKABLE = ['firstName', 'lastName', 'phone', 'company', 'status'] as const;

export interface ApplyResult {
  outcome: ApplyOutcome;
  leadId: string | null;
}

export interface ApplyDeps {
  prisma: PrismaClient;
  logger: Logger;
  pubsub: PubSub;
  platformTag: string;
  /** The adapters: what a record of each CRM is called in log lines. */
  connections: Pick<Connections, 'noun'>;
}

/** 'push': read back before a retried push (src/engine/read-back.ts). */
export type ApplyVia = 'webhook' | 'import' | 'poll' | 'push';

/** Applies one CRM record (its current state) to the leads of the integration's organization. */
export async function applyRecord(
  deps: ApplyDeps,
  integration: Integration,
  record: CrmRecord,
  via: ApplyVia,
  event?: ChangeEvent,
): Promise<ApplyResult> {
  // Two concurrent appliers (two instances, or a webhook racing the import) can both
  // decide to create; the unique constraints let one win, and the other re-reads.
  for (let attempt = 1; ; attempt++) {
    try {
      return await applyOnce(deps, integration, record, via, event);
    } catch (e) {
      if (isUniqueViolation(e) && attempt < 3) continue;
      throw e;
    }
  }
}

async function applyOnce(
  deps: ApplyDeps,
  integration: Integration,
  record: CrmRecord,
  via: ApplyVia,
  event?: ChangeEvent,
): Promise<ApplyResult> {
  const { prisma, logger } = deps;
  const log = logger.child({ integrationId: integration.id, provider: integration.provider, externalId: record.externalId, via });
  const remote = canonicalFields(record.fields);
  const remoteHash = fieldsHash(remote);
  const link = await prisma.crmLink.findUnique({
    where: { integrationId_externalId: { integrationId: integration.id, externalId: record.externalId } },
    include: { lead: true },
  });

  // Ordering, on every path (webhook, import, poll): a state of the record older than the
  // one the link already holds is never applied. Notifications arrive out of order
  // (Salesforce retries outbound messages independently of their order; HubSpot promises
  // no order), and an import or poll page read before a newer change was applied arrives
  // after it. Equal times are not older: several changes can share one second.
  if (link && isOlder(record.updatedAt, link.remoteUpdatedAt)) {
    log.info({ leadId: link.leadId, remoteUpdatedAt: record.updatedAt, heldUpdatedAt: link.remoteUpdatedAt }, 'skipped: older than the state already applied');
    return { outcome: 'skipped_stale', leadId: link.leadId };
  }

  const ownOrigin = Boolean(event?.ownOrigin) || hasOwnOrigin(record, deps.platformTag);
  if (link && event?.kind === 'created' && ownOrigin && !carriesCrmChanges(link.remoteFields, remote)) {
    // The creation webhook of a record we created (and already linked), holding what
    // we wrote. One that holds more (a CRM automation or a person edited the record
    // before the notification went out, which some CRMs still call a creation) is
    // compared below like any change.
    log.info({ leadId: link.leadId }, `skipping ${label(deps, integration)} ${record.externalId}, originated from our platform`);
    // Learn what the CRM filled in that we did not write (defaults such as a status),
    // so a later change of those fields is recognised as a change.
    await touchLink(prisma, link, remote, remoteHash, record.updatedAt);
    return { outcome: 'skipped_own_origin', leadId: link.leadId };
  }

  if (link) {
    const lead = link.lead;
    if (link.remoteDeletedAt) {
      await prisma.crmLink.update({ where: { id: link.id }, data: { remoteDeletedAt: null } });
    }
    // What did the CRM really change? Against what it held as far as we knew (the last
    // read, or what we last wrote) — not against the lead, which other CRMs and the
    // platform also change.
    const base = readSnapshot(link.remoteFields);
    const crmChanged = base ? changedSince(base, remote) : changedFields(lead, remote);
    if (crmChanged.email === null) delete crmChanged.email; // a lead always keeps an email
    // Our own unanswered write landing late is no change to apply (pending-writes.ts).
    const late = staleEchoes(link, lead, remote, crmChanged);
    if (late.changed) await settleLateWrites(prisma, link, lead, integration, remote, late);
    for (const k of late.stale) delete crmChanged[k];
    if (late.stale.length) log.info({ leadId: lead.id, fields: late.stale }, 'skipped: our own earlier write applied late by the CRM; pushing the newer value');
    const diff = changedFields(lead, { ...lead, ...crmChanged });
    if (event?.ownOrigin || Object.keys(crmChanged).length === 0 || Object.keys(diff).length === 0) {
      // Nothing new: the echo of our own write when the CRM's state moved since we last
      // read it (our push moved it), otherwise a repeat of what we know.
      const echo = Boolean(event?.ownOrigin) || (link.lastPushedAt !== null && link.lastPulledHash !== remoteHash);
      await touchLink(prisma, link, remote, remoteHash, record.updatedAt);
      if (echo) log.debug({ leadId: lead.id }, 'skipped: echo of our own write');
      return { outcome: echo ? 'skipped_echo' : 'unchanged', leadId: lead.id };
    }
    // Last writer wins, per field: a local change newer than the CRM's, still waiting to be
    // pushed to this CRM, keeps the fields it changed (the outbox pushes them); what the
    // CRM changed in other fields is applied, never dropped along with them.
    // Each field changed on both sides is settled by its own times: when the platform
    // changed it (Lead.fieldsChangedAt) and when the CRM did (CrmRecord.fieldUpdatedAt,
    // else the record's modification time). A record touched later in another field
    // does not make an older change of this one win.
    let toApply = diff;
    const localChanged = base ? changedSince(base, lead) : diff;
    const contested = Object.keys(diff).filter((k) => k in localChanged) as (keyof LeadFields)[];
    if (contested.length > 0 && (await hasPendingPush(prisma, lead.id, integration.id))) {
      const localTimes = readFieldTimes(lead.fieldsChangedAt);
      const kept = contested.filter((k) => {
        const crmAt = record.fieldUpdatedAt?.[k] ?? record.updatedAt;
        return crmAt !== null && (localTimes[k] ?? lead.updatedAt) > crmAt;
      });
      toApply = Object.fromEntries(Object.entries(diff).filter(([k]) => !kept.includes(k as keyof LeadFields))) as Partial<LeadFields>;
      if (Object.keys(toApply).length === 0) {
        log.info({ leadId: lead.id }, 'skipped: local change is newer than the CRM change');
        return { outcome: 'skipped_stale', leadId: lead.id };
      }
      if (kept.length > 0) log.info({ leadId: lead.id, kept, applied: Object.keys(toApply) }, 'local change is newer for some fields: applying the CRM change of the others');
    }
    const updated = await updateLeadFromCrm(deps, integration, lead, toApply, link.id, remote, remoteHash, record, log);
    return { outcome: 'updated', leadId: updated.id };
  }

  // Not linked yet.
  const email = remote.email;
  const existing = email
    ? await prisma.lead.findUnique({ where: { organizationId_email: { organizationId: integration.organizationId, email } } })
    : null;

  if (ownOrigin) {
    log.info({ externalId: record.externalId }, `skipping ${label(deps, integration)} ${record.externalId}, originated from our platform`);
    if (existing && !(await linkedTo(prisma, existing.id, integration.id))) {
      await createLink(prisma, existing.id, integration.id, record, remoteHash, null);
      return { outcome: via === 'import' ? 'linked' : 'skipped_own_origin', leadId: existing.id };
    }
    return { outcome: 'skipped_own_origin', leadId: existing?.id ?? null };
  }

  if (!email) {
    log.warn({ externalId: record.externalId }, `skipping ${label(deps, integration)} ${record.externalId}: no email`);
    return { outcome: 'skipped_no_email', leadId: null };
  }

  if (existing) {
    // The same person already exists on the platform: link, never duplicate. Blank
    // platform fields are filled from the CRM; filled ones are kept.
    const currentLink = await prisma.crmLink.findUnique({
      where: { leadId_integrationId: { leadId: existing.id, integrationId: integration.id } },
    });
    if (currentLink) {
      // Linked to another record of this CRM (two CRM records, one email): keep the
      // first link and do not create a second lead.
      log.warn({ leadId: existing.id, linkedTo: currentLink.externalId }, 'skipped: lead already linked to another record');
      return { outcome: 'unchanged', leadId: existing.id };
    }
    const fill: FieldPatch = {};
    for (const k of BLANKABLE) {
      if (remote[k] !== null && existing[k] === null) fill[k] = remote[k];
    }
    await prisma.$transaction(async (tx) => {
      await createLink(tx, existing.id, integration.id, record, remoteHash, null);
      if (Object.keys(fill).length) {
        await tx.lead.update({
          where: { id: existing.id },
          data: { ...fill, syncVersion: { increment: 1 }, fieldsChangedAt: stampFieldTimes(existing.fieldsChangedAt, Object.keys(fill) as (keyof LeadFields)[], record.updatedAt ?? new Date(), record.fieldUpdatedAt) },
        });
      }
    });
    log.info({ leadId: existing.id }, `linked ${label(deps, integration)} ${record.externalId} to existing lead`);
    return { outcome: 'linked', leadId: existing.id };
  }

  log.info({ externalId: record.externalId, email }, `creating lead from ${label(deps, integration)} ${record.externalId}`);
  const now = new Date();
  const lead = await prisma.$transaction(async (tx) => {
    const created = await tx.lead.create({
      data: {
        organizationId: integration.organizationId,
        email,
        firstName: remote.firstName,
        lastName: remote.lastName,
        phone: remote.phone,
        company: remote.company,
        status: remote.status,
        sourceSystem: (record.originTag ?? '').trim().toLowerCase() || integration.provider.toLowerCase(),
        crmProvider: integration.provider,
        fieldsChangedAt: stampFieldTimes(null, [...SYNCED_FIELDS], record.updatedAt ?? now, record.fieldUpdatedAt),
        lastSyncDirection: 'from_crm',
        lastSyncedAt: now,
      },
    });
    await createLink(tx, created.id, integration.id, record, remoteHash, null);
    await enqueueForOtherIntegrations(tx, created, integration.id);
    return created;
  });
  log.info({ leadId: lead.id, email }, `created lead ${lead.id} from ${label(deps, integration)} ${record.externalId}`);
  await deps.pubsub.publish('lead.created', { organizationId: lead.organizationId, lead });
  return { outcome: 'created', leadId: lead.id };
}

async function updateLeadFromCrm(
  deps: ApplyDeps,
  integration: Integration,
  lead: Lead,
  diff: Partial<LeadFields>,
  linkId: string,
  remote: LeadFields,
  remoteHash: string,
  record: Pick<CrmRecord, 'updatedAt' | 'fieldUpdatedAt'>,
  log: Logger,
): Promise<Lead> {
  const { prisma } = deps;
  const remoteUpdatedAt = record.updatedAt;
  const { email, ...rest } = diff;
  const data: FieldPatch & { email?: string } = rest;
  if (email) {
    // A changed email must not collide with another lead of the organization.
    const clash = await prisma.lead.findUnique({ where: { organizationId_email: { organizationId: lead.organizationId, email } } });
    if (clash && clash.id !== lead.id) {
      log.warn({ leadId: lead.id }, 'email change from the CRM not applied: another lead has that email');
    } else {
      data.email = email;
    }
  }
  const updated = await prisma.$transaction(async (tx) => {
    const u = await tx.lead.update({
      where: { id: lead.id },
      data: {
        ...data,
        syncVersion: { increment: 1 },
        fieldsChangedAt: stampFieldTimes(lead.fieldsChangedAt, Object.keys(data) as (keyof LeadFields)[], record.updatedAt ?? new Date(), record.fieldUpdatedAt),
        lastSyncDirection: 'from_crm',
        lastSyncedAt: new Date(),
        crmProvider: lead.crmProvider ?? integration.provider,
      },
    });
    await tx.crmLink.update({
      where: { id: linkId },
      data: { remoteFields: asJson(remote), lastPulledHash: remoteHash, lastPushedHash: null, remoteUpdatedAt: remoteUpdatedAt ?? undefined },
    });
    await enqueueForOtherIntegrations(tx, u, integration.id);
    return u;
  });
  log.info({ leadId: lead.id, fields: Object.keys(data) }, `updated lead ${lead.id} from ${label(deps, integration)}`);
  await deps.pubsub.publish('lead.updated', { organizationId: updated.organizationId, lead: updated });
  return updated;
}

type Tx = Pick<PrismaClient, 'crmLink' | 'lead' | 'outboxItem' | 'integration'>;

async function createLink(
  tx: Tx,
  leadId: string,
  integrationId: string,
  record: CrmRecord,
  remoteHash: string,
  pushedHash: string | null,
) {
  await tx.crmLink.create({
    data: {
      leadId,
      integrationId,
      externalId: record.externalId,
      remoteFields: asJson(canonicalFields(record.fields)),
      lastPulledHash: remoteHash,
      lastPushedHash: pushedHash,
      remoteUpdatedAt: record.updatedAt ?? undefined,
    },
  });
}

/** Records what the CRM holds now; no write when the link knows exactly that already. */
async function touchLink(prisma: PrismaClient, link: CrmLink, remote: LeadFields, remoteHash: string, remoteUpdatedAt: Date | null) {
  const base = readSnapshot(link.remoteFields);
  const sameTime = remoteUpdatedAt === null || link.remoteUpdatedAt?.getTime() === remoteUpdatedAt.getTime();
  if (link.lastPulledHash === remoteHash && isComplete(base) && fieldsHash(base) === remoteHash && sameTime) return;
  await prisma.crmLink.update({
    where: { id: link.id },
    data: { remoteFields: asJson(remote), lastPulledHash: remoteHash, remoteUpdatedAt: remoteUpdatedAt ?? undefined },
  });
}

async function linkedTo(prisma: PrismaClient, leadId: string, integrationId: string) {
  return (await prisma.crmLink.count({ where: { leadId, integrationId } })) > 0;
}

async function hasPendingPush(prisma: PrismaClient, leadId: string, integrationId: string) {
  return (await prisma.outboxItem.count({ where: { leadId, integrationId, status: { in: ['pending', 'processing'] } } })) > 0;
}

/** True when a snapshot knows every synced field. */
function isComplete(snapshot: Partial<LeadFields> | null): snapshot is LeadFields {
  return snapshot !== null && SYNCED_FIELDS.every((k) => k in snapshot);
}

/**
 * True when a linked record's current state is one the link knows already: what we last
 * read, or exactly what the CRM holds as far as we know (after our own write). Such a
 * record needs no decision and no write (import and poll re-reads).
 */
function knownState(link: CrmLink, remoteHash: string): boolean {
  if (link.remoteDeletedAt) return false;
  if (link.lastPulledHash === remoteHash) return true;
  const base = readSnapshot(link.remoteFields);
  return isComplete(base) && fieldsHash(base) === remoteHash;
}

/** True when a CRM modification time is strictly before the one already held. */
export function isOlder(remoteUpdatedAt: Date | null, heldUpdatedAt: Date | null): boolean {
  return remoteUpdatedAt !== null && heldUpdatedAt !== null && remoteUpdatedAt.getTime() < heldUpdatedAt.getTime();
}

/** True when a record holds a value, of a field we know the CRM's state of, that differs from it. */
function carriesCrmChanges(remoteFields: unknown, remote: LeadFields): boolean {
  const base = readSnapshot(remoteFields);
  return base !== null && Object.keys(changedSince(base, remote)).length > 0;
}

/** What one record of the integration's CRM is called (its adapter's noun). */
function label(deps: ApplyDeps, integration: Pick<Integration, 'provider'>): string {
  return deps.connections.noun(integration.provider);
}

/** A CRM record was deleted: the lead stays (the platform owns its data) but is no longer pushed there. */
export async function applyDeletion(deps: ApplyDeps, integration: Integration, externalId: string): Promise<ApplyResult> {
  const link = await deps.prisma.crmLink.findUnique({
    where: { integrationId_externalId: { integrationId: integration.id, externalId } },
  });
  if (!link) return { outcome: 'skipped_missing', leadId: null };
  if (link.remoteDeletedAt) return { outcome: 'unchanged', leadId: link.leadId };
  const now = new Date();
  const lead = await deps.prisma.$transaction(async (tx) => {
    await tx.crmLink.update({ where: { id: link.id }, data: { remoteDeletedAt: now } });
    return tx.lead.update({ where: { id: link.leadId }, data: { crmDeletedAt: now } });
  });
  deps.logger.info({ leadId: lead.id, externalId, integrationId: integration.id }, `${label(deps, integration)} ${externalId} deleted in the CRM: lead kept, no longer pushed`);
  await deps.pubsub.publish('lead.updated', { organizationId: lead.organizationId, lead });
  return { outcome: 'deleted', leadId: lead.id };
}

/**
 * CRM records were merged into `survivorId`. Leads linked to the merged-away records
 * are folded into the survivor's lead (blank fields filled, links moved), so one
 * person never keeps two leads. When no lead is linked to the survivor, the first
 * merged-away lead is re-linked to it instead.
 */
export async function applyMerge(
  deps: ApplyDeps,
  integration: Integration,
  survivorId: string,
  mergedIds: string[],
): Promise<ApplyResult> {
  const { prisma } = deps;
  const ids = [survivorId, ...mergedIds.filter((id) => id !== survivorId)];
  const links = await prisma.crmLink.findMany({
    where: { integrationId: integration.id, externalId: { in: ids } },
    include: { lead: true },
  });
  if (links.length === 0) return { outcome: 'skipped_missing', leadId: null };
  const survivorLink = links.find((l) => l.externalId === survivorId) ?? links[0];
  const keeper = survivorLink.lead;
  const losers = [...new Map(links.filter((l) => l.leadId !== keeper.id).map((l) => [l.leadId, l.lead])).values()];
  const result = await prisma.$transaction(async (tx) => {
    if (survivorLink.externalId !== survivorId) {
      await tx.crmLink.update({ where: { id: survivorLink.id }, data: { externalId: survivorId } });
    }
    const fill: FieldPatch = {};
    for (const loser of losers) {
      for (const k of BLANKABLE) {
        if (keeper[k] === null && fill[k] === undefined && loser[k] !== null) fill[k] = loser[k];
      }
      // Links the loser had to other CRMs move to the keeper where it has none.
      const otherLinks = await tx.crmLink.findMany({ where: { leadId: loser.id, integrationId: { not: integration.id } } });
      for (const ol of otherLinks) {
        const has = await tx.crmLink.count({ where: { leadId: keeper.id, integrationId: ol.integrationId } });
        if (!has) await tx.crmLink.update({ where: { id: ol.id }, data: { leadId: keeper.id } });
      }
      await tx.lead.delete({ where: { id: loser.id } });
    }
    await tx.crmLink.deleteMany({ where: { integrationId: integration.id, externalId: { in: mergedIds.filter((id) => id !== survivorId) } } });
    return tx.lead.update({ where: { id: keeper.id }, data: { ...fill, syncVersion: { increment: 1 } } });
  });
  deps.logger.info(
    { leadId: result.id, survivorId, mergedIds, removedLeads: losers.map((l) => l.id), integrationId: integration.id },
    `merged ${label(deps, integration)}s into ${survivorId}`,
  );
  await deps.pubsub.publish('lead.updated', { organizationId: result.organizationId, lead: result });
  return { outcome: 'merged', leadId: result.id };
}

/**
 * Applies a page of records (import, poll) with the same rules as applyRecord, but in
 * bulk where nothing needs deciding: records already linked whose CRM values did not
 * change cost no write, and new people are created in one transaction. Everything else
 * (own-origin records, existing leads by email, real changes) goes through applyRecord.
 */
export async function applyRecords(
  deps: ApplyDeps,
  integration: Integration,
  records: CrmRecord[],
  via: ApplyVia,
): Promise<ApplyOutcome[]> {
  const { prisma } = deps;
  const outcomes: ApplyOutcome[] = new Array(records.length);
  const ids = records.map((r) => r.externalId);
  const emails = [...new Set(records.map((r) => canonicalFields(r.fields).email).filter((e): e is string => e !== null))];
  const [links, leads] = await Promise.all([
    prisma.crmLink.findMany({ where: { integrationId: integration.id, externalId: { in: ids } } }),
    emails.length ? prisma.lead.findMany({ where: { organizationId: integration.organizationId, email: { in: emails } }, select: { email: true } }) : [],
  ]);
  const linkById = new Map(links.map((l) => [l.externalId, l]));
  const knownEmails = new Set(leads.map((l) => l.email));
  const slow: number[] = [];
  const fresh: number[] = [];
  const seenEmails = new Set<string>();
  records.forEach((record, i) => {
    const link = linkById.get(record.externalId);
    const remote = canonicalFields(record.fields);
    if (link) {
      if (knownState(link, fieldsHash(remote))) outcomes[i] = 'unchanged';
      else slow.push(i);
      return;
    }
    const email = remote.email;
    if (!email || hasOwnOrigin(record, deps.platformTag) || knownEmails.has(email) || seenEmails.has(email)) {
      slow.push(i);
      return;
    }
    seenEmails.add(email);
    fresh.push(i);
  });

  if (fresh.length) {
    try {
      const now = new Date();
      const created = await prisma.$transaction(async (tx) => {
        const rows = await tx.lead.createManyAndReturn({
          data: fresh.map((i) => {
            const r = records[i];
            const f = canonicalFields(r.fields);
            return {
              organizationId: integration.organizationId,
              email: f.email!,
              firstName: f.firstName,
              lastName: f.lastName,
              phone: f.phone,
              company: f.company,
              status: f.status,
              sourceSystem: (r.originTag ?? '').trim().toLowerCase() || integration.provider.toLowerCase(),
              crmProvider: integration.provider,
              fieldsChangedAt: stampFieldTimes(null, [...SYNCED_FIELDS], r.updatedAt ?? now, r.fieldUpdatedAt),
              lastSyncDirection: 'from_crm' as const,
              lastSyncedAt: now,
            };
          }),
        });
        const leadByEmail = new Map(rows.map((l) => [l.email, l]));
        await tx.crmLink.createMany({
          data: fresh.map((i) => {
            const r = records[i];
            const f = canonicalFields(r.fields);
            return {
              leadId: leadByEmail.get(f.email!)!.id,
              integrationId: integration.id,
              externalId: r.externalId,
              remoteFields: asJson(f),
              lastPulledHash: fieldsHash(f),
              remoteUpdatedAt: r.updatedAt ?? undefined,
            };
          }),
        });
        const targets = await tx.integration.findMany({
          where: { organizationId: integration.organizationId, autoSync: true, id: { not: integration.id } },
          select: { id: true },
        });
        if (targets.length) {
          await tx.outboxItem.createMany({
            data: rows.flatMap((l) => targets.map((t) => ({ organizationId: l.organizationId, integrationId: t.id, leadId: l.id, leadVersion: l.syncVersion }))),
          });
        }
        return rows;
      });
      for (const i of fresh) outcomes[i] = 'created';
      deps.logger.info({ integrationId: integration.id, via, created: created.length }, `created ${created.length} lead(s) from ${integration.provider}`);
      for (const lead of created) await deps.pubsub.publish('lead.created', { organizationId: lead.organizationId, lead });
    } catch (e) {
      // Someone (a webhook, another instance) got there first: decide one by one.
      if (!isUniqueViolation(e)) throw e;
      slow.push(...fresh);
    }
  }
  for (const i of slow.sort((a, b) => a - b)) {
    outcomes[i] = (await applyRecord(deps, integration, records[i], via)).outcome;
  }
  return outcomes;
}
