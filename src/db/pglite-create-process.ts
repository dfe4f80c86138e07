// The child process of pglite-create.ts: creates a PGlite database in the directory it is
// given (initdb), applies the migrations when asked, closes it, prints
// {"applied": [names]} and exits. Errors go to stderr with exit code 1.
import { mkdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { applyMigrations } from './migrate.ts';
import { pgliteStartParams, type CreateRequest } from './pglite-create.ts';

// The parent went away (its end of stdin closed): stop, leaving only the staging directory.
process.stdin.on('close', () => process.exit(1));
process.stdin.resume();

try {
  const request = JSON.parse(process.argv[2] ?? '') as CreateRequest;
  await mkdir(request.dir, { recursive: true });
  const pg = new PGlite(request.dir, { startParams: pgliteStartParams(request.sharedBuffers) });
  await pg.waitReady;
  let applied: string[] = [];
  try {
    if (request.migrate) applied = await applyMigrations(new PrismaPGlite(pg));
  } finally {
    await pg.close();
  }
  process.stdout.write(`${JSON.stringify({ applied })}\n`, () => process.exit(0));
} catch (e) {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`, () => process.exit(1));
}
