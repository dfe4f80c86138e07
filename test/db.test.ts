import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from './helpers/db.ts';
import { openDatabase } from '../src/db/client.ts';
import { listMigrations } from '../src/db/migrate.ts';

describe('database', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await freshDatabase();
  });
  afterAll(() => db.destroy());

  it('has every committed migration recorded, and re-applying is a no-op', async () => {
    const rows = await db.prisma.$queryRaw<{ migration_name: string }[]>`
      SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL ORDER BY migration_name`;
    const committed = (await listMigrations()).map((m) => m.name);
    expect(rows.map((r) => r.migration_name)).toEqual(committed);
    await db.close();
    const again = await openDatabase({ dataDir: db.dataDir });
    expect(again.appliedMigrations).toEqual([]);
    db.prisma = again.prisma;
    db.close = again.close;
  });

  it('keeps one lead per organization and email', async () => {
    const org = await db.prisma.organization.create({ data: { name: 'Acme' } });
    await db.prisma.lead.create({ data: { organizationId: org.id, email: 'a@x.io', sourceSystem: 'jazzaam' } });
    await expect(
      db.prisma.lead.create({ data: { organizationId: org.id, email: 'a@x.io', sourceSystem: 'hubspot' } }),
    ).rejects.toMatchObject({ code: 'P2002' });
    expect(await db.prisma.lead.count()).toBe(1);
  });

  it('survives a restart with its data', async () => {
    const before = await db.prisma.organization.count();
    await db.close();
    const again = await openDatabase({ dataDir: db.dataDir, migrate: false });
    expect(await again.prisma.organization.count()).toBe(before);
    db.prisma = again.prisma;
    db.close = again.close;
  });

  it("runs the embedded database with the configured shared_buffers (16MB unless set), not Postgres's 128MB", async () => {
    const shared = async () => (await db.prisma.$queryRawUnsafe<{ shared_buffers: string }[]>('SHOW shared_buffers'))[0].shared_buffers;
    expect(await shared()).toBe('16MB');
    await db.close();
    const again = await openDatabase({ dataDir: db.dataDir, migrate: false, pgliteSharedBuffers: '24MB' });
    db.prisma = again.prisma;
    db.close = again.close;
    expect(await shared()).toBe('24MB');
  });
});
