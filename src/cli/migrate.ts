// `crm-sync migrate`: applies the pending migrations and says which.
import type { Command } from './common.ts';

export const migrateCommand: Command = {
  path: ['migrate'],
  summary: 'apply pending database migrations',
  usage: `Usage: crm-sync migrate [--json]

Applies every pending migration of prisma/migrations to the configured database
(DATA_DIR or DATABASE_URL) and prints the ones applied. Safe to run any number of times.`,
  options: {},
  async run(ctx) {
    const db = await ctx.openDb({ migrate: true });
    await db.close();
    const applied = db.appliedMigrations;
    const { listMigrations } = await import('../db/migrate.ts');
    const known = (await listMigrations()).map((m) => m.name);
    ctx.out.json({ applied, migrations: known, database: db.kind });
    if (applied.length === 0) ctx.out.line(`Database is up to date (${known.length} migration${known.length === 1 ? '' : 's'}).`);
    else {
      ctx.out.line(`Applied ${applied.length} migration${applied.length === 1 ? '' : 's'}:`);
      for (const name of applied) ctx.out.line(`  ${name}`);
    }
  },
};
