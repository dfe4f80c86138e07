// `npm run demo`: the service plus local HubSpot, Salesforce and Zoho sandboxes, a demo
// organization with an API key, and one integration per CRM, connected through OAuth as
// a customer would (consent, callback) and with webhooks enabled.
// It prints how to watch both flows. Everything listens on 127.0.0.1; Ctrl-C stops it.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildApp } from '../src/app.ts';
import { createApiKey, createOrganization } from '../src/auth.ts';
import { loadConfig } from '../src/config.ts';
import { openDatabase } from '../src/db/client.ts';
import { createSyncEngine } from '../src/engine/index.ts';
import { createLogger } from '../src/logger.ts';
import { keyringFromConfig } from '../src/secrets.ts';
import { createAppPubSub } from '../src/pubsub.ts';
import { startHubSpotSandbox } from '../sandboxes/hubspot/server.ts';
import { startSalesforceSandbox } from '../sandboxes/salesforce/index.ts';
import { startZohoSandbox } from '../sandboxes/zoho/server.ts';

const port = Number(process.env.PORT ?? 4000);
const base = `http://localhost:${port}`;
const hubspotSecret = 'demo-hubspot-app-secret';
const dataDir = await mkdtemp(path.join(os.tmpdir(), 'crm-sync-demo-'));
const logger = createLogger(process.env.LOG_LEVEL ?? 'info');

const publicBase = `http://127.0.0.1:${port}`;
// Each sandbox lists the service's OAuth callback, so the dashboard's Connect buttons work.
const callback = (slug: string) => `${publicBase}/api/v1/oauth/${slug}/callback`;
const hubspot = await startHubSpotSandbox({
  port: Number(process.env.HUBSPOT_SANDBOX_PORT ?? 4010),
  clientSecret: hubspotSecret,
  webhookTargetUrl: `${publicBase}/api/v1/webhooks/hubspot`,
  subscriptions: 'default',
  oauth: { redirectUris: [callback('hubspot')] },
});
const salesforce = await startSalesforceSandbox({
  port: Number(process.env.SALESFORCE_SANDBOX_PORT ?? 4011),
  outbound: { targetUrl: `${publicBase}/api/v1/webhooks/salesforce` },
  callbackUrls: [callback('salesforce')],
});
const zoho = await startZohoSandbox({ port: Number(process.env.ZOHO_SANDBOX_PORT ?? 4012), redirectUris: [callback('zoho')] });
const sfApp = salesforce.controls.credentials();

const config = loadConfig({
  ...process.env,
  PORT: String(port),
  HOST: '127.0.0.1',
  PUBLIC_BASE_URL: publicBase,
  DATA_DIR: dataDir,
  DATABASE_URL: undefined,
  HUBSPOT_CLIENT_SECRET: hubspotSecret,
  POLL_INTERVAL_MS: '60000',
  // The sandboxes' OAuth apps: customers connect through the dashboard's Connect buttons.
  HUBSPOT_CLIENT_ID: hubspot.oauthClientId,
  HUBSPOT_AUTHORIZE_URL: hubspot.url,
  HUBSPOT_API_BASE_URL: hubspot.url,
  SALESFORCE_CLIENT_ID: sfApp.clientId,
  SALESFORCE_CLIENT_SECRET: sfApp.clientSecret,
  SALESFORCE_LOGIN_URL: salesforce.url,
  ZOHO_CLIENT_ID: zoho.controls.clientId,
  ZOHO_CLIENT_SECRET: zoho.controls.clientSecret,
  ZOHO_ACCOUNTS_URL: zoho.accountsUrl,
  // The demo's sandbox CRMs listen on loopback over http (logged loudly at start).
  CRM_ALLOW_LOCAL_HOSTS: 'true',
});

const db = await openDatabase({ dataDir });
const pubsub = createAppPubSub();
const keyring = keyringFromConfig(config, logger);
const engine = createSyncEngine({ config, prisma: db.prisma, logger: logger.child({ component: 'engine' }), pubsub, keyring });
const app = buildApp({ config, db, logger, pubsub, service: engine });
await app.start(port);
engine.start();

const org = await createOrganization(db.prisma, 'Demo organization');
const { key } = await createApiKey(db.prisma, org.id, 'demo');
const sfCreds = salesforce.controls.credentials();

/**
 * Connects a CRM the way a customer's browser does: connectCrm over GraphQL, the CRM's
 * consent screen (each sandbox consents at once and redirects), the service's callback,
 * which creates the integration and sends the browser to the dashboard.
 */
async function connectThroughOAuth(provider: string, name: string): Promise<string> {
  const res = await fetch(`${publicBase}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query: 'mutation($p: CrmProvider!, $n: String!) { connectCrm(provider: $p, name: $n) { authorizeUrl } }', variables: { p: provider, n: name } }),
  });
  const body = (await res.json()) as { data?: { connectCrm: { authorizeUrl: string } }; errors?: unknown };
  if (!body.data) throw new Error(`connectCrm(${provider}) failed: ${JSON.stringify(body.errors)}`);
  const consent = await fetch(body.data.connectCrm.authorizeUrl, { redirect: 'manual' });
  const back = await fetch(consent.headers.get('location') ?? '', { redirect: 'manual' });
  const integrationId = new URL(back.headers.get('location') ?? '', publicBase).searchParams.get('integrationId');
  if (back.status !== 303 || !integrationId) throw new Error(`the ${provider} OAuth callback answered ${back.status}: ${await back.text()}`);
  return integrationId;
}

const integrations = [
  { provider: 'HUBSPOT', id: await connectThroughOAuth('HUBSPOT', 'HubSpot sandbox') },
  { provider: 'SALESFORCE', id: await connectThroughOAuth('SALESFORCE', 'Salesforce sandbox') },
  { provider: 'ZOHO', id: await connectThroughOAuth('ZOHO', 'Zoho sandbox') },
];
for (const i of integrations) {
  const { webhookUrl } = await engine.enableWebhooks(org.id, i.id);
  // What the Salesforce administrator does by hand: paste the endpoint URL (it ends with the integration's secret).
  if (i.provider === 'SALESFORCE') salesforce.controls.outbound.configure({ targetUrl: webhookUrl });
}

const auth = `Authorization: Bearer ${key}`;
console.log(`
crm-sync demo is running.

  GraphiQL        ${base}/graphql   (add the header  ${auth})
  API key         ${key}
  Sandboxes       HubSpot ${hubspot.url}   Salesforce ${salesforce.url}   Zoho ${zoho.url}

1. Watch new leads live: in GraphiQL run
     subscription { leadCreated { id email firstName crmMetadata { sourceSystem crmProvider } } }

2. CRM -> platform: create a contact in the HubSpot sandbox (its webhook reaches crm-sync):
     curl -s ${hubspot.url}/crm/v3/objects/contacts -H 'authorization: Bearer ${hubspot.accessToken}' \\
       -H 'content-type: application/json' -d '{"properties":{"email":"grace@example.com","firstname":"Grace"}}'
   or a Lead in the Salesforce sandbox:
     curl -s ${salesforce.url}/services/data/v62.0/sobjects/Lead -H 'authorization: Bearer ${sfCreds.accessToken}' \\
       -H 'content-type: application/json' -d '{"Email":"linus@example.com","LastName":"Torvalds","Company":"Kernel"}'

3. Platform -> CRMs, with no duplicate coming back:
     curl -s ${base}/graphql -H '${auth}' -H 'content-type: application/json' \\
       -d '{"query":"mutation { createLead(input: {email: \\"ada@example.com\\", firstName: \\"Ada\\"}) { id } }"}'
   then see it in HubSpot with our tag:
     curl -s '${hubspot.url}/crm/v3/objects/contacts?properties=email,lead_source_system' -H 'authorization: Bearer ${hubspot.accessToken}'

4. Connect a CRM through OAuth: open ${publicBase}/dashboard, paste the API key and press a Connect
   button (the sandbox consents at once; connecting an account already connected reconnects it).

5. Webhook counters:
     curl -s ${base}/api/v1/crm-integration/${integrations[0].id}/webhook-status -H '${auth}'

Ctrl-C stops everything (the demo database in ${dataDir} is deleted).
`);

const stop = async () => {
  await app.stop();
  await engine.stop();
  await db.close();
  await Promise.all([hubspot.close(), salesforce.close(), zoho.close()]);
  await rm(dataDir, { recursive: true, force: true });
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
