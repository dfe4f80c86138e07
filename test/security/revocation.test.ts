// A key revoked while its subscriptions are open ends them: the graphql-ws socket is
// closed with 4403, the SSE stream yields UNAUTHENTICATED and ends, on the instance that
// revoked it and on the others (through Redis), and also when the key was revoked
// straight in the database (the CLI) by the periodic check.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../src/app.ts';
import { createApiKey, revokeApiKey } from '../../src/auth.ts';
import { createSyncEngine, type SyncEngine } from '../../src/engine/index.ts';
import { createAppPubSub, type PubSub } from '../../src/pubsub.ts';
import { keyringFromConfig } from '../../src/secrets.ts';
import { apikeyRevokeCommand } from '../../src/cli/apikey.ts';
import type { CommandContext } from '../../src/cli/common.ts';
import { CREATE_LEAD, firstEventWhileProducing, gql, newTenant, sseEvents, startApi, wsClient, type Tenant, type TestApi } from '../api/harness.ts';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';
import { memoryLogger, testConfig } from '../helpers/engine.ts';
import { redisAvailable, startRedis } from '../helpers/redis.ts';

const REVOKE = 'mutation ($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }';
const SUBSCRIBE = 'subscription { leadCreated { id email } }';
type LeadEvent = { leadCreated: { id: string; email: string } };

interface Target {
  url: string;
}

/** An SSE subscription to leadCreated, proven live by a lead created through `producer`. */
async function liveSse(target: Target, key: string, producer: Target, producerKey: string, tag: string) {
  const abort = new AbortController();
  const res = await fetch(`${target.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query: SUBSCRIBE }),
    signal: abort.signal,
  });
  expect(res.status).toBe(200);
  const events = sseEvents(res);
  await firstEventWhileProducing(events.next(), (n) => gql(producer as TestApi, producerKey, CREATE_LEAD, { input: { email: `${tag}-${n}@example.com` } }));
  return { events, abort };
}

/** A graphql-ws subscription to leadCreated, proven live; resolves `closed` with the close code. */
async function liveWs(target: Target, key: string, producer: Target, producerKey: string, tag: string) {
  let onClose!: (code: number) => void;
  const closed = new Promise<number>((resolve) => (onClose = resolve));
  const client = wsClient(target as TestApi, key, (e) => onClose(e.code), true);
  const events = client.iterate<LeadEvent>({ query: SUBSCRIBE });
  await firstEventWhileProducing(events.next(), (n) => gql(producer as TestApi, producerKey, CREATE_LEAD, { input: { email: `${tag}-${n}@example.com` } }));
  return { client, events, closed };
}

/** What is left of an SSE stream: its events until it ends. */
async function rest(events: AsyncGenerator<any>): Promise<any[]> {
  const left: any[] = [];
  for await (const e of events) left.push(e);
  return left;
}

describe('revoking a key ends its open subscriptions (one instance)', () => {
  let api: TestApi;
  let admin: Tenant;
  beforeAll(async () => {
    api = await startApi({ revocationSweepMs: 200 });
    admin = await newTenant(api, 'Acme');
  });
  afterAll(() => api?.close());

  const subscriberKey = async (name: string) => createApiKey(api.db.prisma, admin.organizationId, name, ['leads:read']);

  it('over graphql-ws: revokeApiKey closes the socket with 4403 and no later lead is delivered', async () => {
    const key = await subscriberKey('ws subscriber');
    const other = await subscriberKey('ws bystander');
    const sub = await liveWs(api, key.key, api, admin.key, 'ws-live');
    const bystander = await liveWs(api, other.key, api, admin.key, 'ws-bystander');
    try {
      const revoked = await gql(api, admin.key, REVOKE, { id: key.id });
      expect(revoked.body.data?.revokeApiKey.revokedAt).toBeTruthy();
      expect(await sub.closed).toBe(4403);
      // The subscription is over: no lead created from now on reaches it (what it still
      // yields arrived before the revocation).
      await gql(api, admin.key, CREATE_LEAD, { input: { email: 'missed-after-revoke@example.com' } });
      const after: string[] = [];
      try {
        for (;;) {
          const r = await sub.events.next();
          if (r.done) break;
          after.push(r.value.data!.leadCreated.email);
        }
      } catch {
        // the closed socket ends the iteration with its close event
      }
      expect(after).not.toContain('missed-after-revoke@example.com');
      // Another key's socket stays open and keeps receiving.
      const next = bystander.events.next();
      await gql(api, admin.key, CREATE_LEAD, { input: { email: 'after-ws-revoke@example.com' } });
      expect((await next).value?.data?.leadCreated).toBeDefined();
    } finally {
      await sub.client.dispose();
      await bystander.client.dispose();
    }
  });

  it('over SSE: revokeApiKey ends the stream with one UNAUTHENTICATED error', async () => {
    const key = await subscriberKey('sse subscriber');
    const { events, abort } = await liveSse(api, key.key, api, admin.key, 'sse-live');
    try {
      await gql(api, admin.key, REVOKE, { id: key.id });
      const left = await rest(events);
      expect(left.at(-1)).toEqual({ errors: [expect.objectContaining({ extensions: { code: 'UNAUTHENTICATED' } })] });
      expect(left.filter((e) => e.data?.leadCreated)).toEqual(left.slice(0, -1));
    } finally {
      abort.abort();
    }
  });

  it('a key revoked in the database alone (as the CLI does) ends its streams at the next check', async () => {
    const key = await subscriberKey('cli-revoked subscriber');
    const sse = await liveSse(api, key.key, api, admin.key, 'cli-sse');
    const ws = await liveWs(api, key.key, api, admin.key, 'cli-ws');
    try {
      expect(await revokeApiKey(api.db.prisma, admin.organizationId, key.id)).toBe(true);
      expect(await ws.closed).toBe(4403);
      const left = await rest(sse.events);
      expect(left.at(-1)?.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    } finally {
      sse.abort.abort();
      await ws.client.dispose();
    }
  });
});

describe.skipIf(!redisAvailable())('revoking a key on one instance ends its streams on another (Redis)', () => {
  let redis: Awaited<ReturnType<typeof startRedis>>;
  let db: TestDatabase;
  const instances: { app: App; engine: SyncEngine; pubsub: PubSub; url: string }[] = [];
  let org: string;
  let adminKey: string;

  beforeAll(async () => {
    redis = await startRedis();
    db = await freshDatabase();
    // Database checks far apart: only the Redis message can end the stream in time.
    const config = testConfig({ HOST: '127.0.0.1', PUBLIC_BASE_URL: 'http://127.0.0.1:9', REDIS_URL: redis.url });
    for (let i = 0; i < 2; i++) {
      const mem = memoryLogger();
      const pubsub = createAppPubSub(redis.url);
      const engine = createSyncEngine({ config, prisma: db.prisma, logger: mem.logger, pubsub, keyring: keyringFromConfig(config, mem.logger) });
      const app = buildApp({ config, db, logger: mem.logger, pubsub, service: engine, revocationSweepMs: 3_600_000 });
      const { url } = await app.start(0);
      instances.push({ app, engine, pubsub, url });
    }
    const created = await db.prisma.organization.create({ data: { name: 'Acme' } });
    org = created.id;
    adminKey = (await createApiKey(db.prisma, org, 'admin')).key;
  });
  afterAll(async () => {
    for (const i of instances) {
      await i.app.stop();
      await i.engine.stop();
      await i.pubsub.close();
    }
    await db?.destroy();
    await redis?.stop();
  });

  it('SSE and graphql-ws on instance B end when instance A revokes the key', async () => {
    const [a, b] = instances;
    const key = await createApiKey(db.prisma, org, 'subscriber on B', ['leads:read']);
    // Leads created on A reach B's subscribers through Redis: both streams are live.
    const sse = await liveSse(b, key.key, a, adminKey, 'redis-sse');
    const ws = await liveWs(b, key.key, a, adminKey, 'redis-ws');
    try {
      const revoked = await gql(a as unknown as TestApi, adminKey, REVOKE, { id: key.id });
      expect(revoked.body.errors).toBeUndefined();
      expect(await ws.closed).toBe(4403);
      const left = await rest(sse.events);
      expect(left.at(-1)?.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    } finally {
      sse.abort.abort();
      await ws.client.dispose();
    }
  });
  it('crm-sync apikey revoke tells every instance through Redis: their streams end without waiting for the database check', async () => {
    const [a, b] = instances;
    const key = await createApiKey(db.prisma, org, 'subscriber revoked by an operator', ['leads:read']);
    const ws = await liveWs(b, key.key, a, adminKey, 'cli-ws');
    try {
      // The CLI command as an operator runs it, on the same database and Redis as the instances.
      const ctx: CommandContext = {
        values: { org, id: key.id },
        positionals: [],
        json: true,
        out: { line: () => {}, json: () => {}, isTTY: false },
        usage: '',
        config: () => testConfig({ REDIS_URL: redis.url }),
        openDb: async () => ({ ...db, close: async () => {} }) as unknown as Awaited<ReturnType<CommandContext['openDb']>>,
        logger: async () => memoryLogger().logger,
      };
      await apikeyRevokeCommand.run(ctx);
      // The instances check the database once an hour here: only the announcement can close it.
      expect(await ws.closed).toBe(4403);
    } finally {
      await ws.client.dispose();
    }
  });
});
