// A new PGlite database is created in a child process (src/db/pglite-create.ts), and a
// restart with nothing to migrate skips the schema engine (migrationsUpToDate): on the
// real embedded database, through openDatabase as the service calls it.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/client.ts';
import { listMigrations, migrationsUpToDate } from '../../src/db/migrate.ts';
import { DatabaseCreateError } from '../../src/db/pglite-create.ts';

const recorded = async (db: Database) =>
  (
    await db.prisma.$queryRaw<{ migration_name: string }[]>`
      SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL ORDER BY migration_name`
  ).map((r) => r.migration_name);

describe('creating the embedded database', () => {
  const dirs: string[] = [];
  const open: Database[] = [];
  const newDataDir = async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'crm-sync-create-'));
    dirs.push(dir);
    return dir;
  };
  afterEach(async () => {
    for (const db of open.splice(0)) await db.close();
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });

  it('a first start creates the database with every committed migration applied once; a restart applies none and keeps the data', async () => {
    const dataDir = await newDataDir();
    const committed = (await listMigrations()).map((m) => m.name);
    const db = await openDatabase({ dataDir });
    open.push(db);
    expect(db.appliedMigrations).toEqual(committed);
    expect(await recorded(db)).toEqual(committed);
    // Only the finished database is left, no staging directory.
    expect(await readdir(dataDir)).toEqual(['pglite']);
    await db.prisma.organization.create({ data: { name: 'Kept' } });
    await open.pop()!.close();

    const again = await openDatabase({ dataDir });
    open.push(again);
    expect(again.appliedMigrations).toEqual([]);
    expect(await recorded(again)).toEqual(committed);
    expect((await again.prisma.organization.findMany()).map((o) => o.name)).toEqual(['Kept']);
  });

  it('a database created without migrations (migrate: false) gets all of them on the next start', async () => {
    const dataDir = await newDataDir();
    const bare = await openDatabase({ dataDir, migrate: false });
    open.push(bare);
    expect(bare.appliedMigrations).toEqual([]);
    await expect(bare.prisma.organization.count()).rejects.toThrow();
    await open.pop()!.close();

    const migrated = await openDatabase({ dataDir });
    open.push(migrated);
    const committed = (await listMigrations()).map((m) => m.name);
    expect(migrated.appliedMigrations).toEqual(committed);
    expect(await migrated.prisma.organization.count()).toBe(0);
  });

  it('a creation that fails throws DATABASE_CREATE_FAILED and leaves no database (nor the leftovers of an interrupted one); the next start creates it', async () => {
    const dataDir = await newDataDir();
    // What an interrupted first start leaves: a half-written staging directory.
    await mkdir(path.join(dataDir, 'pglite.creating'));
    await writeFile(path.join(dataDir, 'pglite.creating', 'PG_VERSION'), '17\n');
    const failed = await openDatabase({ dataDir, pgliteSharedBuffers: 'lots' }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(failed).toBeInstanceOf(DatabaseCreateError);
    expect((failed as DatabaseCreateError).code).toBe('DATABASE_CREATE_FAILED');
    expect(await readdir(dataDir)).toEqual([]);

    const db = await openDatabase({ dataDir });
    open.push(db);
    expect(db.appliedMigrations).toEqual((await listMigrations()).map((m) => m.name));
    expect(existsSync(path.join(dataDir, 'pglite.creating'))).toBe(false);
  });
});

describe('migrationsUpToDate: the schema engine is skipped only when it would apply nothing', () => {
  const row = (name: string, finished = true, rolledBack = false) => ({ name, finished, rolledBack });
  const answering = (rows: unknown[]) => async () => ({ rows });

  it('every committed migration finished: up to date', async () => {
    const names = (await listMigrations()).map((m) => m.name);
    expect(await migrationsUpToDate(answering(names.map((n) => row(n))))).toBe(true);
  });

  it('one committed migration missing, or only rolled back: not up to date', async () => {
    const names = (await listMigrations()).map((m) => m.name);
    expect(await migrationsUpToDate(answering(names.slice(0, -1).map((n) => row(n))))).toBe(false);
    const last = names[names.length - 1];
    expect(await migrationsUpToDate(answering([...names.slice(0, -1).map((n) => row(n)), row(last, true, true)]))).toBe(false);
  });

  it('a rolled-back attempt followed by a finished one: up to date', async () => {
    const names = (await listMigrations()).map((m) => m.name);
    const last = names[names.length - 1];
    expect(await migrationsUpToDate(answering([row(last, false, true), ...names.map((n) => row(n))]))).toBe(true);
  });

  it('a failed migration (neither finished nor rolled back) goes to the engine, which reports it', async () => {
    const names = (await listMigrations()).map((m) => m.name);
    expect(await migrationsUpToDate(answering([...names.map((n) => row(n)), row('20990101000000_broken', false, false)]))).toBe(false);
  });

  it('no migrations table (the query fails): not up to date', async () => {
    expect(
      await migrationsUpToDate(async () => {
        throw new Error('relation "_prisma_migrations" does not exist');
      }),
    ).toBe(false);
  });
});
