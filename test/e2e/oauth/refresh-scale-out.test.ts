// One token refresh per integration across workers AND instances: two services on one
// PostgreSQL, ten clients (five per instance, as separate workers and processes hold
// them) whose access token HubSpot now refuses as expired. HubSpot's token endpoint is
// called exactly once; every worker goes on with the new token, which was stored
// (encrypted) before any of them got it. HubSpot access tokens "are short lived; check
// expires_in" (developers.hubspot.com, OAuth: 30 minutes), so this happens every half hour.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubspotAdapter } from '../../../adapters/hubspot/index.ts';
import { buildApp, type App } from '../../../src/app.ts';
import { createOrganization } from '../../../src/auth.ts';
import { loadConfig, type Config } from '../../../src/config.ts';
import { openDatabase, type Database } from '../../../src/db/client.ts';
import { readCredentials } from '../../../src/engine/connections.ts';
import { createSyncEngine, type SyncEngine } from '../../../src/engine/index.ts';
import { createAppPubSub } from '../../../src/pubsub.ts';
import { keyringFromConfig } from '../../../src/secrets.ts';
import { startHubSpotSandbox, type HubSpotSandbox } from '../../../sandboxes/hubspot/server.ts';
import { memoryLogger } from '../../helpers/engine.ts';
import { freePort } from '../../helpers/net.ts';
import { postgresAvailable, startPostgres, type PostgresCluster } from '../../helpers/postgres.ts';
import { HUBSPOT_SECRET } from '../../helpers/stack.ts';
import { randomBytes } from 'node:crypto';

const required = process.env.CI === 'true' || postgresAvailable();
const ENCRYPTION_KEY = randomBytes(32).toString('base64');

interface Instance {
  config: Config;
  engine: SyncEngine;
  db: Database;
  app: App | null;
  url: string | null;
}

describe.runIf(required)('token refresh on two instances sharing PostgreSQL', () => {
  let pg: PostgresCluster;
  let hs: HubSpotSandbox;
  let a: Instance;
  let b: Instance;
  const redirectUris: string[] = [];

  async function instance(name: string, port: number, serve: boolean): Promise<Instance> {
    const config = loadConfig({
      PORT: String(port),
      HOST: '127.0.0.1',
      PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
      DATABASE_URL: pg.url,
      HUBSPOT_CLIENT_SECRET: HUBSPOT_SECRET,
      HUBSPOT_CLIENT_ID: hs.oauthClientId,
      HUBSPOT_AUTHORIZE_URL: hs.url,
      HUBSPOT_API_BASE_URL: hs.url,
      ENCRYPTION_KEY,
      POLL_INTERVAL_MS: '0',
      WORKERS: 'false',
      INSTANCE_ID: name,
      LOG_LEVEL: 'debug',
      CRM_ALLOW_LOCAL_HOSTS: 'true',
    });
    const db = await openDatabase({ databaseUrl: pg.url, dataDir: '/nonexistent' });
    const { logger } = memoryLogger();
    const pubsub = createAppPubSub();
    const engine = createSyncEngine({ config, prisma: db.prisma, logger, pubsub, keyring: keyringFromConfig(config, logger) });
    if (!serve) return { config, engine, db, app: null, url: null };
    const app = buildApp({ config, db, logger, pubsub, service: engine });
    const { url } = await app.start(port);
    return { config, engine, db, app, url };
  }

  beforeAll(async () => {
    pg = await startPostgres();
    // HubSpot keeps the same refresh token on refresh; this app rotates them, so keeping
    // the rotated one is tested too (a stale one is refused as invalid_grant).
    hs = await startHubSpotSandbox({ clientSecret: HUBSPOT_SECRET, oauth: { redirectUris, rotateRefreshTokens: true } });
    const portA = await freePort();
    a = await instance('instance-a', portA, true);
    b = await instance('instance-b', await freePort(), false);
    redirectUris.push(`${a.config.PUBLIC_BASE_URL}/api/v1/oauth/hubspot/callback`);
  }, 120_000);
  afterAll(async () => {
    for (const i of [a, b]) {
      await i?.app?.stop();
      await i?.engine.stop();
      await i?.db.close();
    }
    await hs?.close();
    await pg?.stop();
  });

  it('ten workers on two instances meeting an expired token make exactly one refresh call; the rotated refresh token is kept', async () => {
    const org = await createOrganization(a.db.prisma, 'Acme');
    const started = await a.engine.connectCrm({ organizationId: org.id, apiKeyId: null }, { provider: 'HUBSPOT', name: 'HubSpot' });
    const consent = await fetch(started.authorizeUrl, { redirect: 'manual' });
    const back = await fetch(consent.headers.get('location')!, { redirect: 'manual' });
    expect(back.status).toBe(303);
    const integration = await a.db.prisma.integration.findFirstOrThrow({ where: { organizationId: org.id } });
    const first = readCredentials(integration, a.engine.connections.keyring);

    // Every worker holds the credentials as stored; then the token expires at HubSpot.
    const workers = [a, b].flatMap((inst) =>
      Array.from({ length: 5 }, () =>
        hubspotAdapter.connect({
          baseUrl: integration.apiBaseUrl,
          accountId: integration.accountId,
          credentials: { ...first },
          settings: {},
          tokens: inst.engine.connections.tokensFor(integration.id),
          network: { allowLocalHosts: true },
        }),
      ),
    );
    hs.controls.setClock(new Date(Date.now() + 31 * 60_000));
    const tokenCalls = () => hs.controls.requests.filter((r) => r.method === 'POST' && r.path === '/oauth/2026-03/token').length;
    const before = tokenCalls();
    const answers = await Promise.all(workers.map((w) => w.whoami()));
    expect(answers.every((x) => x.accountId === String(hs.portalId))).toBe(true);
    expect(tokenCalls() - before).toBe(1);
    // Counted once too, on whichever instance made it.
    const renewed = async () => {
      let n = 0;
      for (const inst of [a, b]) {
        const m = await inst.engine.metrics.tokenRefreshes.get();
        n += m.values.filter((v) => v.labels.outcome === 'renewed').reduce((sum, v) => sum + v.value, 0);
      }
      return n;
    };
    expect(await renewed()).toBe(1);

    const stored = readCredentials(await b.db.prisma.integration.findUniqueOrThrow({ where: { id: integration.id } }), b.engine.connections.keyring);
    expect(stored.accessToken).not.toBe(first.accessToken);
    expect(stored.refreshToken).not.toBe(first.refreshToken);
    expect(await a.db.prisma.integration.findUniqueOrThrow({ where: { id: integration.id }, select: { refreshLeaseBy: true, connectionState: true } })).toEqual({
      refreshLeaseBy: null,
      connectionState: 'connected',
    });

    // Half an hour later again: the rotated refresh token (the old one is gone at HubSpot) renews.
    hs.controls.setClock(new Date(Date.now() + 62 * 60_000));
    const again = await Promise.all(workers.map((w) => w.whoami()));
    expect(again).toHaveLength(10);
    expect(tokenCalls() - before).toBe(2);
  });
});
