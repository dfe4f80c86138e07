// New leads from CRM records: the one rule for a person first seen in a CRM, whether
// one record brought them (a webhook) or a page of them (import, poll).
import type { ChangeEvent, CrmRecord, LeadFields } from '../../adapters/contract.ts';
import type { Integration, Lead, PrismaClient } from '../generated/prisma/client.ts';
import type { Logger } from '../logger.ts';
import type { Connections } from './connections.ts';
import type { EngineContext } from './context.ts';
import { insertLeadsFromRecords } from './lead-store.ts';

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

type Tx = Pick<PrismaClient, '$queryRawUnsafe'>;

/** The noun a CRM uses for the records we sync, as log lines name them. */
export function recordNoun(deps: Pick<ApplyDeps, 'connections'>, integration: Pick<Integration, 'provider'>): string {
  return deps.connections.noun(integration.provider);
}

/**
 * Creates one lead per record (each with an email no lead of the organization has, and
 * distinct among them), links each to its record and queues its push to the other
 * auto-sync CRMs, in one statement (lead-store.ts), inside the caller's transaction when
 * it runs in one. A unique violation means someone created one of them first: nothing is
 * written and the caller decides again. Returns the leads in record order.
 */
export function createLeadsFromRecords(db: Tx, integration: Integration, records: CrmRecord[], now = new Date()): Promise<Lead[]> {
  return insertLeadsFromRecords(db, integration, records, now);
}
