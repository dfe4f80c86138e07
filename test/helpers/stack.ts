// The whole service for end-to-end tests: a fresh database, the real engine with the
// real adapters, the HTTP app on a loopback port, an organization with an API key,
// and a HubSpot sandbox whose webhooks are aimed at the service.
import { buildApp, type App } from '../../src/app.ts';
import { createApiKey, createOrganization } from '../../src/auth.ts';
import { loadConfig, type Config } from '../../src/config.ts';
import { createSyncEngine, type SyncEngine } from '../../src/engine/index.ts';
import { createAppPubSub, type PubSub } from '../../src/pubsub.ts';
import { startHubSpotSandbox, type HubSpotSandbox, type HubSpotSandboxOptions } from '../sandboxes/hubspot/server.ts';
import { freshDatabase, type TestDatabase } from './db.ts';
import { memoryLogger } from './engine.ts';
import { freePort } from './net.ts';

export const HUBSPOT_SECRET = 'hubspot-app-client-secret-for-tests';

export interface Stack {
  db: TestDatabase;
  config: Config;
  engine: SyncEngine;
  app: App;
  pubsub: PubSub;
  url: string;
  orgId: string;
  apiKey: string;
  logs: () => Record<string, unknown>[];
  /** POSTs a GraphQL operation with the stack's API key (or `key`); returns the parsed body. */
  gql<T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>, key?: string): Promise<{ data?: T; errors?: { message: string; extensions?: Record<string, unknown> }[] }>;
  /** Same, and fails the test on GraphQL errors. */
  gqlOk<T = Record<string, any>>(query: string, variables?: Record<string, unknown>, key?: string): Promise<T>;
  newOrg(name: string): Promise<{ orgId: string; apiKey: string }>;
  stop(): Promise<void>;
}

export async function startStack(env: Record<string, string> = {}): Promise<Stack> {
  const db = await freshDatabase();
  const port = await freePort();
  const config = loadConfig({
    PORT: String(port),
    HOST: '127.0.0.1',
    PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
    HUBSPOT_CLIENT_SECRET: HUBSPOT_SECRET,
    POLL_INTERVAL_MS: '0',
    LOG_LEVEL: 'debug',
    WORK_LEASE_MS: '5000',
    ...env,
  });
  const mem = memoryLogger();
  const pubsub = createAppPubSub();
  const engine = createSyncEngine({ config, prisma: db.prisma, logger: mem.logger, pubsub, idleMs: 200 });
  const app = buildApp({ config, db, logger: mem.logger, pubsub, service: engine });
  const { url } = await app.start(port);
  engine.start();
  const newOrg = async (name: string) => {
    const org = await createOrganization(db.prisma, name);
    const key = await createApiKey(db.prisma, org.id, 'tests');
    return { orgId: org.id, apiKey: key.key };
  };
  const first = await newOrg('Acme');
  const gql: Stack['gql'] = async (query, variables, key) => {
    const res = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key ?? first.apiKey}` },
      body: JSON.stringify({ query, variables }),
    });
    return (await res.json()) as never;
  };
  return {
    db,
    config,
    engine,
    app,
    pubsub,
    url,
    orgId: first.orgId,
    apiKey: first.apiKey,
    logs: mem.lines,
    gql,
    async gqlOk(query, variables, key) {
      const r = await gql(query, variables, key);
      if (r.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(r.errors)}`);
      return r.data as never;
    },
    newOrg,
    async stop() {
      await app.stop();
      await engine.stop();
      await db.destroy();
    },
  };
}

/** A HubSpot sandbox whose webhooks go to the stack, with the standard subscriptions. */
export async function startHubSpotFor(stack: Stack, opts: HubSpotSandboxOptions = {}): Promise<HubSpotSandbox> {
  return startHubSpotSandbox({
    clientSecret: HUBSPOT_SECRET,
    webhookTargetUrl: `${stack.config.PUBLIC_BASE_URL}/api/v1/webhooks/hubspot`,
    subscriptions: 'default',
    webhookRetryDelaysMs: [200, 400, 800],
    webhookBatchWindowMs: 20,
    ...opts,
  });
}

export const INTEGRATION_FIELDS = 'id name provider accountId autoSync webhooksEnabled';

/** Creates a HubSpot integration for the stack's organization and enables its webhooks. */
export async function connectHubSpot(stack: Stack, hs: HubSpotSandbox, opts: { autoSync?: boolean; key?: string } = {}) {
  const data = await stack.gqlOk<{ createIntegration: { id: string } }>(
    `mutation($input: CreateIntegrationInput!) { createIntegration(input: $input) { ${INTEGRATION_FIELDS} } }`,
    {
      input: {
        provider: 'HUBSPOT',
        name: 'HubSpot sandbox',
        accountId: String(hs.portalId),
        apiBaseUrl: hs.url,
        accessToken: hs.accessToken,
        autoSync: opts.autoSync ?? true,
      },
    },
    opts.key,
  );
  const integrationId = data.createIntegration.id;
  await stack.gqlOk(`mutation($id: ID!) { enableWebhooks(integrationId: $id) { status { enabled } } }`, { id: integrationId }, opts.key);
  return integrationId;
}
