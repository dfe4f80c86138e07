// Lease-based claiming of durable work (inbox events, outbox items) so that several
// instances sharing one PostgreSQL never process the same row at once, and a row
// claimed by an instance that died is taken over when its lease expires.
import type { PrismaClient } from '../generated/prisma/client.ts';

export type QueueTable = 'InboxEvent' | 'OutboxItem';

export const LEASE_MS = 60_000;

/** A row's claim and failure columns once it is done: the one definition for both queues. */
export function doneColumns() {
  return { lockedBy: null, lockedUntil: null, lastError: null, errorCode: null, firstFailedAt: null, attempts: { increment: 1 } } as const;
}

/**
 * Claims up to `limit` due rows of a table for `owner`, oldest first. A row is due when
 * it is pending and its nextAttemptAt has passed, or when it is being processed under
 * an expired lease. Rows of integrations in `exclude` (busy here), whose circuit
 * breaker holds them (`breakerUntil` in the future) or whose connection waits for the
 * customer (needs_reconnect: connection-state.ts) are left alone. Claiming counts no
 * attempt: an attempt is counted when its outcome is recorded, so a claim lost to a
 * crash costs nothing. Returns the claimed ids. Times are the database's clock (UTC).
 */
export async function claim(
  prisma: PrismaClient,
  table: QueueTable,
  owner: string,
  limit: number,
  orderColumn: 'occurredAt' | 'createdAt',
  leaseMs: number = LEASE_MS,
  exclude: string[] = [],
): Promise<string[]> {
  return (await claimRows(prisma, table, owner, limit, orderColumn, leaseMs, exclude)).map((r) => r.id);
}

/** Like claim(), with each row's integration; `only`: of that integration only. */
export async function claimRows(
  prisma: PrismaClient,
  table: QueueTable,
  owner: string,
  limit: number,
  orderColumn: 'occurredAt' | 'createdAt',
  leaseMs: number = LEASE_MS,
  exclude: string[] = [],
  /** Only this integration's rows (all integrations' when null). */
  only: string | null = null,
): Promise<{ id: string; integrationId: string }[]> {
  const params: unknown[] = [owner, String(leaseMs), limit, exclude, ...(only === null ? [] : [only])];
  const [, rows] = await prisma.$transaction([
    prisma.$executeRawUnsafe(CLAIM_PLAN),
    prisma.$queryRawUnsafe<{ id: string; integrationId: string }[]>(claimSql(table, orderColumn, only !== null), ...params),
  ]);
  return rows;
}

/**
 * Run before a claim, in its transaction: sorting is switched off for that statement only
 * (SET LOCAL: the transaction's end restores it), so the planner walks the
 * (status, order column) index in order and stops after `limit` rows. Without it, on a
 * database whose statistics do not show the backlog (PGlite runs no autovacuum, so its
 * tables are never analyzed; on PostgreSQL a flood faster than autoanalyze), it guesses
 * that few rows are pending, reads every pending row and sorts them: with a backlog of
 * 20,000 events, 23 ms per claim (65-90 ms for one integration's) against about 1 ms
 * walking the index.
 */
export const CLAIM_PLAN = 'SET LOCAL enable_sort = off';

/**
 * The claim statement: $1 owner, $2 lease (ms), $3 limit, $4 integrations left alone,
 * $5 (with `only`) the one integration. Rows under an expired lease first (claimed before,
 * by an instance that died), then pending ones, each part oldest first.
 */
export function claimSql(table: QueueTable, orderColumn: 'occurredAt' | 'createdAt', only: boolean): string {
  // Identifiers cannot be parameters; both come from the closed unions above.
  const candidates = (due: string) => `
      SELECT q.id FROM "${table}" q
      WHERE ${due}
        AND NOT (q."integrationId" = ANY($4::text[]))
        ${only ? 'AND q."integrationId" = $5::text' : ''}
        AND NOT EXISTS (
          SELECT 1 FROM "Integration" g
          WHERE g.id = q."integrationId"
            AND (g."breakerUntil" > (now() AT TIME ZONE 'UTC') OR g."connectionState" = 'needs_reconnect'))
      ORDER BY q."${orderColumn}" ASC
      LIMIT $3
      FOR UPDATE OF q SKIP LOCKED`;
  return `
    WITH expired AS (${candidates(`q.status = 'processing' AND q."lockedUntil" < (now() AT TIME ZONE 'UTC')`)}),
         due AS (${candidates(`q.status = 'pending' AND q."nextAttemptAt" <= (now() AT TIME ZONE 'UTC')`)})
    UPDATE "${table}" SET status = 'processing', "lockedBy" = $1,
      "lockedUntil" = (now() AT TIME ZONE 'UTC') + ($2 || ' milliseconds')::interval
    WHERE id IN (SELECT id FROM (SELECT id FROM expired UNION ALL SELECT id FROM due) AS c LIMIT $3)
    RETURNING id, "integrationId"`;
}

/** Claimed rows grouped by integration, in claim order. */
export function byIntegration(rows: { id: string; integrationId: string }[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const r of rows) out.set(r.integrationId, [...(out.get(r.integrationId) ?? []), r.id]);
  return out;
}

/**
 * Records the outcomes of processed inbox events in ONE statement (a task's events, not
 * one update each): done, with outcome and lead, the attempt counted, errors cleared.
 */
export async function markInboxDone(prisma: PrismaClient, rows: { id: string; outcome: string; leadId: string | null }[]): Promise<void> {
  if (rows.length === 0) return;
  await prisma.$executeRawUnsafe(
    `UPDATE "InboxEvent" AS e SET status = 'done', outcome = v.outcome, "leadId" = v.lead_id,
       "processedAt" = (now() AT TIME ZONE 'UTC'), "lockedBy" = NULL, "lockedUntil" = NULL,
       "lastError" = NULL, "errorCode" = NULL, "firstFailedAt" = NULL, attempts = e.attempts + 1
     FROM unnest($1::text[], $2::text[], $3::text[]) AS v(id, outcome, lead_id)
     WHERE e.id = v.id`,
    rows.map((r) => r.id),
    rows.map((r) => r.outcome),
    rows.map((r) => r.leadId),
  );
}

/** Gives claimed rows back unprocessed: pending, due at `at` (now by default), no attempt counted. */
export async function releaseRows(prisma: PrismaClient, table: QueueTable, ids: string[], at: Date = new Date()): Promise<void> {
  if (ids.length === 0) return;
  const data = { status: 'pending' as const, lockedBy: null, lockedUntil: null, nextAttemptAt: at };
  const where = { id: { in: ids }, status: 'processing' as const };
  if (table === 'InboxEvent') await prisma.inboxEvent.updateMany({ where, data });
  else await prisma.outboxItem.updateMany({ where, data });
}

/**
 * Gives back everything `owner` holds (every owner's when null: at the start of a process
 * that owns its database alone, as with PGlite, nobody else can be holding anything): inbox
 * events and outbox items in processing go back to pending (the interrupted attempt was
 * never counted), running imports get an expired lease. They are taken at once.
 */
export async function releaseClaims(prisma: PrismaClient, owner: string | null): Promise<{ inbox: number; outbox: number; imports: number }> {
  const now = new Date();
  const back = { status: 'pending' as const, lockedBy: null, lockedUntil: null, nextAttemptAt: now };
  const who = owner === null ? {} : { lockedBy: owner };
  const [inbox, outbox, imports] = await prisma.$transaction([
    prisma.inboxEvent.updateMany({ where: { status: 'processing', ...who }, data: back }),
    prisma.outboxItem.updateMany({ where: { status: 'processing', ...who }, data: back }),
    prisma.importJob.updateMany({ where: { status: 'running', ...who }, data: { lockedUntil: new Date(0) } }),
  ]);
  return { inbox: inbox.count, outbox: outbox.count, imports: imports.count };
}

/** Exponential backoff with (half) jitter: base * 2^(attempt-1), capped, randomised. */
export function backoffMs(attempt: number, baseMs = 1_000, capMs = 300_000): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

/**
 * A loop that runs `tick` until it reports no work, then sleeps until kicked or until
 * `idleMs` passes. `stop()` waits for the tick in progress.
 */
export class WorkerLoop {
  private running = false;
  private wake: (() => void) | null = null;
  private loopPromise: Promise<void> | null = null;
  private kicked = false;
  private idleWaiters: (() => void)[] = [];
  private busy = false;

  constructor(
    readonly name: string,
    private readonly tick: () => Promise<number>,
    private readonly idleMs: number,
    private readonly onError: (err: unknown, name: string) => void,
  ) {}

  start() {
    if (this.running) return;
    this.running = true;
    this.loopPromise = this.loop();
  }

  kick() {
    this.kicked = true;
    this.wake?.();
  }

  /** Resolves once the loop has found no work after this call. */
  async idle(): Promise<void> {
    if (!this.running) {
      while ((await this.tick()) > 0);
      return;
    }
    await new Promise<void>((resolve) => {
      this.idleWaiters.push(resolve);
      this.kick();
    });
  }

  async stop() {
    this.running = false;
    this.wake?.();
    await this.loopPromise;
    for (const w of this.idleWaiters.splice(0)) w();
  }

  private async loop() {
    while (this.running) {
      this.kicked = false;
      const waiters = this.idleWaiters.splice(0);
      let worked = 0;
      this.busy = true;
      try {
        worked = await this.tick();
      } catch (err) {
        this.onError(err, this.name);
      } finally {
        this.busy = false;
      }
      if (worked > 0) {
        // More may be waiting: go again, and keep the idle waiters for a later empty pass.
        this.idleWaiters.unshift(...waiters);
        continue;
      }
      for (const w of waiters) w();
      if (!this.running) break;
      if (this.kicked) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.idleMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
    }
  }

  /** Started and not stopped. */
  get isRunning() {
    return this.running;
  }

  get isBusy() {
    return this.busy;
  }
}
