// New leads from CRM records: the one rule for a person first seen in a CRM, whether
// one record brought them (a webhook) or a page of them (import, poll).
import type { ChangeEvent, CrmRecord, LeadFields } from '../../adapters/contract.ts';
import type { Integration, Lead, PrismaClient } from '../generated/prisma/client.ts';
import type { Logger } from '../logger.ts';
import type { Connections } from './connections.ts';
import type { EngineContext } from './context.ts';
import { insertLeadsFromRecords } from './lead-store.ts';
import { directSql } from '../db/direct-sql.ts';
import type { MappingPlan, Unmappable } from './mappings.ts';
import { inboundFields, mappedFromCrm, noMappedChange, withAttributes } from './mapped-fields.ts';
import type { ApplyVia } from './outcomes.ts';

/** What applying records reads of the engine's context (the adapters only for what a record of each CRM is called). */
export type ApplyDeps = Pick<EngineContext, 'prisma' | 'logger' | 'pubsub' | 'platformTag'> & { connections: Pick<Connections, 'noun' | 'adapter'> };

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
  /** The integration's field mappings (mapped-fields.ts). */
  plan: MappingPlan;
  via: ApplyVia;
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
export async function createLeadsFromRecords(
  db: Tx,
  integration: Integration,
  records: CrmRecord[],
  now = new Date(),
  /** The integration's field mappings; `unmappable` receives, per record, the values they could not carry. */
  mapping?: { plan: MappingPlan; unmappable?: Unmappable[][] },
): Promise<Lead[]> {
  const plan = mapping?.plan;
  if (!plan || (plan.extra.length === 0 && plan.notFromCrm.size === 0)) return insertLeadsFromRecords(db, integration, records, now);
  // The mappings decide what a new lead takes from the record: fields not read from this
  // CRM stay blank, fields mapped through other CRM fields (value maps) and attributes are
  // set from the record's extra values.
  const changes = records.map((r) => (plan.extra.length ? mappedFromCrm(plan, null, null, r, {}) : noMappedChange()));
  const shaped = records.map((r, i) => ({ ...r, fields: inboundFields(plan, r.fields, changes[i]) }));
  const leads = await insertLeadsFromRecords(db, integration, shaped, now);
  changes.forEach((c, i) => mapping.unmappable && (mapping.unmappable[i] = c.unmappable));
  const withAttrs = leads.map((lead, i) => ({ lead, attributes: withAttributes({}, changes[i].attributes), extra: changes[i].snapshot }));
  const attrRows = withAttrs.filter((x) => Object.keys(x.attributes).length > 0);
  if (attrRows.length) {
    await directSql(db)(`UPDATE "Lead" AS l SET "attributes" = v.a::jsonb FROM unnest($1::text[], $2::text[]) AS v(id, a) WHERE l."id" = v.id`, [
      attrRows.map((x) => x.lead.id),
      attrRows.map((x) => JSON.stringify(x.attributes)),
    ]);
  }
  const extraRows = withAttrs.filter((x) => Object.keys(x.extra).length > 0);
  if (extraRows.length) {
    await directSql(db)(
      `UPDATE "CrmLink" AS c SET "remoteExtra" = v.x::jsonb FROM unnest($1::text[], $2::text[]) AS v(id, x) WHERE c."leadId" = v.id AND c."integrationId" = $3`,
      [extraRows.map((x) => x.lead.id), extraRows.map((x) => JSON.stringify(x.extra)), integration.id],
    );
  }
  return withAttrs.map((x) => ({ ...x.lead, attributes: x.attributes }));
}
