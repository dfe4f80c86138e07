// New leads from CRM records: the one rule for a person first seen in a CRM, whether
// one record brought them (a webhook) or a page of them (import, poll).
import { SYNCED_FIELDS, type ChangeEvent, type CrmRecord, type LeadFields } from '../../adapters/contract.ts';
import type { Integration, Lead, PrismaClient } from '../generated/prisma/client.ts';
import type { Logger } from '../logger.ts';
import type { Connections } from './connections.ts';
import type { EngineContext } from './context.ts';
import { canonicalFields, stampFieldTimes } from './fields.ts';
import { createLinks, fanOut } from './links.ts';

/** What applying records reads of the engine's context (the adapters only for what a record of each CRM is called). */
export type ApplyDeps = Pick<EngineContext, 'prisma' | 'logger' | 'pubsub' | 'platformTag'> & { connections: Pick<Connections, 'noun'> };

/** One CRM record being applied, with what every rule reads of it. */
export interface Arrival {
  deps: ApplyDeps;
  integration: Integration;
  record: CrmRecord;
  event?: ChangeEvent;
  /** Its synced fields, canonical, and their hash. */
  remote: LeadFields;
  remoteHash: string;
  log: Logger;
}

type Tx = Pick<PrismaClient, 'lead' | 'crmLink' | 'integration' | 'outboxItem'>;

/** The noun a CRM uses for the records we sync, as log lines name them. */
export function recordNoun(deps: Pick<ApplyDeps, 'connections'>, integration: Pick<Integration, 'provider'>): string {
  return deps.connections.noun(integration.provider);
}

/** The lead row for a CRM record: its fields, each stamped with the CRM's time of it, and where it came from. */
function leadRow(integration: Integration, record: CrmRecord, now: Date) {
  const f = canonicalFields(record.fields);
  return {
    organizationId: integration.organizationId,
    email: f.email!,
    firstName: f.firstName,
    lastName: f.lastName,
    phone: f.phone,
    company: f.company,
    status: f.status,
    sourceSystem: (record.originTag ?? '').trim().toLowerCase() || integration.provider.toLowerCase(),
    crmProvider: integration.provider,
    fieldsChangedAt: stampFieldTimes(null, [...SYNCED_FIELDS], record.updatedAt ?? now, record.fieldUpdatedAt),
    lastSyncDirection: 'from_crm' as const,
    lastSyncedAt: now,
  };
}

/**
 * Creates one lead per record (each with an email no lead of the organization has, and
 * distinct among them), links each to its record and queues its push to the other
 * auto-sync CRMs, inside the caller's transaction. A unique violation means someone
 * created one of them first: the caller decides again. Returns the leads in record order.
 */
export async function createLeadsFromRecords(tx: Tx, integration: Integration, records: CrmRecord[], now = new Date()): Promise<Lead[]> {
  if (records.length === 0) return [];
  const rows = await tx.lead.createManyAndReturn({ data: records.map((r) => leadRow(integration, r, now)) });
  const byEmail = new Map(rows.map((l) => [l.email, l]));
  const leads = records.map((r) => byEmail.get(canonicalFields(r.fields).email!)!);
  await createLinks(tx, integration.id, leads.map((lead, i) => ({ leadId: lead.id, record: records[i] })));
  await fanOut(tx, leads, integration.id);
  return leads;
}
