import { defineConfig } from 'prisma/config';

// The Prisma CLI is used here only for `prisma generate` (see README, "Database").
// Migrations are applied by src/db/migrate.ts with Prisma's WASM schema engine.
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
});
