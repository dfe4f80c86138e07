import { cp, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { inject } from 'vitest';
import { openDatabase, type Database } from '../../src/db/client.ts';

export interface TestDatabase extends Database {
  dataDir: string;
  /** Closes the database and deletes its files. */
  destroy(): Promise<void>;
}

/** A new, migrated, empty PGlite database in its own data directory. */
export async function freshDatabase(): Promise<TestDatabase> {
  const dataDir = await freshDataDir();
  const db = await openDatabase({ dataDir, migrate: false });
  return Object.assign(db, {
    dataDir,
    async destroy() {
      await db.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  });
}

/** A data directory holding a migrated, empty database (for tests that start the service as a process). */
export async function freshDataDir(): Promise<string> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'crm-sync-test-'));
  await cp(inject('templateDataDir'), dataDir, { recursive: true });
  return dataDir;
}
