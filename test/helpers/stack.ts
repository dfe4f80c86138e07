// The whole service for end-to-end tests: a fresh database, the real engine with the
// real adapters, the HTTP app on a loopback port, an organization with an API key,
// and HubSpot, Salesforce and Zoho sandboxes whose notifications are aimed at the service.
import { randomBytes } from 'node:crypto';
import { buildApp, type App } from '../../src/app.ts';
import { createApiKey, createOrganization } from '../../src/auth.ts';
import { loadConfig, type Config } from '../../src/config.ts';
import { readCredentials } from '../../src/engine/connections.ts';
import { createSyncEngine, type SyncEngine } from '../../src/engine/index.ts';
import type { Logger } from '../../src/logger.ts';
import { createAppPubSub, type PubSub } from '../../src/pubsub.ts';
import { keyringFromConfig, type Keyring } from '../../src/secrets.ts';
import { startHubSpotSandbox, type HubSpotSandbox, type HubSpotSandboxOptions } from '../../sandboxes/hubspot/server.ts';
import { startSalesforceSandbox, type SalesforceSandbox, type SalesforceSandboxOptions } from '../../sandboxes/salesforce/index.ts';
import { startZohoSandbox, type ZohoSandbox, type ZohoSandboxOptions } from '../../sandboxes/zoho/index.ts';
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
  /** Encrypts the integrations' credentials column. */
  keyring: Keyring;
  /** The decrypted credentials of an integration row (the column holds ciphertext). */
  keyringCredentials(row: { credentials: string }): Record<string, string>;
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

export async function startStack(env: Record<string, string> = {}, opts: { logger?: { logger: Logger; lines: () => Record<string, unknown>[] } } = {}): Promise<Stack> {
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
    DATA_DIR: db.dataDir,
    ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    // The sandboxes listen on loopback over http.
    CRM_ALLOW_LOCAL_HOSTS: 'true',
    ...env,
  });
  const mem = opts.logger ?? memoryLogger();
  const pubsub = createAppPubSub();
  const keyring = keyringFromConfig(config, mem.logger);
  const engine = createSyncEngine({ config, prisma: db.prisma, logger: mem.logger, pubsub, idleMs: 200, keyring });
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
    keyring,
    keyringCredentials: (row) => readCredentials(row, keyring) as Record<string, string>,
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
/** `app`: also the app's id and developer key, so enableWebhooks (and field mappings) manage the subscriptions. */
export async function connectHubSpot(stack: Stack, hs: HubSpotSandbox, opts: { autoSync?: boolean; key?: string; app?: boolean } = {}) {
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
        ...(opts.app ? { appId: String(hs.appId), developerApiKey: hs.developerApiKey } : {}),
      },
    },
    opts.key,
  );
  const integrationId = data.createIntegration.id;
  await stack.gqlOk(`mutation($id: ID!) { enableWebhooks(integrationId: $id) { status { enabled } } }`, { id: integrationId }, opts.key);
  return integrationId;
}

export interface Connected {
  integrationId: string;
  /** What enableWebhooks answered over GraphQL (status, provision report, webhook URL). */
  enabled: {
    status: { enabled: boolean; expiresAt: string | null; subscriptionId: string | null };
    provision: { originFieldReady: boolean; originFieldCreated: boolean; manualSteps: string[]; expiresAt: string | null; subscriptionId: string | null };
    webhookUrl: string;
  };
}

const ENABLE_FIELDS = 'status { enabled expiresAt subscriptionId } provision { originFieldReady originFieldCreated manualSteps expiresAt subscriptionId } webhookUrl';

async function createAndEnable(stack: Stack, input: Record<string, unknown>, key?: string): Promise<Connected> {
  const data = await stack.gqlOk<{ createIntegration: { id: string } }>(
    `mutation($input: CreateIntegrationInput!) { createIntegration(input: $input) { ${INTEGRATION_FIELDS} } }`,
    { input },
    key,
  );
  const integrationId = data.createIntegration.id;
  const r = await stack.gqlOk<{ enableWebhooks: Connected['enabled'] }>(
    `mutation($id: ID!) { enableWebhooks(integrationId: $id) { ${ENABLE_FIELDS} } }`,
    { id: integrationId },
    key,
  );
  return { integrationId, enabled: r.enableWebhooks };
}

/**
 * A Salesforce sandbox org whose Outbound Message is aimed at the stack (what the
 * administrator configures by hand, following enableWebhooks' manual steps). Until
 * connectSalesforce aims it at the integration's own endpoint URL (which ends with the
 * integration's secret), its messages are refused.
 */
export async function startSalesforceFor(stack: Stack, opts: SalesforceSandboxOptions = {}): Promise<SalesforceSandbox> {
  return startSalesforceSandbox({
    ...opts,
    outbound: {
      targetUrl: `${stack.config.PUBLIC_BASE_URL}/api/v1/webhooks/salesforce`,
      retryIntervalsMs: [50, 100, 200, 400],
      ...opts.outbound,
    },
  });
}

/** Creates a Salesforce integration (OAuth tokens of the sandbox's connected app) and enables its webhooks. */
export async function connectSalesforce(
  stack: Stack,
  sf: SalesforceSandbox,
  opts: { autoSync?: boolean; key?: string; accountId?: string; apiBaseUrl?: string } = {},
): Promise<Connected> {
  const c = sf.controls.credentials();
  const connected = await createAndEnable(
    stack,
    {
      provider: 'SALESFORCE',
      name: 'Salesforce sandbox',
      accountId: opts.accountId ?? sf.controls.organizationId,
      apiBaseUrl: opts.apiBaseUrl ?? sf.url,
      accessToken: c.accessToken,
      refreshToken: c.refreshToken,
      clientId: c.clientId,
      clientSecret: c.clientSecret,
      autoSync: opts.autoSync ?? true,
    },
    opts.key,
  );
  // The administrator pastes the endpoint URL enableWebhooks answered into the Outbound Message.
  if (sf.controls.outbound.config.targetUrl !== null) sf.controls.outbound.configure({ targetUrl: connected.enabled.webhookUrl });
  return connected;
}

/** A Zoho sandbox with its accounts host on its own port, as Zoho's data centres have. */
export async function startZohoFor(_stack: Stack, opts: ZohoSandboxOptions = {}): Promise<ZohoSandbox> {
  return startZohoSandbox({ separateAccounts: true, ...opts });
}

/** Creates a Zoho integration (a token issued by the sandbox's accounts host) and enables its webhooks (a notification channel). */
export async function connectZoho(
  stack: Stack,
  zs: ZohoSandbox,
  opts: { autoSync?: boolean; key?: string; accountId?: string; apiBaseUrl?: string } = {},
): Promise<Connected> {
  const { accessToken } = zs.controls.issueAccessToken();
  return createAndEnable(
    stack,
    {
      provider: 'ZOHO',
      name: 'Zoho sandbox',
      accountId: opts.accountId ?? '60000000001',
      apiBaseUrl: opts.apiBaseUrl ?? zs.url,
      accessToken,
      refreshToken: zs.controls.refreshToken,
      clientId: zs.controls.clientId,
      clientSecret: zs.controls.clientSecret,
      accountsUrl: zs.accountsUrl,
      autoSync: opts.autoSync ?? true,
    },
    opts.key,
  );
}

/** A sandbox as settle() sees it: a way to deliver what it has queued, and a count of what it did. */
export interface Moving {
  flush(): Promise<unknown>;
  activity(): number;
}

export const hubspotMoves = (hs: HubSpotSandbox): Moving => ({
  flush: () => hs.flushWebhooks(),
  activity: () => hs.deliveries.length + hs.controls.requests.length,
});

export const salesforceMoves = (sf: SalesforceSandbox): Moving => ({
  flush: () => sf.controls.flushNotifications(),
  activity: () => sf.controls.outbound.deliveries.length + sf.controls.requests.length,
});

export const zohoMoves = (zs: ZohoSandbox): Moving => ({
  flush: () => zs.controls.flushNotifications(),
  activity: () => zs.controls.deliveries.length + zs.controls.requests.length,
});

/**
 * Lets the CRMs' notifications and the service's queues run until nothing moves any
 * more; returns the rounds it took. Fails when they never settle (values bouncing).
 */
export async function settle(stack: Stack, ...crms: Moving[]): Promise<number> {
  const activity = () => crms.reduce((n, c) => n + c.activity(), 0);
  for (let round = 1; round <= 30; round++) {
    const before = activity();
    for (const c of crms) await c.flush();
    await stack.engine.drain();
    for (const c of crms) await c.flush();
    if (activity() === before) return round;
  }
  throw new Error('sync did not settle: values keep moving between the service and the CRMs');
}
