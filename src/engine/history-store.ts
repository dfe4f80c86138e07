// Sync history rows written with ONE SQL statement: every worker pass, import page and
// poll page ends with it. Written in SQL because Prisma's createManyAndReturn cost more
// than the insert itself on an import (its per-row work for 100 rows of 16 values, then
// parsing the 100 rows it returned); the rows are built here, so nothing is read back.
import { timeOrderedId } from './ids.ts';
import type { PrismaClient, SyncEvent } from '../generated/prisma/client.ts';
import { wallTime } from './lead-store.ts';
import { directSql } from '../db/direct-sql.ts';

type Db = Pick<PrismaClient, '$queryRawUnsafe'>;

/** A history row to write: every column but the ones this function fills (id, retriedAt). */
export type SyncEventRow = Omit<SyncEvent, 'id' | 'retriedAt'>;

/**
 * Inserts the rows in one statement (atomic: all or none) and returns them as stored, in
 * the given order, each with a new id.
 */
export async function insertSyncEvents(db: Db, rows: readonly SyncEventRow[]): Promise<SyncEvent[]> {
  if (rows.length === 0) return [];
  const events: SyncEvent[] = rows.map((r) => ({ id: timeOrderedId(), ...r, retriedAt: null }));
  const col = <K extends keyof SyncEvent>(k: K) => events.map((e) => e[k]);
  await directSql(db)(
    `INSERT INTO "SyncEvent" (id, "organizationId", "integrationId", provider, "leadId", direction, kind, status, reason,
                              "errorCode", error, "externalId", via, "inboxEventId", "outboxItemId", "createdAt")
     SELECT id, organization_id, integration_id, provider::"CrmProvider", lead_id, direction::"SyncEventDirection", kind,
            status::"SyncEventStatus", reason, error_code, error, external_id, via, inbox_event_id, outbox_item_id,
            created_at::timestamp
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
                 $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[])
       AS v(id, organization_id, integration_id, provider, lead_id, direction, kind, status, reason,
            error_code, error, external_id, via, inbox_event_id, outbox_item_id, created_at)`,
    [col('id'),
    col('organizationId'),
    col('integrationId'),
    col('provider'),
    col('leadId'),
    col('direction'),
    col('kind'),
    col('status'),
    col('reason'),
    col('errorCode'),
    col('error'),
    col('externalId'),
    col('via'),
    col('inboxEventId'),
    col('outboxItemId'),
    events.map((e) => wallTime(e.createdAt))],
  );
  return events;
}
