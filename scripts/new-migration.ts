// Writes a new migration (prisma/migrations/<timestamp>_<name>/migration.sql) from the
// difference between the schema as of the last migration and prisma/schema.prisma.
// Needs no database. Usage: npm run migrate:new -- <name>
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { openSchemaEngine } from '../src/db/schema-engine.ts';
import { MIGRATIONS_DIR, SCHEMA_PATH, listMigrations } from '../src/db/migrate.ts';

const SNAPSHOT = path.join(MIGRATIONS_DIR, 'schema.snapshot.prisma');
const name = (process.argv[2] ?? 'change').replace(/[^a-z0-9_]+/gi, '_');

const schemaText = await readFile(SCHEMA_PATH, 'utf8');
const existing = await listMigrations().catch(() => []);
const previous = existing.length ? await readFile(SNAPSHOT, 'utf8') : null;

// The engine wants a live adapter even for a datamodel-to-datamodel diff; an
// in-memory PGlite serves and is thrown away.
const pg = new PGlite();
const engine = await openSchemaEngine(SCHEMA_PATH, schemaText, new PrismaPGlite(pg));
let sql = '';
try {
  const result = await engine.diff({
    from: previous ? { tag: 'schemaDatamodel', files: [{ path: SNAPSHOT, content: previous }] } : { tag: 'empty' },
    to: { tag: 'schemaDatamodel', files: [{ path: SCHEMA_PATH, content: schemaText }] },
    script: true,
    exitCode: null,
    filters: { externalTables: [], externalEnums: [] },
  });
  sql = result.stdout ?? '';
} finally {
  engine.free();
  await pg.close();
}
if (!sql.trim() || /empty migration/i.test(sql)) {
  console.log('No schema change: nothing written.');
  process.exit(0);
}
const stamp = new Date().toISOString().replace(/\D/g, '').slice(0, 14);
const dir = path.join(MIGRATIONS_DIR, `${stamp}_${name}`);
await mkdir(dir, { recursive: true });
await writeFile(path.join(dir, 'migration.sql'), sql);
await writeFile(SNAPSHOT, schemaText);
await writeFile(path.join(MIGRATIONS_DIR, 'migration_lock.toml'), 'provider = "postgresql"\n');
console.log(`Wrote ${path.relative(process.cwd(), dir)}/migration.sql`);
