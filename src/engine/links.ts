// Links between leads and CRM records, and the fan-out of a lead change to the other
// CRMs. Every path that links a record (webhook, import, poll, read-back) or queues
// pushes (platform edits, CRM changes) writes them through these functions.
import { SYNCED_FIELDS, type CrmRecord, type FieldValue, type LeadFields } from '../../adapters/contract.ts';
import type { CrmLink, Lead, Prisma, PrismaClient } from '../generated/prisma/client.ts';
import { asJson, canonicalFields, fieldsHash, readSnapshot } from './fields.ts';

type LinkTx = Pick<PrismaClient, 'crmLink'>;
type FanOutTx = Pick<PrismaClient, 'integration' | 'outboxItem'>;

/** The row of a new link of `leadId` to `record`, holding what the record holds now. */
export function linkRow(leadId: string, integrationId: string, record: CrmRecord) {
  const remote = canonicalFields(record.fields);
  return {
    leadId,
    integrationId,
    externalId: record.externalId,
    remoteFields: asJson(remote),
    lastPulledHash: fieldsHash(remote),
    lastPushedHash: null,
    remoteUpdatedAt: record.updatedAt ?? undefined,
    // The mapped fields beyond the six the record was read with (mapped-fields.ts).
    ...(record.extra && Object.keys(record.extra).length ? { remoteExtra: record.extra as Prisma.InputJsonValue } : {}),
  };
}

/** Links a lead to a CRM record (read from the CRM): the link knows the record's current state. */
export async function createLink(tx: LinkTx, leadId: string, integrationId: string, record: CrmRecord): Promise<void> {
  await tx.crmLink.create({ data: linkRow(leadId, integrationId, record) });
}

/**
 * Records what the CRM holds now (and of the mapped fields beyond the six, `remoteExtra`);
 * no write when the link knows exactly that already.
 */
export async function touchLink(
  prisma: LinkTx,
  link: CrmLink,
  remote: LeadFields,
  remoteHash: string,
  remoteUpdatedAt: Date | null,
  remoteExtra?: Record<string, FieldValue>,
): Promise<void> {
  const base = readSnapshot(link.remoteFields);
  const sameTime = remoteUpdatedAt === null || link.remoteUpdatedAt?.getTime() === remoteUpdatedAt.getTime();
  const extraKnown = remoteExtra === undefined || JSON.stringify(remoteExtra) === JSON.stringify(link.remoteExtra ?? {});
  if (link.lastPulledHash === remoteHash && isComplete(base) && fieldsHash(base) === remoteHash && sameTime && extraKnown) return;
  await prisma.crmLink.update({
    where: { id: link.id },
    data: {
      remoteFields: asJson(remote),
      lastPulledHash: remoteHash,
      remoteUpdatedAt: remoteUpdatedAt ?? undefined,
      ...(remoteExtra && !extraKnown ? { remoteExtra: remoteExtra as Prisma.InputJsonValue } : {}),
    },
  });
}

/** True when the lead is linked to a record of the integration. */
export async function linkedTo(prisma: LinkTx, leadId: string, integrationId: string): Promise<boolean> {
  return (await prisma.crmLink.count({ where: { leadId, integrationId } })) > 0;
}

/** True when a snapshot knows every synced field. */
export function isComplete(snapshot: Partial<LeadFields> | null): snapshot is LeadFields {
  return snapshot !== null && SYNCED_FIELDS.every((k) => k in snapshot);
}

/**
 * True when a linked record's current state is one the link knows already: what we last
 * read, or exactly what the CRM holds as far as we know (after our own write). Such a
 * record needs no decision and no write (import and poll re-reads).
 */
export function knownState(link: Pick<CrmLink, 'remoteDeletedAt' | 'lastPulledHash' | 'remoteFields'>, remoteHash: string): boolean {
  if (link.remoteDeletedAt) return false;
  if (link.lastPulledHash === remoteHash) return true;
  const base = readSnapshot(link.remoteFields);
  return isComplete(base) && fieldsHash(base) === remoteHash;
}

/**
 * Queues a push of each lead (at its current version) to every auto-sync integration of
 * its organization still connected (or waiting to be reconnected) except `exceptIntegrationId` (the CRM the change came from, if any).
 * The leads are of one organization. Returns the number of pushes queued.
 */
export async function fanOut(tx: FanOutTx, leads: Pick<Lead, 'id' | 'organizationId' | 'syncVersion'>[], exceptIntegrationId: string | null): Promise<number> {
  if (leads.length === 0) return 0;
  const targets = await tx.integration.findMany({
    // A disconnected integration takes no push; one waiting for its customer to reconnect
    // queues them (held until then).
    where: { organizationId: leads[0].organizationId, autoSync: true, connectionState: { not: 'disconnected' }, ...(exceptIntegrationId ? { id: { not: exceptIntegrationId } } : {}) },
    select: { id: true },
  });
  if (targets.length === 0) return 0;
  await tx.outboxItem.createMany({
    data: leads.flatMap((lead) => targets.map((t) => ({ organizationId: lead.organizationId, integrationId: t.id, leadId: lead.id, leadVersion: lead.syncVersion }))),
  });
  return leads.length * targets.length;
}

/** Queues a push of `lead` to every auto-sync integration of its organization except `exceptIntegrationId`. */
export function enqueueForOtherIntegrations(tx: FanOutTx, lead: Pick<Lead, 'id' | 'organizationId' | 'syncVersion'>, exceptIntegrationId: string | null): Promise<number> {
  return fanOut(tx, [lead], exceptIntegrationId);
}
