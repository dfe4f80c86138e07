// Builds one migrated PGlite data directory per test run; each test copies it
// (about a second) instead of migrating a new database (about six).
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { openDatabase } from '../../src/db/client.ts';

let root: string | undefined;

export async function setup(project: TestProject) {
  root = await mkdtemp(path.join(os.tmpdir(), 'crm-sync-template-'));
  const db = await openDatabase({ dataDir: root });
  await db.close();
  project.provide('templateDataDir', root);
}

export async function teardown() {
  if (root) await rm(root, { recursive: true, force: true });
}

declare module 'vitest' {
  export interface ProvidedContext {
    templateDataDir: string;
  }
}
