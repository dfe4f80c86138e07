// The database: PGlite (embedded Postgres, data directory on disk) when DATABASE_URL is
// unset, a real PostgreSQL when it is set. Both through Prisma 7 driver adapters.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import type { SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { PrismaClient } from '../generated/prisma/client.ts';
import { applyMigrations, migrationsUpToDate } from './migrate.ts';
import { createPGliteDirectory, isNewPGliteDirectory, pgliteStartParams } from './pglite-create.ts';
import { warmPGlite } from './pglite-warm.ts';
import { PriorityGate, urgentRunner, yieldingPGlite } from './priority.ts';
import { pgliteSql, poolSql, registerDriverRunners, type SqlRunner } from './direct-sql.ts';

export { PrismaClient };
export type Db = PrismaClient;

export interface Database {
  prisma: PrismaClient;
  kind: 'pglite' | 'postgres';
  appliedMigrations: string[];
  close(): Promise<void>;
}

// 16 MB: through a 100,000-record import the process peaked at 279-281 MB resident against
// 298-315 MB with 32 MB, at the same rate (bench section 7, alternating runs); the pages
// beyond the pool are read from the operating system's file cache.
export const DEFAULT_PGLITE_SHARED_BUFFERS = '16MB';
/** How long a statement waits for webhook intake on PGlite, at most (priority.ts). */
export const DEFAULT_PGLITE_INTAKE_PRIORITY_MS = 50;

export interface DatabaseOptions {
  databaseUrl?: string;
  dataDir: string;
  /** PGlite's shared_buffers, a Postgres memory size ('16MB'); DEFAULT_PGLITE_SHARED_BUFFERS when absent. */
  pgliteSharedBuffers?: string;
  /** PGlite: how long other statements wait for webhook intake's, at most (ms; 0: no priority). */
  pgliteIntakePriorityMs?: number;
  /** Apply pending migrations before returning (default true). */
  migrate?: boolean;
  /** PGlite: warm its code before returning (pglite-warm.ts): what a service start does, not a test's database. */
  warm?: boolean;
}

export async function openDatabase(opts: DatabaseOptions): Promise<Database> {
  let factory: SqlMigrationAwareDriverAdapterFactory;
  let closeDriver: () => Promise<void>;
  let kind: Database['kind'];
  let urgent: SqlRunner | undefined;
  /** Set when this call created the PGlite database: the migrations applied then. */
  let createdWithMigrations: string[] | undefined;
  let pgDb: PGlite | undefined;
  /** Set-based statements of the hot paths, straight to the driver (direct-sql.ts). */
  let direct: SqlRunner;
  if (opts.databaseUrl) {
    // One pool for Prisma's adapter and for the statements sent straight to it.
    const pool = new pg.Pool({ connectionString: opts.databaseUrl, max: 10 });
    factory = new PrismaPg(pool);
    direct = poolSql(pool);
    closeDriver = () => pool.end();
    kind = 'postgres';
  } else {
    const dir = path.join(opts.dataDir, 'pglite');
    // PGlite's memory is WebAssembly memory, which grows and never shrinks: shared buffers
    // of Postgres's default 128 MB end up resident for good once a big import touched
    // them. A smaller pool leaves the rest to the operating system's file cache.
    const sharedBuffers = opts.pgliteSharedBuffers ?? DEFAULT_PGLITE_SHARED_BUFFERS;
    if (await isNewPGliteDirectory(dir)) {
      // A new database is made in a child process, whose memory goes when it exits (pglite-create.ts).
      await mkdir(opts.dataDir, { recursive: true });
      createdWithMigrations = await createPGliteDirectory(dir, { sharedBuffers, migrate: opts.migrate !== false });
    }
    const pg = new PGlite(dir, { startParams: pgliteStartParams(sharedBuffers) });
    await pg.waitReady;
    if (opts.warm) await warmPGlite(pg);
    pgDb = pg;
    // Webhook intake writes ahead of everything else (priority.ts).
    const gate = new PriorityGate(opts.pgliteIntakePriorityMs ?? DEFAULT_PGLITE_INTAKE_PRIORITY_MS);
    urgent = urgentRunner(pg, gate);
    const yielding = yieldingPGlite(pg, gate);
    factory = new PrismaPGlite(yielding);
    direct = pgliteSql(yielding);
    closeDriver = () => pg.close();
    kind = 'pglite';
  }
  let appliedMigrations: string[] = createdWithMigrations ?? [];
  if (opts.migrate !== false && !createdWithMigrations) {
    if (kind === 'postgres') {
      // The schema engine does not close what it opens: give it its own pool and end it.
      const pool = new pg.Pool({ connectionString: opts.databaseUrl!, max: 2 });
      try {
        appliedMigrations = await applyMigrations(new PrismaPg(pool));
      } finally {
        await pool.end();
      }
    } else if (!(await migrationsUpToDate((sql) => pgDb!.query(sql)))) {
      appliedMigrations = await applyMigrations(factory);
    }
  }
  const prisma = new PrismaClient({ adapter: factory });
  await prisma.$connect();
  registerDriverRunners(prisma, { direct, urgent });
  return {
    prisma,
    kind,
    appliedMigrations,
    async close() {
      await prisma.$disconnect();
      await closeDriver();
    },
  };
}
