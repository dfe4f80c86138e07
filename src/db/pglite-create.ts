// A new PGlite database is created (initdb, then the migrations) in a child process, not
// in the service's own. PGlite's first start runs initdb in a second PGlite instance and a
// third WebAssembly module and copies the result over: the process peaks near 800 MB, and
// most of it stays resident after those instances are closed and collected (WebAssembly
// memory never shrinks while in use; what is freed stays with the C allocator and the
// compiled code). A child process gives all of it back when it exits; the service then
// opens an existing directory, as on any restart.
//
// The child writes to `<dir>.creating` and the directory is renamed into place only once
// initdb and every migration succeeded: an interrupted first start leaves no half-made
// database behind, and the next start begins again.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, rename, rm, rmdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { PGlite } from '@electric-sql/pglite';

/** Postgres start parameters of every PGlite instance the service opens. */
export function pgliteStartParams(sharedBuffers: string): string[] {
  return [...PGlite.defaultStartParams, '-c', `shared_buffers=${sharedBuffers}`];
}

/** What the child process is told (as one JSON argument). */
export interface CreateRequest {
  dir: string;
  sharedBuffers: string;
  migrate: boolean;
}

/** Creating the database failed (the child process's own error text is in `detail`). */
export class DatabaseCreateError extends Error {
  readonly code = 'DATABASE_CREATE_FAILED';
  constructor(readonly detail: string) {
    super(`creating the embedded database failed: ${detail}`);
    this.name = 'DatabaseCreateError';
  }
}

/**
 * True when `dir` holds no database yet and may be created by createPGliteDirectory: it
 * does not exist, or is empty. A directory with files but no PG_VERSION is left to PGlite
 * as before (its own initdb tolerates it).
 */
export async function isNewPGliteDirectory(dir: string): Promise<boolean> {
  if (!existsSync(dir)) return true;
  return (await readdir(dir)).length === 0;
}

const CHILD_ENTRY = fileURLToPath(new URL(`./pglite-create-process${path.extname(fileURLToPath(import.meta.url))}`, import.meta.url));
const STDERR_KEPT = 4_000;

/** Node arguments the child needs to run this module's sibling: a TypeScript loader when the service runs from its sources. */
function loaderArgs(): string[] {
  if (!CHILD_ENTRY.endsWith('.ts')) return [];
  const tsx = createRequire(import.meta.url).resolve('tsx');
  return ['--import', pathToFileURL(tsx).href];
}

/** Creates a database in `dir` (which isNewPGliteDirectory accepted); returns the migrations applied. */
export async function createPGliteDirectory(dir: string, opts: { sharedBuffers: string; migrate: boolean }): Promise<string[]> {
  const staging = `${dir}.creating`;
  await rm(staging, { recursive: true, force: true });
  const request: CreateRequest = { dir: staging, sharedBuffers: opts.sharedBuffers, migrate: opts.migrate };
  const child = spawn(process.execPath, [...loaderArgs(), CHILD_ENTRY, JSON.stringify(request)], {
    // stdin stays open: the child ends when it closes (this process went away).
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-STDERR_KEPT)));
  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  child.stdin!.destroy();
  if (exit.code !== 0) {
    await rm(staging, { recursive: true, force: true });
    throw new DatabaseCreateError(`${exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code}`}: ${stderr.trim() || 'no output'}`);
  }
  const last = stdout.trim().split('\n').pop() ?? '';
  let applied: string[];
  try {
    applied = (JSON.parse(last) as { applied: string[] }).applied;
  } catch {
    throw new DatabaseCreateError(`unexpected answer ${JSON.stringify(last.slice(0, 200))}`);
  }
  if (existsSync(dir)) await rmdir(dir); // empty (isNewPGliteDirectory)
  await rename(staging, dir);
  return applied;
}
