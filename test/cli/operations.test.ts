// migrate, import and replay-failed as an operator runs them: the CLI in its own process
// on a data directory, the real engine, a HubSpot sandbox on loopback.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrganization } from '../../src/auth.ts';
import { loadConfig } from '../../src/config.ts';
import { openDatabase, type Database } from '../../src/db/client.ts';
import { listMigrations } from '../../src/db/migrate.ts';
import { createSyncEngine } from '../../src/engine/index.ts';
import { createLogger } from '../../src/logger.ts';
import { createAppPubSub } from '../../src/pubsub.ts';
import { startHubSpotSandbox, type HubSpotSandbox } from '../../sandboxes/hubspot/server.ts';
import { freshDataDir } from '../helpers/db.ts';
import { crmSync, crmSyncOk } from './run.ts';

/** The database of `dataDir` with an engine on it, for setting up and inspecting what the CLI sees. */
async function withEngine<T>(dataDir: string, fn: (db: Database, engine: ReturnType<typeof createSyncEngine>) => Promise<T>): Promise<T> {
  const db = await openDatabase({ dataDir, migrate: false });
  const config = loadConfig({ DATA_DIR: dataDir, WORKERS: 'false', POLL_INTERVAL_MS: '0', CRM_ALLOW_LOCAL_HOSTS: 'true' });
  const engine = createSyncEngine({ config, prisma: db.prisma, logger: createLogger('silent'), pubsub: createAppPubSub() });
  try {
    return await fn(db, engine);
  } finally {
    await engine.stop();
    await db.close();
  }
}

describe('crm-sync migrate', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'crm-sync-cli-migrate-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('on an empty directory: other commands ask for it, it applies every migration, then reports up to date', async () => {
    const before = await crmSync(['org', 'create', '--name', 'Too early'], { DATA_DIR: dir });
    expect(before.code).toBe(1);
    expect(before.stderr).toBe('crm-sync: The database has no schema yet: run `crm-sync migrate` first.\n');

    const names = (await listMigrations()).map((m) => m.name);
    const first = await crmSyncOk(['migrate', '--data-dir', dir]);
    expect(first.stdout).toBe(`Applied ${names.length} migration${names.length === 1 ? '' : 's'}:\n${names.map((n) => `  ${n}\n`).join('')}`);
    const second = await crmSyncOk(['migrate', '--json'], { DATA_DIR: dir });
    expect(JSON.parse(second.stdout)).toEqual({ applied: [], migrations: names, database: 'pglite' });
    await crmSyncOk(['org', 'create', '--name', 'Now'], { DATA_DIR: dir });
  }, 300_000);
});

describe('crm-sync import and replay-failed', () => {
  let dataDir: string;
  let hs: HubSpotSandbox;
  let orgId: string;
  let integrationId: string;

  beforeAll(async () => {
    dataDir = await freshDataDir();
    hs = await startHubSpotSandbox({ rateLimit: null, searchRateLimit: null });
    for (let i = 0; i < 230; i++) hs.createContactAsUser({ email: `person${i}@import.test`, firstname: `P${i}` });
    for (let i = 0; i < 4; i++) hs.createContactAsUser({ email: null, firstname: `Nameless ${i}` });
    await withEngine(dataDir, async (db, engine) => {
      orgId = (await createOrganization(db.prisma, 'Acme')).id;
      // Already on the platform: the import links it instead of creating a second lead.
      await engine.createLead(orgId, { email: 'person7@import.test', firstName: 'Seven' });
      const integration = await engine.createIntegration(orgId, {
        provider: 'HUBSPOT',
        name: 'HubSpot sandbox',
        accountId: String(hs.portalId),
        apiBaseUrl: hs.url,
        accessToken: hs.accessToken,
        autoSync: false,
      });
      integrationId = integration.id;
    });
  }, 120_000);
  afterAll(async () => {
    await hs?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('imports every contact with progress and a summary; a second run creates nothing', async () => {
    const first = await crmSyncOk(['import', '--integration', integrationId], { DATA_DIR: dataDir });
    expect(first.stdout).toContain('Import completed: hubspot "HubSpot sandbox"');
    expect(first.stdout).toMatch(/^ {2}pages {5}3$/m);
    expect(first.stdout).toMatch(/^ {2}created {3}229$/m);
    expect(first.stdout).toMatch(/^ {2}linked {4}1$/m);
    expect(first.stdout).toMatch(/^ {2}skipped {3}4$/m);
    expect(first.stdout).toMatch(/^ {2}failed {4}0$/m);
    expect(first.stdout).toMatch(/^ {2}duration {2}\d+\.\d s$/m);
    expect(first.stdout).toMatch(/^ {2}rate {6}\d+ records\/s \(234 records\)$/m);
    // Not a terminal: one plain progress line per page, on stderr.
    expect(first.stderr.match(/^progress: page \d+, \d+ records/gm)).toHaveLength(3);
    expect(first.stderr).toContain('progress: page 3, 234 records (created 229, linked 1');

    await withEngine(dataDir, async (db) => {
      expect(await db.prisma.lead.count({ where: { organizationId: orgId } })).toBe(230);
      expect(await db.prisma.crmLink.count({ where: { integrationId } })).toBe(230);
    });

    const second = await crmSyncOk(['import', '--integration', integrationId, '--json', '--quiet'], { DATA_DIR: dataDir });
    const summary = JSON.parse(second.stdout);
    expect(summary).toMatchObject({ integrationId, status: 'completed', pages: 3, records: 234, created: 0, linked: 0, failed: 0, error: null });
    expect(second.stderr).not.toContain('progress:');
  }, 300_000);

  it('an import that fails exits 1 with the CRM error; an unknown integration is an error', async () => {
    hs.expireAccessToken(hs.accessToken);
    const failed = await crmSync(['import', '--integration', integrationId, '--quiet'], { DATA_DIR: dataDir });
    expect(failed.code).toBe(1);
    expect(failed.stdout).toContain('Import failed: hubspot "HubSpot sandbox"');
    expect(failed.stderr).toMatch(/^crm-sync: import failed: AUTH_EXPIRED: /m);
    expect(failed.stderr).not.toMatch(/\n\s+at /);

    const unknown = await crmSync(['import', '--integration', 'no-such-integration'], { DATA_DIR: dataDir });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^crm-sync: Integration no-such-integration not found$/m);
  }, 120_000);

  it('replay-failed puts failed pushes and failed inbound events back to pending and prints the counts', async () => {
    await withEngine(dataDir, async (db) => {
      const leads = await db.prisma.lead.findMany({ where: { organizationId: orgId }, take: 3, orderBy: { email: 'asc' } });
      await db.prisma.outboxItem.createMany({
        data: leads.map((l) => ({ organizationId: orgId, integrationId, leadId: l.id, leadVersion: 1, status: 'failed' as const, attempts: 6, errorCode: 'UPSTREAM' })),
      });
      await db.prisma.inboxEvent.create({
        data: { integrationId, dedupeKey: 'replay-1', kind: 'update', externalId: '1', occurredAt: new Date(), payload: {}, status: 'failed', attempts: 6, errorCode: 'UPSTREAM' },
      });
    });

    const r = await crmSyncOk(['replay-failed', '--org', orgId], { DATA_DIR: dataDir });
    expect(r.stdout).toContain('Replayed 3 failed pushes and 1 failed inbound event.');
    await withEngine(dataDir, async (db) => {
      expect(await db.prisma.outboxItem.count({ where: { integrationId, status: 'pending', attempts: 0 } })).toBe(3);
      expect(await db.prisma.inboxEvent.count({ where: { integrationId, status: 'pending', attempts: 0 } })).toBe(1);
      expect(await db.prisma.outboxItem.count({ where: { status: 'failed' } })).toBe(0);
    });

    const again = await crmSyncOk(['replay-failed', '--integration', integrationId, '--json'], { DATA_DIR: dataDir });
    expect(JSON.parse(again.stdout)).toEqual({ pushes: 0, inboundEvents: 0, organizations: 1 });
    const wrongOrg = await crmSync(['replay-failed', '--org', 'no-such-org'], { DATA_DIR: dataDir });
    expect(wrongOrg.code).toBe(1);
    expect(wrongOrg.stderr).toMatch(/^crm-sync: Organization no-such-org not found$/m);
  }, 300_000);
});
