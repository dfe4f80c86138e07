// A service start warms PGlite's code (src/db/pglite-warm.ts) in a transaction it rolls
// back: nothing of the warm-up may stay in the database, and the data must be untouched.
import { rm } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/client.ts';
import { warmPGlite } from '../../src/db/pglite-warm.ts';
import { PGlite } from '@electric-sql/pglite';
import { freshDataDir } from '../helpers/db.ts';

describe('warming the embedded database at start', () => {
  const open: Database[] = [];
  const dirs: string[] = [];
  afterEach(async () => {
    for (const db of open.splice(0)) await db.close();
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });

  it('leaves nothing behind: no table, no rows, and the database takes a second warm-up', async () => {
    const pg = new PGlite();
    try {
      await pg.exec('CREATE TABLE kept (id int PRIMARY KEY); INSERT INTO kept VALUES (1), (2)');
      expect(await warmPGlite(pg, 3)).toBeGreaterThan(0);
      const tables = await pg.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_class WHERE relname LIKE 'crm_sync_warm_up%'`);
      expect(tables.rows[0].n).toBe(0);
      expect((await pg.query<{ n: number }>('SELECT count(*)::int AS n FROM kept')).rows[0].n).toBe(2);
      await warmPGlite(pg, 1);
      // Not left inside a transaction: a statement after it commits on its own.
      await pg.exec('INSERT INTO kept VALUES (3)');
      expect((await pg.query<{ n: number }>('SELECT count(*)::int AS n FROM kept')).rows[0].n).toBe(3);
    } finally {
      await pg.close();
    }
  });

  it('a service start (warm: true) opens a database with data as it was, and serves', async () => {
    const dataDir = await freshDataDir();
    dirs.push(dataDir);
    const first = await openDatabase({ dataDir });
    const org = await first.prisma.organization.create({ data: { name: 'Acme' } });
    await first.close();
    const db = await openDatabase({ dataDir, warm: true });
    open.push(db);
    expect(await db.prisma.organization.findMany({ select: { id: true, name: true } })).toEqual([{ id: org.id, name: 'Acme' }]);
    const left = await db.prisma.$queryRaw<{ n: number }[]>`SELECT count(*)::int AS n FROM pg_class WHERE relname LIKE 'crm_sync_warm_up%'`;
    expect(left[0].n).toBe(0);
    await db.prisma.organization.create({ data: { name: 'Beta' } });
    expect(await db.prisma.organization.count()).toBe(2);
  });
});
