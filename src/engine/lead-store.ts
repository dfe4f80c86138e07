// New leads from CRM records in ONE statement: the leads, their links to the records and
// their pushes to the organization's other auto-sync CRMs are inserted by a single SQL
// statement, atomic on its own. Written in SQL because this is the statement every page
// of an import and every new person of a webhook batch pays for: profiled on an import,
// Prisma's per-row work for three bulk inserts (1,400 bound values for 100 leads) cost
// more than the inserts themselves.
import { timeOrderedId } from './ids.ts';
import { SYNCED_FIELDS, type CrmRecord } from '../../adapters/contract.ts';
import type { CrmLink, Integration, Lead, PrismaClient } from '../generated/prisma/client.ts';
import { canonicalFields, fieldsHash, stampFieldTimes } from './fields.ts';
import { directSql } from '../db/direct-sql.ts';

/** Prisma stores DateTime as UTC wall time in timestamp(3) columns: the same text here. */
export function wallTime(d: Date): string {
  return d.toISOString().replace('T', ' ').replace('Z', '');
}

/**
 * Inserts one lead per record (each with an email no lead of the organization has, and
 * distinct among them), links each to its record and queues its push to the other
 * auto-sync CRMs. A unique violation (someone created one of them first) fails the whole
 * statement: nothing is written and the caller decides again. Returns the leads in record
 * order, as the rows now hold them.
 */
export async function insertLeadsFromRecords(
  db: Pick<PrismaClient, '$queryRawUnsafe'>,
  integration: Pick<Integration, 'id' | 'organizationId' | 'provider'>,
  records: readonly CrmRecord[],
  now = new Date(),
): Promise<Lead[]> {
  if (records.length === 0) return [];
  const leads: Lead[] = records.map((record) => {
    const f = canonicalFields(record.fields);
    return {
      id: timeOrderedId(),
      organizationId: integration.organizationId,
      email: f.email!,
      firstName: f.firstName,
      lastName: f.lastName,
      phone: f.phone,
      company: f.company,
      status: f.status,
      // Where the person was first created: the origin tag the record carries, else this CRM.
      sourceSystem: (record.originTag ?? '').trim().toLowerCase() || integration.provider.toLowerCase(),
      crmProvider: integration.provider,
      lastSyncDirection: 'from_crm',
      lastSyncedAt: now,
      syncVersion: 1,
      fieldsChangedAt: stampFieldTimes(null, [...SYNCED_FIELDS], record.updatedAt ?? now, record.fieldUpdatedAt),
      attributes: {},
      crmDeletedAt: null,
      createdAt: now,
      updatedAt: now,
    };
  });
  const remotes = records.map((r) => canonicalFields(r.fields));
  const at = wallTime(now);
  await directSql(db)(
    `WITH v AS (
       SELECT * FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
                            $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[])
         AS v(lead_id, email, first_name, last_name, phone, company, status, source_system, field_times,
              link_id, external_id, remote_fields, pulled_hash, remote_updated_at)
     ), leads AS (
       INSERT INTO "Lead" (id, "organizationId", email, "firstName", "lastName", phone, company, status, "sourceSystem",
                           "crmProvider", "lastSyncDirection", "lastSyncedAt", "syncVersion", "fieldsChangedAt", "createdAt", "updatedAt")
       SELECT lead_id, $1, email, first_name, last_name, phone, company, status, source_system,
              $3::"CrmProvider", 'from_crm'::"SyncDirection", $18::timestamp, 1, field_times::jsonb, $18::timestamp, $18::timestamp
       FROM v
       RETURNING id
     ), links AS (
       INSERT INTO "CrmLink" (id, "leadId", "integrationId", "externalId", "remoteFields", "lastPulledHash", "remoteUpdatedAt",
                              "createdAt", "updatedAt")
       SELECT link_id, lead_id, $2, external_id, remote_fields::jsonb, pulled_hash, remote_updated_at::timestamp,
              $18::timestamp, $18::timestamp
       FROM v
       RETURNING 1
     ), pushes AS (
       INSERT INTO "OutboxItem" (id, "organizationId", "integrationId", "leadId", "leadVersion", "nextAttemptAt", "createdAt", "updatedAt")
       SELECT gen_random_uuid()::text, $1, t.id, v.lead_id, 1, $18::timestamp, $18::timestamp, $18::timestamp
       FROM v CROSS JOIN "Integration" t
       WHERE t."organizationId" = $1 AND t."autoSync" AND t.id <> $2
       RETURNING 1
     )
     SELECT (SELECT count(*) FROM leads)::int AS leads, (SELECT count(*) FROM links)::int AS links,
            (SELECT count(*) FROM pushes)::int AS pushes`,
    [integration.organizationId,
    integration.id,
    integration.provider,
    leads.map((l) => l.id),
    leads.map((l) => l.email),
    leads.map((l) => l.firstName),
    leads.map((l) => l.lastName),
    leads.map((l) => l.phone),
    leads.map((l) => l.company),
    leads.map((l) => l.status),
    leads.map((l) => l.sourceSystem),
    leads.map((l) => JSON.stringify(l.fieldsChangedAt)),
    records.map(() => timeOrderedId()),
    records.map((r) => r.externalId),
    remotes.map((f) => JSON.stringify(f)),
    remotes.map((f) => fieldsHash(f)),
    records.map((r) => (r.updatedAt ? wallTime(r.updatedAt) : null)),
    at],
  );
  return leads;
}

/** What matching a record needs of its link: the lead, and the state the link knows (links.ts knownState). */
export type LinkState = Pick<CrmLink, 'externalId' | 'leadId' | 'lastPulledHash' | 'remoteFields' | 'remoteExtra' | 'remoteDeletedAt'>;

/**
 * Everything a batch of records is matched against, in ONE query: the links of the
 * integration to these records, and which of these emails a lead of the organization
 * already has.
 */
export async function readMatches(
  db: Pick<PrismaClient, '$queryRawUnsafe'>,
  integration: Pick<Integration, 'id' | 'organizationId'>,
  externalIds: readonly string[],
  emails: readonly string[],
): Promise<{ links: LinkState[]; knownEmails: Set<string> }> {
  const rows = await directSql(db)<
    { link: boolean; key: string; leadId: string | null; lastPulledHash: string | null; remoteFields: CrmLink['remoteFields']; remoteExtra: CrmLink['remoteExtra']; remoteDeletedAt: Date | null }
  >(
    // One index probe per value (LATERAL ... LIMIT 1: a nested loop over the list, on the
    // unique indexes). PGlite runs no autovacuum, so its tables have no statistics, and
    // for `email = ANY(list)` or a join the planner guessed a scan of every lead of the
    // organization: a cost that grew with every page of an import.
    `SELECT true AS link, l."externalId" AS key, l."leadId", l."lastPulledHash", l."remoteFields", l."remoteExtra", l."remoteDeletedAt"
     FROM unnest($2::text[]) AS x(id)
     CROSS JOIN LATERAL (SELECT * FROM "CrmLink" WHERE "integrationId" = $1 AND "externalId" = x.id LIMIT 1) l
     UNION ALL
     SELECT false, d.email, NULL, NULL, NULL, NULL, NULL
     FROM unnest($4::text[]) AS e(email)
     CROSS JOIN LATERAL (SELECT email FROM "Lead" WHERE "organizationId" = $3 AND email = e.email LIMIT 1) d`,
    [integration.id, [...externalIds], integration.organizationId, [...emails]],
  );
  const links: LinkState[] = [];
  const knownEmails = new Set<string>();
  for (const r of rows) {
    if (r.link) links.push({ externalId: r.key, leadId: r.leadId!, lastPulledHash: r.lastPulledHash, remoteFields: r.remoteFields, remoteExtra: r.remoteExtra, remoteDeletedAt: r.remoteDeletedAt });
    else knownEmails.add(r.key);
  }
  return { links, knownEmails };
}
