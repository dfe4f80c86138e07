// Records the leads a push call wrote: their link to the CRM record (what the CRM holds
// now, the hash pushed), their outbox items done, the lead's last sync. The leads of one
// call are recorded together, in ONE transaction of a few statements whatever their number
// (a statement per lead was most of a push's time on the embedded database); a lead whose
// CRM record is already linked to another lead (two leads of one person) is recorded on its
// own, where that conflict is shown rather than guessed.
import { CrmError, type OutboundLead, type WriteResult } from '../../adapters/contract.ts';
import { Prisma, type CrmLink, type Integration, type Lead, type PrismaClient } from '../generated/prisma/client.ts';
import type { Logger } from '../logger.ts';
import { isUniqueViolation } from '../db/errors.ts';
import { asJson, readSnapshot, toSnapshot } from './fields.ts';
import { readRemoteExtra } from './mapped-fields.ts';
import { recordPush, retryOrFail, type PassDeps, type ToPush } from './outbox-steps.ts';
import { doneColumns } from './queue.ts';
import type { PendingWrite } from './pending-writes.ts';

type Success = Extract<WriteResult, { ok: true }>;

/** A lead the CRM call wrote: its push, the adapter's answer, its link before, the writes a new link inherits. */
export interface Written {
  p: ToPush;
  r: Success;
  link: CrmLink | undefined;
  inherited: PendingWrite[];
}

export async function settleWritten(deps: PassDeps, integration: Integration, written: Written[], log: Logger): Promise<void> {
  if (written.length === 0) return;
  const { prisma } = deps;
  // Records linked to another lead already, or twice in this call, are recorded one by one.
  const taken = await prisma.crmLink.findMany({
    where: { integrationId: integration.id, externalId: { in: [...new Set(written.map((w) => w.r.externalId))] } },
    select: { leadId: true, externalId: true },
  });
  const owner = new Map(taken.map((t) => [t.externalId, t.leadId]));
  const together: Written[] = [];
  const alone: Written[] = [];
  const seen = new Set<string>();
  for (const w of written) {
    const o = owner.get(w.r.externalId);
    if ((o && o !== w.p.lead.id) || seen.has(w.r.externalId)) alone.push(w);
    else {
      seen.add(w.r.externalId);
      together.push(w);
    }
  }
  const now = new Date();
  let leads: Lead[] = [];
  if (together.length > 0) {
    try {
      leads = await recordTogether(prisma, integration, together, now);
    } catch (e) {
      // A link made (or removed) meanwhile by another worker: nothing was recorded; one by
      // one (an upsert each) records them, and shows which record is linked elsewhere.
      if (!isUniqueViolation(e) && !isRecordGone(e)) throw e;
      alone.unshift(...together.splice(0));
    }
  }
  const byId = new Map(leads.map((l) => [l.id, l]));
  for (const w of together) await announce(deps, integration, w, byId.get(w.p.lead.id), log);
  for (const w of alone) await recordAlone(deps, integration, w, now, log);
}

function remoteFieldsOf(w: Written) {
  // What the CRM holds now: what we knew, overlaid with what this write set (as the
  // adapter reports it, empty fields included) — never a read made after the write,
  // which may already hold a person's edit. The last-read hash is dropped with it, so
  // the next read is compared field by field with what we wrote.
  return asJson({ ...(readSnapshot(w.link?.remoteFields) ?? {}), ...toSnapshot(w.r.written ?? withoutSkipped(w.p.outbound)) });
}

/** Likewise for the mapped fields beyond the six (mapped-fields.ts): what this write set, over what we knew. */
function remoteExtraOf(w: Written): { remoteExtra?: Prisma.InputJsonValue } {
  if (!w.p.outbound.extra) return {};
  return { remoteExtra: { ...readRemoteExtra(w.link?.remoteExtra), ...(w.r.writtenExtra ?? w.p.outbound.extra) } as Prisma.InputJsonValue };
}

/** The fields of a write the adapter was told to leave alone are not what the CRM holds. */
function withoutSkipped(o: OutboundLead): Partial<OutboundLead['fields']> {
  const out: Partial<OutboundLead['fields']> = { ...o.fields };
  for (const k of o.skip ?? []) delete out[k];
  return out;
}

async function recordTogether(prisma: PrismaClient, integration: Integration, list: Written[], now: Date): Promise<Lead[]> {
  return prisma.$transaction(async (tx) => {
    const fresh = list.filter((w) => !w.link);
    if (fresh.length > 0) {
      await tx.crmLink.createMany({
        data: fresh.map((w) => ({
          leadId: w.p.lead.id,
          integrationId: integration.id,
          externalId: w.r.externalId,
          remoteFields: remoteFieldsOf(w),
          ...remoteExtraOf(w),
          lastPushedHash: w.p.hash,
          lastPushedAt: now,
          // Earlier writes of this lead whose answer never came may still land late.
          ...pendingOf(w.inherited),
        })),
      });
    }
    for (const w of list.filter((x) => x.link)) {
      await tx.crmLink.update({
        where: { leadId_integrationId: { leadId: w.p.lead.id, integrationId: integration.id } },
        data: { externalId: w.r.externalId, remoteFields: remoteFieldsOf(w), ...remoteExtraOf(w), lastPushedHash: w.p.hash, lastPushedAt: now, lastPulledHash: null },
      });
    }
    const byAction = new Map<string, string[]>();
    for (const w of list) byAction.set(w.r.action, [...(byAction.get(w.r.action) ?? []), ...w.p.items.map((i) => i.id)]);
    for (const [action, ids] of byAction) {
      await tx.outboxItem.updateMany({ where: { id: { in: ids } }, data: { status: 'done', doneAt: now, result: action, ...doneColumns() } });
    }
    const leadIds = list.map((w) => w.p.lead.id);
    await tx.lead.updateMany({ where: { id: { in: leadIds } }, data: { lastSyncDirection: 'to_crm', lastSyncedAt: now } });
    await tx.lead.updateMany({ where: { id: { in: leadIds }, crmProvider: null }, data: { crmProvider: integration.provider } });
    return tx.lead.findMany({ where: { id: { in: leadIds } } });
  });
}

async function announce(deps: PassDeps, integration: Integration, w: Written, lead: Lead | undefined, log: Logger): Promise<void> {
  const { p, r } = w;
  log.info({ leadId: p.lead.id, externalId: r.externalId, action: r.action }, `${r.action} ${integration.provider} record ${r.externalId} for lead ${p.lead.id}`);
  recordPush(deps, integration, p.items, { kind: r.action, status: 'succeeded', externalId: r.externalId });
  if (lead) await deps.pubsub.publish('lead.updated', { organizationId: lead.organizationId, lead });
}

/** One lead's record, in its own transaction; a record linked to another lead fails it with CONFLICT. */
async function recordAlone(deps: PassDeps, integration: Integration, w: Written, now: Date, log: Logger): Promise<void> {
  const { prisma } = deps;
  const { p, r } = w;
  try {
    const remoteFields = remoteFieldsOf(w);
    const lead = await prisma.$transaction(async (tx) => {
      await tx.crmLink.upsert({
        where: { leadId_integrationId: { leadId: p.lead.id, integrationId: integration.id } },
        create: {
          leadId: p.lead.id,
          integrationId: integration.id,
          externalId: r.externalId,
          remoteFields,
          ...remoteExtraOf(w),
          lastPushedHash: p.hash,
          lastPushedAt: now,
          ...pendingOf(w.link ? [] : w.inherited),
        },
        update: { externalId: r.externalId, remoteFields, ...remoteExtraOf(w), lastPushedHash: p.hash, lastPushedAt: now, lastPulledHash: null },
      });
      await tx.outboxItem.updateMany({
        where: { id: { in: p.items.map((x) => x.id) } },
        data: { status: 'done', doneAt: now, result: r.action, ...doneColumns() },
      });
      return tx.lead.update({
        where: { id: p.lead.id },
        data: { lastSyncDirection: 'to_crm', lastSyncedAt: now, crmProvider: p.lead.crmProvider ?? integration.provider },
      });
    });
    await announce(deps, integration, w, lead, log);
  } catch (e) {
    if (isUniqueViolation(e)) {
      // That CRM record is already linked to another lead: a person with two leads
      // would follow. Stop and show it rather than guess.
      await retryOrFail(deps, p.items, new CrmError('CONFLICT', `CRM record ${r.externalId} is already linked to another lead`, { retryable: false }), log);
      return;
    }
    throw e;
  }
}

/** An update found no row (Prisma P2025): the link was removed since the push was claimed. */
function isRecordGone(e: unknown): boolean {
  return e instanceof Prisma.PrismaClientKnownRequestError && e.code === 'P2025';
}

function pendingOf(list: PendingWrite[]): { pendingWrites?: Prisma.InputJsonValue } {
  return list.length > 0 ? { pendingWrites: list as unknown as Prisma.InputJsonValue } : {};
}
