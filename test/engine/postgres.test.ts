// The same schema, migrations and lease claiming on a real PostgreSQL, with two
// engine instances sharing it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/client.ts';
import { claim } from '../../src/engine/queue.ts';
import { postgresAvailable, startPostgres, type PostgresCluster } from '../helpers/postgres.ts';

// Required in CI (.ci/run installs PostgreSQL); elsewhere run when it is installed.
const required = process.env.CI === 'true' || postgresAvailable();

describe.runIf(required)('real PostgreSQL', () => {
  let pg: PostgresCluster;
  let a: Database;
  let b: Database;

  beforeAll(async () => {
    pg = await startPostgres();
    a = await openDatabase({ databaseUrl: pg.url, dataDir: '/nonexistent' });
    b = await openDatabase({ databaseUrl: pg.url, dataDir: '/nonexistent' });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await pg?.stop();
  });

  it('applies the committed migrations once, whichever instance starts first', async () => {
    expect(a.kind).toBe('postgres');
    expect(a.appliedMigrations.length).toBeGreaterThan(0);
    expect(b.appliedMigrations).toEqual([]);
  });

  it('never lets two instances claim the same event', async () => {
    const org = await a.prisma.organization.create({ data: { name: 'Acme' } });
    const integration = await a.prisma.integration.create({
      data: { organizationId: org.id, provider: 'HUBSPOT', name: 'hs', accountId: '1', apiBaseUrl: 'http://x', credentials: '{}' },
    });
    await a.prisma.inboxEvent.createMany({
      data: Array.from({ length: 400 }, (_, i) => ({
        integrationId: integration.id,
        dedupeKey: `k${i}`,
        kind: 'created',
        externalId: String(i),
        occurredAt: new Date(1_700_000_000_000 + i),
        payload: {},
      })),
    });
    const claimed: string[][] = [];
    const worker = async (db: Database, name: string) => {
      for (;;) {
        const ids = await claim(db.prisma, 'InboxEvent', name, 25, 'occurredAt');
        if (ids.length === 0) return;
        claimed.push(ids);
      }
    };
    await Promise.all([worker(a, 'a1'), worker(a, 'a2'), worker(b, 'b1'), worker(b, 'b2')]);
    const all = claimed.flat();
    expect(all.length).toBe(400);
    expect(new Set(all).size).toBe(400);
  });
});
