// Webhook intake ahead of everything else on PGlite (src/db/priority.ts): on the real
// embedded database, through the Prisma client the engine uses.
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/client.ts';
import { directSql } from '../../src/db/direct-sql.ts';
import { intakeSql, PriorityGate } from '../../src/db/priority.ts';
import { freshDataDir } from '../helpers/db.ts';

describe('intake statements go ahead of the others on PGlite', () => {
  let db: Database;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await freshDataDir();
    // Other statements may wait for intake longer than anything here takes.
    db = await openDatabase({ dataDir, migrate: false, pgliteIntakePriorityMs: 10_000 });
  });
  afterAll(async () => {
    await db.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  /** A transaction holding the database for `ms` (as a worker's does while it works); resolves once it holds it, with its end. */
  async function holdDatabase(ms: number): Promise<{ ended: Promise<void> }> {
    let began!: () => void;
    const holding = new Promise<void>((r) => (began = r));
    const ended = db.prisma.$transaction(async (tx) => {
      await tx.$queryRawUnsafe('SELECT 1');
      began();
      await new Promise((r) => setTimeout(r, ms));
    });
    await holding;
    return { ended };
  }

  it('an intake statement arriving while other statements wait runs before them', async () => {
    const sql = intakeSql(db.prisma);
    const order: string[] = [];
    // Everything below queues behind the transaction.
    const held = await holdDatabase(300);
    const first = sql(`SELECT 'intake-1' AS n`, []).then(() => order.push('intake-1'));
    const others = Array.from({ length: 5 }, (_, i) => db.prisma.$queryRawUnsafe(`SELECT ${i} AS n`).then(() => order.push(`other-${i}`)));
    // The others have had the time to queue (first come, first served without priority).
    await new Promise((r) => setTimeout(r, 50));
    const second = sql(`SELECT 'intake-2' AS n`, []).then(() => order.push('intake-2'));
    await Promise.all([held.ended, first, second, ...others]);
    expect(order.slice(0, 2)).toEqual(['intake-1', 'intake-2']);
    expect(order.slice(2).sort()).toEqual(['other-0', 'other-1', 'other-2', 'other-3', 'other-4']);
  });

  it('a set-based statement sent straight to PGlite (direct-sql.ts) waits for intake like the ones Prisma sends', async () => {
    const order: string[] = [];
    const held = await holdDatabase(300);
    const first = intakeSql(db.prisma)(`SELECT 1 AS n`, []).then(() => order.push('intake-1'));
    const page = directSql(db.prisma)(`SELECT 2 AS n`, []).then(() => order.push('page'));
    await new Promise((r) => setTimeout(r, 50));
    const second = intakeSql(db.prisma)(`SELECT 3 AS n`, []).then(() => order.push('intake-2'));
    await Promise.all([held.ended, first, page, second]);
    expect(order).toEqual(['intake-1', 'intake-2', 'page']);
  });

  it('answers the rows of a statement, with parameters, as Prisma would', async () => {
    const rows = await intakeSql(db.prisma)<{ a: string[]; n: number }>(`SELECT $1::text[] AS a, $2::int AS n`, [['x', 'y'], 3]);
    expect(rows).toEqual([{ a: ['x', 'y'], n: 3 }]);
  });

  it('statements inside a transaction never wait for intake', async () => {
    const sql = intakeSql(db.prisma);
    // The transaction holds the database: an intake statement queues behind it, and the
    // transaction's own statements must not wait for that one (they would never end).
    const result = await db.prisma.$transaction(async (tx) => {
      const intake = sql(`SELECT 1 AS n`, []);
      const rows = await tx.$queryRawUnsafe<{ n: number }[]>(`SELECT 2 AS n`);
      return { rows, intake };
    });
    expect(result.rows).toEqual([{ n: 2 }]);
    expect(await result.intake).toEqual([{ n: 1 }]);
  });
});

describe('the priority gate', () => {
  it('lets an ordinary statement through after maxWaitMs even while intake never ends', async () => {
    const gate = new PriorityGate(20);
    let release!: () => void;
    const stuck = gate.urgent(() => new Promise<void>((r) => (release = r)));
    const waited = gate.clear();
    expect(waited).toBeInstanceOf(Promise);
    await waited; // resolves: the workers advance under a flood of webhooks
    expect(gate.inFlight).toBe(1);
    expect(gate.waiting).toBe(0);
    release();
    await stuck;
    expect(gate.inFlight).toBe(0);
    expect(gate.clear()).toBeUndefined();
  });

  it('with maxWaitMs 0 nothing waits', () => {
    const gate = new PriorityGate(0);
    void gate.urgent(() => new Promise(() => {}));
    expect(gate.clear()).toBeUndefined();
  });
});
