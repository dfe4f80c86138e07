// Several instances: two complete services (HTTP, GraphQL, engine) sharing one real
// PostgreSQL and one Redis. HubSpot's webhooks land on instance A, a subscriber is
// connected to instance B: it sees the lead, and both instances' workers together
// apply every event exactly once.
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../src/app.ts';
import { createApiKey, createOrganization } from '../../src/auth.ts';
import { loadConfig } from '../../src/config.ts';
import { openDatabase, type Database } from '../../src/db/client.ts';
import { createSyncEngine, type SyncEngine } from '../../src/engine/index.ts';
import { createAppPubSub, type PubSub } from '../../src/pubsub.ts';
import { startHubSpotSandbox, type HubSpotSandbox } from '../../sandboxes/hubspot/server.ts';
import { memoryLogger } from '../helpers/engine.ts';
import { eventually, freePort } from '../helpers/net.ts';
import { postgresAvailable, startPostgres, type PostgresCluster } from '../helpers/postgres.ts';
import { redisAvailable, startRedis } from '../helpers/redis.ts';

const SECRET = 'scale-out-secret';
const required = process.env.CI === 'true' || (postgresAvailable() && redisAvailable());

interface Instance {
  url: string;
  app: App;
  engine: SyncEngine;
  db: Database;
  pubsub: PubSub;
  stop(): Promise<void>;
}

describe.runIf(required)('two instances on one PostgreSQL and one Redis', () => {
  let pg: PostgresCluster;
  let redis: { url: string; stop(): Promise<void> };
  let a: Instance;
  let b: Instance;
  let hs: HubSpotSandbox;
  let key: string;

  async function instance(name: string, publicPort: number): Promise<Instance> {
    const port = publicPort;
    const config = loadConfig({
      PORT: String(port),
      HOST: '127.0.0.1',
      PUBLIC_BASE_URL: `http://127.0.0.1:${publicPort}`,
      DATABASE_URL: pg.url,
      REDIS_URL: redis.url,
      HUBSPOT_CLIENT_SECRET: SECRET,
      POLL_INTERVAL_MS: '0',
      INSTANCE_ID: name,
      LOG_LEVEL: 'debug',
      CRM_ALLOW_LOCAL_HOSTS: 'true', // the sandbox listens on loopback over http
    });
    const db = await openDatabase({ databaseUrl: pg.url, dataDir: '/nonexistent' });
    const pubsub = createAppPubSub(redis.url);
    const { logger } = memoryLogger();
    const engine = createSyncEngine({ config, prisma: db.prisma, logger, pubsub, idleMs: 100 });
    const app = buildApp({ config, db, logger, pubsub, service: engine });
    const { url } = await app.start(port);
    engine.start();
    return {
      url,
      app,
      engine,
      db,
      pubsub,
      async stop() {
        await app.stop();
        await engine.stop();
        await pubsub.close();
        await db.close();
      },
    };
  }

  beforeAll(async () => {
    pg = await startPostgres();
    redis = await startRedis();
    a = await instance('instance-a', await freePort());
    b = await instance('instance-b', await freePort());
    const org = await createOrganization(a.db.prisma, 'Acme');
    key = (await createApiKey(a.db.prisma, org.id, 'scale')).key;
    hs = await startHubSpotSandbox({
      clientSecret: SECRET,
      webhookTargetUrl: `${a.url}/api/v1/webhooks/hubspot`,
      subscriptions: 'default',
      webhookRetryDelaysMs: [100],
    });
    const integration = await a.engine.createIntegration(org.id, {
      provider: 'HUBSPOT',
      name: 'hs',
      accountId: String(hs.portalId),
      apiBaseUrl: hs.url,
      accessToken: hs.accessToken,
    });
    await a.engine.enableWebhooks(org.id, integration.id);
  });
  afterAll(async () => {
    await hs?.close();
    await a?.stop();
    await b?.stop();
    await redis?.stop();
    await pg?.stop();
  });

  it('shows a lead that arrived through instance A to a subscriber on instance B, created once', async () => {
    const ws = createClient({ url: `${b.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams: { Authorization: `Bearer ${key}` } });
    const seen: string[] = [];
    const unsubscribe = ws.subscribe(
      { query: 'subscription { leadCreated { email crmMetadata { sourceSystem } } }' },
      { next: (v) => seen.push((v.data as any).leadCreated.email), error: () => {}, complete: () => {} },
    );
    await new Promise((r) => setTimeout(r, 300));
    hs.setWebhookBehavior({ concurrentCopies: 3, duplicates: 2 });
    for (let i = 0; i < 20; i++) hs.createContactAsUser({ email: `scale${i}@example.com`, firstname: 'Scale' });
    await hs.flushWebhooks();
    await eventually(() => seen.length >= 20, 30_000, 'leadCreated on instance B');
    await Promise.all([a.engine.drain(), b.engine.drain()]);
    unsubscribe();
    await ws.dispose();
    expect([...new Set(seen)].sort()).toEqual(Array.from({ length: 20 }, (_, i) => `scale${i}@example.com`).sort());
    expect(seen.length).toBe(20);
    expect(await a.db.prisma.lead.count()).toBe(20);
    const applied = await a.db.prisma.inboxEvent.findMany({ where: { kind: 'created' } });
    expect(applied.every((e) => e.status === 'done')).toBe(true);
  });
});
