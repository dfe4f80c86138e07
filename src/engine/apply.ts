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
import { hasOwnOrigin, type ChangeEvent, type CrmRecord, type LeadFields } from '../../adapters/contract.ts';
import type { CrmLink, Integration, Lead, Prisma, PrismaClient } from '../generated/prisma/client.ts';
import type { Logger } from '../logger.ts';
import { isUniqueViolation } from '../db/errors.ts';
import { asJson, canonicalFields, changedFields, changedSince, fieldsHash, readAllFieldTimes, readFieldTimes, readSnapshot, stampFieldTimes, type FieldPatch } from './fields.ts';
import { carriesExtraChanges, hasMappedChange, mappedFromCrm, noMappedChange, planFor, readRemoteExtra, withAttributes, type MappedChange } from './mapped-fields.ts';
import { recordUnmappable } from './mapping-warnings.ts';
import { recordNoun, type ApplyDeps, type Arrival } from './from-crm.ts';
import { applyUnlinked } from './apply-unlinked.ts';
import { enqueueForOtherIntegrations, touchLink } from './links.ts';
import type { ApplyResult, ApplyVia } from './outcomes.ts';
import { overwrittenEdits } from './overwritten.ts';
import { settleLateWrites, staleEchoes } from './pending-writes.ts';

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
  if (link && event?.kind === 'created' && ownOrigin && !carriesCrmChanges(link.remoteFields, remote) && !carriesExtraChanges(link.remoteExtra, record)) {
    // The creation webhook of a record we created (and already linked), holding what
    // we wrote. One that holds more (a CRM automation or a person edited the record
    // before the notification went out, which some CRMs still call a creation) is
    // compared below like any change.
    log.info({ leadId: link.leadId }, `skipping ${recordNoun(deps, integration)} ${record.externalId}, originated from our platform`);
    // Learn what the CRM filled in that we did not write (defaults such as a status),
    // so a later change of those fields is recognised as a change.
    await touchLink(prisma, link, remote, remoteHash, record.updatedAt);
    return { outcome: 'skipped_own_origin', leadId: link.leadId };
  }


  const plan = planFor(deps.connections.adapter(integration.provider), integration);
  const arrival: Arrival = { deps, integration, record, event, remote, remoteHash, log, plan, via };
  if (link) return applyLinked(arrival, link);
  return applyUnlinked(arrival, via, ownOrigin);
}

/** A record already linked to a lead: what the CRM changed since we last knew is applied, unless ours is newer. */
async function applyLinked(arrival: Arrival, link: CrmLink & { lead: Lead }): Promise<ApplyResult> {
  const { deps, integration, record, event, remote, remoteHash, log, plan } = arrival;
  const { prisma } = deps;
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
  // Fields the mappings do not take from this CRM (to the CRM only, unmapped, or mapped
  // through another CRM field) are not applied from the adapter's own fields.
  for (const k of plan.notFromCrm) delete crmChanged[k];
  // Our own unanswered write landing late is no change to apply (pending-writes.ts).
  const late = staleEchoes(link, lead, remote, crmChanged);
  if (late.changed) await settleLateWrites(prisma, link, lead, integration, remote, late);
  for (const k of late.stale) delete crmChanged[k];
  if (late.stale.length) log.info({ leadId: lead.id, fields: late.stale }, 'skipped: our own earlier write applied late by the CRM; pushing the newer value');
  // A person's edit that a write of ours then overwrote is the newest change of its
  // field (overwritten.ts): applied here, and written back to the CRM below.
  const restored = event?.ownOrigin ? { fields: {}, at: {} } : overwrittenEdits(record, lead, remote, readFieldTimes(lead.fieldsChangedAt), lead.updatedAt);
  for (const k of plan.notFromCrm) delete (restored.fields as Partial<LeadFields>)[k];
  const restoredKeys = Object.keys(restored.fields) as (keyof LeadFields)[];
  if (restoredKeys.length > 0) {
    Object.assign(crmChanged, restored.fields);
    log.info({ leadId: lead.id, fields: restoredKeys }, "a person's edit was overwritten by our earlier write: applying it and writing it back");
  }
  const diff = changedFields(lead, { ...lead, ...crmChanged });
  // The mapped fields beyond the six, each compared on its own (mapped-fields.ts).
  const mapped = event?.ownOrigin || plan.extra.length === 0 ? noMappedChange(readRemoteExtra(link.remoteExtra)) : mappedFromCrm(plan, link, lead, record, readAllFieldTimes(lead.fieldsChangedAt));
  await recordUnmappable(deps, integration, 'inbound', arrival.via, lead.id, record.externalId, mapped.unmappable);
  if (event?.ownOrigin || ((Object.keys(crmChanged).length === 0 || Object.keys(diff).length === 0) && !hasMappedChange(mapped))) {
    // Nothing new: the echo of our own write when the CRM's state moved since we last
    // read it (our push moved it), otherwise a repeat of what we know.
    const echo = Boolean(event?.ownOrigin) || (link.lastPushedAt !== null && link.lastPulledHash !== remoteHash);
    await touchLink(prisma, link, remote, remoteHash, record.updatedAt, mapped.snapshot);
    if (mapped.writeBack) await writeBack(deps, integration, lead, log);
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
  // A mapping's conflict rule may say otherwise: crm_wins applies the CRM's value,
  // platform_wins keeps the platform's and writes it back.
  let toApply = diff;
  let platformKept = false;
  const localChanged = base ? changedSince(base, lead) : diff;
  const contested = Object.keys(diff).filter((k) => k in localChanged) as (keyof LeadFields)[];
  const ruleOf = (k: keyof LeadFields) => plan.fixed.get(k)?.conflict ?? 'newest';
  const pending = contested.some((k) => ruleOf(k) !== 'crm_wins') && (await hasPendingPush(prisma, lead.id, integration.id));
  if (contested.length > 0) {
    const localTimes = readFieldTimes(lead.fieldsChangedAt);
    const kept = contested.filter((k) => {
      if (ruleOf(k) === 'crm_wins') return false;
      if (ruleOf(k) === 'platform_wins') return true;
      if (!pending) return false;
      const crmAt = record.fieldUpdatedAt?.[k] ?? record.updatedAt;
      return crmAt !== null && (localTimes[k] ?? lead.updatedAt) > crmAt;
    });
    platformKept = !pending && kept.some((k) => ruleOf(k) === 'platform_wins');
    toApply = Object.fromEntries(Object.entries(diff).filter(([k]) => !kept.includes(k as keyof LeadFields))) as Partial<LeadFields>;
    if (Object.keys(toApply).length === 0 && !hasMappedChange(mapped)) {
      log.info({ leadId: lead.id }, 'skipped: local change is newer than the CRM change');
      if (platformKept || mapped.writeBack) {
        // The platform's value wins by its mapping's rule: the CRM gets it back.
        await touchLink(prisma, link, remote, remoteHash, record.updatedAt, mapped.snapshot);
        await writeBack(deps, integration, lead, log);
      }
      return { outcome: 'skipped_stale', leadId: lead.id };
    }
    if (kept.length > 0) log.info({ leadId: lead.id, kept, applied: Object.keys(toApply) }, 'local change is newer for some fields: applying the CRM change of the others');
  }
  // Synced fields set through extra mappings (value maps, other CRM fields).
  toApply = { ...toApply, ...changedFields(lead, { ...lead, ...mapped.fields }) };
  const times = { updatedAt: record.updatedAt, fieldUpdatedAt: { ...record.fieldUpdatedAt, ...restored.at, ...mapped.times } };
  // Where a restored edit is applied, the CRM holds our older value: the push goes to
  // this CRM too, in the same transaction (so does a platform value kept by its rule).
  const pushBack = restoredKeys.some((k) => k in toApply) || platformKept || mapped.writeBack;
  const updated = await updateLeadFromCrm(deps, integration, lead, toApply, link.id, remote, remoteHash, times, log, pushBack, mapped);
  return { outcome: 'updated', leadId: updated.id };
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
  pushBack = false,
  mapped: MappedChange = noMappedChange(),
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
  const attributeKeys = Object.keys(mapped.attributes);
  const stamped = [...Object.keys(data), ...attributeKeys.map((k) => `attributes.${k}`)];
  const updated = await prisma.$transaction(async (tx) => {
    const u = await tx.lead.update({
      where: { id: lead.id },
      data: {
        ...data,
        ...(attributeKeys.length ? { attributes: withAttributes(lead.attributes, mapped.attributes) } : {}),
        syncVersion: { increment: 1 },
        fieldsChangedAt: stampFieldTimes(lead.fieldsChangedAt, stamped, record.updatedAt ?? new Date(), record.fieldUpdatedAt),
        lastSyncDirection: 'from_crm',
        lastSyncedAt: new Date(),
        crmProvider: lead.crmProvider ?? integration.provider,
      },
    });
    await tx.crmLink.update({
      where: { id: linkId },
      data: {
        remoteFields: asJson(remote),
        ...(Object.keys(mapped.snapshot).length ? { remoteExtra: mapped.snapshot as Prisma.InputJsonValue } : {}),
        lastPulledHash: remoteHash,
        lastPushedHash: null,
        remoteUpdatedAt: remoteUpdatedAt ?? undefined,
      },
    });
    await enqueueForOtherIntegrations(tx, u, pushBack ? null : integration.id);
    return u;
  });
  log.info({ leadId: lead.id, fields: [...Object.keys(data), ...attributeKeys.map((k) => `attributes.${k}`)] }, `updated lead ${lead.id} from ${recordNoun(deps, integration)}`);
  await deps.pubsub.publish('lead.updated', { organizationId: updated.organizationId, lead: updated });
  return updated;
}

/** Queues a push of the lead to this CRM: a platform value won over the CRM's by its mapping's rule. */
async function writeBack(deps: ApplyDeps, integration: Integration, lead: Lead, log: Logger) {
  await deps.prisma.outboxItem.create({ data: { organizationId: lead.organizationId, integrationId: integration.id, leadId: lead.id, leadVersion: lead.syncVersion } });
  log.info({ leadId: lead.id }, 'the platform value wins by its mapping: writing it back to the CRM');
}

async function hasPendingPush(prisma: PrismaClient, leadId: string, integrationId: string) {
  return (await prisma.outboxItem.count({ where: { leadId, integrationId, status: { in: ['pending', 'processing'] } } })) > 0;
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
