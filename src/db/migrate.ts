// Applies the committed migrations in prisma/migrations with Prisma's WASM schema
// engine. It writes the same _prisma_migrations table as `prisma migrate deploy`,
// so either tool can be used on the same database.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import { openSchemaEngine } from './schema-engine.ts';

export const PRISMA_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../prisma');
export const SCHEMA_PATH = path.join(PRISMA_DIR, 'schema.prisma');
export const MIGRATIONS_DIR = path.join(PRISMA_DIR, 'migrations');

export async function listMigrations(dir = MIGRATIONS_DIR) {
  const entries = await readdir(dir, { withFileTypes: true });
  const names = entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
  return Promise.all(
    names.map(async (name) => ({
      name,
      sql: await readFile(path.join(dir, name, 'migration.sql'), 'utf8'),
    })),
  );
}

/**
 * True when the database records every committed migration as finished and none as
 * failed: applyMigrations would apply nothing, and the schema engine (about 25 MB that stay
 * resident once loaded) need not load. False when unsure (no migrations table yet, an
 * error): applyMigrations then decides, as always. `query` runs one SQL statement.
 */
export async function migrationsUpToDate(query: (sql: string) => Promise<{ rows: unknown[] }>): Promise<boolean> {
  let rows: { name: string; finished: boolean; rolledBack: boolean }[];
  try {
    rows = (await query(`SELECT migration_name AS name, finished_at IS NOT NULL AS finished, rolled_back_at IS NOT NULL AS "rolledBack" FROM _prisma_migrations`))
      .rows as typeof rows;
  } catch {
    return false;
  }
  // A failed migration (neither finished nor rolled back) is the engine's to report.
  if (rows.some((r) => !r.finished && !r.rolledBack)) return false;
  const finished = new Set(rows.filter((r) => r.finished && !r.rolledBack).map((r) => r.name));
  return (await listMigrations()).every((m) => finished.has(m.name));
}

/** Applies every pending migration; safe to run any number of times. Returns the names applied now. */
export async function applyMigrations(factory: SqlMigrationAwareDriverAdapterFactory): Promise<string[]> {
  const schemaText = await readFile(SCHEMA_PATH, 'utf8');
  const migrations = await listMigrations();
  const lockPath = path.join(MIGRATIONS_DIR, 'migration_lock.toml');
  const engine = await openSchemaEngine(SCHEMA_PATH, schemaText, factory);
  try {
    const out = await engine.applyMigrations({
      migrationsList: {
        baseDir: MIGRATIONS_DIR,
        lockfile: { path: lockPath, content: await readFile(lockPath, 'utf8') },
        shadowDbInitScript: '',
        migrationDirectories: migrations.map((m) => ({
          path: m.name,
          migrationFile: { path: 'migration.sql', content: { tag: 'ok', value: m.sql } },
        })),
      },
      filters: { externalTables: [], externalEnums: [] },
    });
    return out.appliedMigrationNames;
  } finally {
    engine.free();
  }
}
