// Durable intake in ONE statement: a webhook's events are inserted (duplicates of an
// event already held ignored by the (integration, dedupeKey) key) and the receiving
// integrations' counters moved, in a single SQL statement, atomic on its own: no
// transaction round trips on the path every CRM notification takes. Written in SQL
// because this is the hottest statement of the service (profiled: Prisma's per-query
// work and a four-statement transaction cost more than the insert itself). On PGlite it
// runs ahead of the other statements, not through Prisma (src/db/priority.ts).
import { intakeSql, type SqlRunner } from '../db/priority.ts';
import type { PrismaClient } from '../generated/prisma/client.ts';
import { timeOrderedId } from './ids.ts';

export interface IntakeRow {
  integrationId: string;
  dedupeKey: string;
  kind: string;
  externalId: string;
  occurredAt: Date;
  /** The event as JSON text. */
  payload: string;
  /** Events of a disabled integration are recorded done (skipped_disabled), never applied. */
  disabled: boolean;
}

/** Stores the rows and counts what each integration received; returns the ids of the rows that were new. */
export async function storeEvents(sql: SqlRunner, rows: (IntakeRow & { id: string })[]): Promise<Set<string>> {
  if (rows.length === 0) return new Set();
  const received = new Map<string, number>();
  for (const r of rows) received.set(r.integrationId, (received.get(r.integrationId) ?? 0) + 1);
  const [{ stored }] = await sql<{ stored: string[] | null }>(
    `WITH ins AS (
       INSERT INTO "InboxEvent" (id, "integrationId", "dedupeKey", kind, "externalId", "occurredAt", payload,
                                 status, outcome, "processedAt", "nextAttemptAt", "receivedAt")
       SELECT v.id, v.integration_id, v.dedupe_key, v.kind, v.external_id, v.occurred_at::timestamp, v.payload::jsonb,
              (CASE WHEN v.disabled THEN 'done' ELSE 'pending' END)::"WorkStatus",
              CASE WHEN v.disabled THEN 'skipped_disabled' END,
              CASE WHEN v.disabled THEN (now() AT TIME ZONE 'UTC') END,
              (now() AT TIME ZONE 'UTC'), (now() AT TIME ZONE 'UTC')
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::boolean[])
         AS v(id, integration_id, dedupe_key, kind, external_id, occurred_at, payload, disabled)
       ON CONFLICT ("integrationId", "dedupeKey") DO NOTHING
       RETURNING id
     ), counted AS (
       UPDATE "Integration" AS g
       SET "totalReceived" = g."totalReceived" + r.n, "lastReceivedAt" = (now() AT TIME ZONE 'UTC')
       FROM unnest($9::text[], $10::int[]) AS r(id, n)
       WHERE g.id = r.id
       RETURNING 1
     )
     SELECT (SELECT array_agg(id) FROM ins) AS stored, (SELECT count(*) FROM counted)::int AS counted`,
    [rows.map((r) => r.id),
    rows.map((r) => r.integrationId),
    rows.map((r) => r.dedupeKey),
    rows.map((r) => r.kind),
    rows.map((r) => r.externalId),
    // UTC wall time, as Prisma stores DateTime in timestamp(3) columns.
    rows.map((r) => r.occurredAt.toISOString().replace('T', ' ').replace('Z', '')),
    rows.map((r) => r.payload),
    rows.map((r) => r.disabled),
    [...received.keys()],
    [...received.values()]],
  );
  return new Set(stored ?? []);
}

/**
 * Group commit for intake: the events of requests arriving while a write is in flight are
 * written together by the next one (one statement for all of them), and each request is
 * answered when ITS rows are durable, with how many of them were new. Under load this
 * turns N single-event statements into a few; alone, a request is written after one turn of the event loop. A
 * group that fails is written again request by request, so one bad request fails alone.
 */
export class IntakeWriter {
  private queue: { rows: (IntakeRow & { id: string })[]; done: (n: number) => void; fail: (e: unknown) => void }[] = [];
  private writing = false;
  private readonly sql: SqlRunner;

  constructor(prisma: Pick<PrismaClient, '$queryRawUnsafe'>) {
    this.sql = intakeSql(prisma);
  }

  /** Stores one request's events; resolves with how many were new once they are durable. */
  store(rows: IntakeRow[]): Promise<number> {
    if (rows.length === 0) return Promise.resolve(0);
    return new Promise<number>((done, fail) => {
      // Time-ordered ids (ids.ts): a group's rows land at the right edge of the primary key.
      this.queue.push({ rows: rows.map((r) => ({ ...r, id: timeOrderedId() })), done, fail });
      if (!this.writing) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.writing = true;
    try {
      while (this.queue.length > 0) {
        // One turn of the event loop first: PGlite runs a statement synchronously, so the
        // requests that arrived while the last one ran are read only now; they join this group.
        await new Promise<void>((r) => setImmediate(r));
        const group = this.queue.splice(0);
        try {
          const stored = await storeEvents(this.sql, group.flatMap((g) => g.rows));
          for (const g of group) g.done(g.rows.filter((r) => stored.has(r.id)).length);
        } catch (e) {
          if (group.length === 1) {
            group[0].fail(e);
            continue;
          }
          for (const g of group) {
            try {
              const stored = await storeEvents(this.sql, g.rows);
              g.done(g.rows.filter((r) => stored.has(r.id)).length);
            } catch (err) {
              g.fail(err);
            }
          }
        }
      }
    } finally {
      this.writing = false;
    }
  }
}
