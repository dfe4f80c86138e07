// Abuse limits and forged webhooks: oversized bodies, deep and costly operations, the
// per-key rate limit, and webhooks no CRM sent (401, nothing stored).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeCredentials } from '../../src/engine/connections.ts';
import { writeWebhookSecrets } from '../../src/engine/webhook-secrets.ts';
import { buildEnvelope } from '../../sandboxes/salesforce/outbound.ts';
import { signV3 } from '../../sandboxes/hubspot/signing.ts';
import { CREATE_LEAD, gql, newTenant, onlyError, rest, startApi, wsClient, type Tenant, type TestApi } from '../api/harness.ts';

const LEAD_FIELDS = 'email firstName lastName phone company status createdAt updatedAt crmLinks { provider externalId integrationId } crmMetadata { sourceSystem syncVersion }';

describe('request limits', () => {
  let api: TestApi;
  let t: Tenant;
  beforeAll(async () => {
    api = await startApi({ env: { GRAPHQL_MAX_DEPTH: '2' } });
    t = await newTenant(api, 'Acme');
  });
  afterAll(() => api?.close());

  it('answers 413 to bodies over 1 MB on GraphQL, REST and webhook routes, storing nothing', async () => {
    const big = 'x'.repeat(1024 * 1024 + 10);
    const g = await fetch(`${api.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${t.key}` },
      body: JSON.stringify({ query: `mutation { createLead(input: { email: "big@example.com", company: "${big}" }) { id } }` }),
    });
    expect(g.status).toBe(413);
    const r = await rest(api, t.key, 'POST', '/api/v1/crm-integration/import', { integrationId: big });
    expect(r.status).toBe(413);
    expect(r.json.error.code).toBe('PAYLOAD_TOO_LARGE');
    for (const provider of ['hubspot', 'salesforce', 'zoho']) {
      const w = await rest(api, null, 'POST', `/api/v1/webhooks/${provider}`, big);
      expect(w.status).toBe(413);
    }
    expect(await api.db.prisma.lead.count()).toBe(0);
    expect(await api.db.prisma.importJob.count()).toBe(0);
    expect(await api.db.prisma.inboxEvent.count()).toBe(0);
  });

  it('refuses operations nested deeper than the limit with QUERY_TOO_DEEP, over HTTP and WebSockets', async () => {
    // This server allows depth 2.
    const ok = await gql(api, t.key, '{ integrations { id } }');
    expect(ok.body.errors).toBeUndefined();
    const r = await gql(api, t.key, '{ leads { edges { node { email } } } }');
    expect(r.body.data ?? null).toBeNull();
    expect(onlyError(r).extensions?.code).toBe('QUERY_TOO_DEEP');
    // Fragments count where they are spread.
    const viaFragment = await gql(api, t.key, '{ integrations { ...I } } fragment I on Integration { id }');
    expect(viaFragment.body.errors).toBeUndefined();
    const deepFragment = await gql(api, t.key, '{ leads { ...C } } fragment C on LeadConnection { totalCount }');
    expect(deepFragment.body.errors).toBeUndefined();
    const tooDeepFragment = await gql(api, t.key, '{ leads { ...C } } fragment C on LeadConnection { edges { cursor } }');
    expect(onlyError(tooDeepFragment).extensions?.code).toBe('QUERY_TOO_DEEP');

    const client = wsClient(api, t.key);
    const ws = await new Promise<any>((resolve) => {
      client.subscribe({ query: 'subscription { leadCreated { crmLinks { provider } } }' }, { next: resolve, error: resolve, complete: () => resolve(null) });
    });
    await client.dispose();
    const wsErrors = Array.isArray(ws) ? ws : ws?.errors;
    expect(wsErrors?.[0]?.extensions?.code).toBe('QUERY_TOO_DEEP');
  });

  it('refuses introspection nested absurdly deep', async () => {
    let inner = 'name';
    for (let i = 0; i < 25; i++) inner = `ofType { ${inner} }`;
    const r = await gql(api, t.key, `{ __schema { types { fields { type { ${inner} } } } } }`);
    expect(onlyError(r).extensions?.code).toBe('QUERY_TOO_DEEP');
  });
});

describe('operation cost', () => {
  let api: TestApi;
  let t: Tenant;
  beforeAll(async () => {
    api = await startApi();
    t = await newTenant(api, 'Acme');
  });
  afterAll(() => api?.close());

  it('serves a full page of leads with every field, and refuses several at once with QUERY_TOO_COSTLY', async () => {
    const page = (alias: string, first: string) => `${alias}: leads(first: ${first}) { edges { node { ${LEAD_FIELDS} } } }`;
    const one = await gql(api, t.key, `{ ${page('a', '100')} }`);
    expect(one.body.errors).toBeUndefined();
    const four = await gql(api, t.key, `{ ${['a', 'b', 'c', 'd'].map((x) => page(x, '100')).join(' ')} }`);
    expect(four.body.data ?? null).toBeNull();
    const error = onlyError(four);
    expect(error.extensions?.code).toBe('QUERY_TOO_COSTLY');
    expect(error.extensions?.cost).toBeGreaterThan(error.extensions?.maxCost);
    // A page size given as a variable counts as a full page.
    const viaVariables = await gql(api, t.key, `query ($n: Int) { ${['a', 'b', 'c', 'd'].map((x) => page(x, '$n')).join(' ')} }`, { n: 1 });
    expect(onlyError(viaVariables).extensions?.code).toBe('QUERY_TOO_COSTLY');
    const small = await gql(api, t.key, `{ ${['a', 'b', 'c', 'd'].map((x) => page(x, '5')).join(' ')} }`);
    expect(small.body.errors).toBeUndefined();
  });

  it('never returns more than 100 items a page, whatever first asks for', async () => {
    for (let i = 0; i < 101; i++) {
      await api.db.prisma.lead.create({ data: { organizationId: t.organizationId, email: `p${i}@example.com`, sourceSystem: 'jazzaam' } });
    }
    const r = await gql(api, t.key, '{ leads(first: 1000) { edges { node { id } } } }');
    expect(r.body.data!.leads.edges).toHaveLength(100);
  });
});

describe('per-key rate limit', () => {
  let api: TestApi;
  let t: Tenant;
  let other: Tenant;
  beforeAll(async () => {
    // Two requests a minute: the bucket refills one token every 30 s, far slower than this test.
    api = await startApi({ env: { API_RATE_LIMIT_PER_MINUTE: '2' } });
    t = await newTenant(api, 'Acme');
    other = await newTenant(api, 'Globex');
  });
  afterAll(() => api?.close());

  it('answers 429 with Retry-After on GraphQL and REST once a key has used its allowance, and only for that key', async () => {
    expect((await gql(api, t.key, '{ integrations { id } }')).status).toBe(200);
    expect((await gql(api, t.key, '{ integrations { id } }')).status).toBe(200);
    const limited = await gql(api, t.key, CREATE_LEAD, { input: { email: 'limited@example.com' } });
    expect(limited.status).toBe(429);
    expect(onlyError(limited).extensions?.code).toBe('RATE_LIMITED');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await api.db.prisma.lead.count()).toBe(0);

    const r = await rest(api, t.key, 'GET', '/api/v1/crm-integration/x/webhook-status');
    expect(r.status).toBe(429);
    expect(r.json.error.code).toBe('RATE_LIMITED');
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);

    expect((await gql(api, other.key, '{ integrations { id } }')).status).toBe(200);
  });
});

describe('forged webhooks', () => {
  let api: TestApi;
  let t: Tenant;
  const hubspotSecret = 'hubspot-app-secret-of-this-integration';
  const sfOrg = '00D5g00000ABCDEFGH';
  const zohoChannel = '1700000000000001';
  const zohoToken = 'zoho-channel-token-right';
  const sfSecret = 'sf-endpoint-secret-0123456789abcdefghij';

  beforeAll(async () => {
    api = await startApi();
    t = await newTenant(api, 'Acme');
    const keyring = api.engine.connections.keyring;
    const base = { organizationId: t.organizationId, apiBaseUrl: 'http://127.0.0.1:9', webhooksEnabled: true };
    await api.db.prisma.integration.create({
      data: { ...base, provider: 'HUBSPOT', name: 'hs', accountId: '4242', credentials: writeCredentials({ accessToken: 'x', clientSecret: hubspotSecret }, keyring) },
    });
    await api.db.prisma.integration.create({
      data: {
        ...base,
        provider: 'SALESFORCE',
        name: 'sf',
        accountId: sfOrg,
        credentials: writeCredentials({ accessToken: 'x' }, keyring),
        webhookSecrets: writeWebhookSecrets({ endpoint: sfSecret }, keyring),
      },
    });
    await api.db.prisma.integration.create({
      data: {
        ...base,
        provider: 'ZOHO',
        name: 'zoho',
        accountId: '60000000001',
        credentials: writeCredentials({ accessToken: 'x' }, keyring),
        // As an older version stored it (token in clear in settings), after the migration
        // copied the channel id into its column: the clear token still verifies.
        channelId: zohoChannel,
        settings: { channelId: zohoChannel, webhookToken: zohoToken },
      },
    });
  });
  afterAll(() => api?.close());

  const stored = () => api.db.prisma.inboxEvent.count();

  async function post(provider: string, body: string, headers: Record<string, string> = {}) {
    return fetch(`${api.url}/api/v1/webhooks/${provider}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  }

  it('HubSpot: 401 for a forged or a stale signature, nothing stored; a genuine one is stored', async () => {
    const url = `${api.config.PUBLIC_BASE_URL}/api/v1/webhooks/hubspot`;
    const body = JSON.stringify([
      { eventId: 1, subscriptionId: 1, portalId: 4242, appId: 1, occurredAt: Date.now(), subscriptionType: 'contact.creation', attemptNumber: 0, objectId: 501, changeFlag: 'CREATED', changeSource: 'CRM_UI' },
    ]);
    const headers = (secret: string, ts: number) => ({ 'x-hubspot-signature-v3': signV3(secret, 'POST', url, body, ts), 'x-hubspot-request-timestamp': String(ts) });
    expect((await post('hubspot', body)).status).toBe(401);
    expect((await post('hubspot', body, headers('not-the-secret', Date.now()))).status).toBe(401);
    expect((await post('hubspot', body, headers(hubspotSecret, Date.now() - 10 * 60_000))).status).toBe(401);
    // Secret endpoint URLs are Salesforce's only: below HubSpot's path there is nothing.
    expect((await post('hubspot/anything', body, headers(hubspotSecret, Date.now()))).status).toBe(404);
    expect(await stored()).toBe(0);
    expect((await post('hubspot', body, headers(hubspotSecret, Date.now()))).status).toBe(200);
    expect(await stored()).toBe(1);
    await api.db.prisma.inboxEvent.deleteMany();
  });

  it('Salesforce: a SOAP fault (HTTP 500) for a message without the endpoint secret, with a wrong one, or naming another organization, nothing stored; the right one is acknowledged', async () => {
    const envelope = (org: string) =>
      buildEnvelope(
        { organizationId: org, actionId: '04k000000000001AAA', instanceUrl: 'https://example.my.salesforce.com', apiVersion: '62.0', sessionId: null },
        [{ notificationId: '04l000000000001AAA', lead: { values: { Id: '00Q000000000001AAA', Email: 'sf@example.com', LastModifiedDate: new Date().toISOString() } } as never }],
        ['Id', 'Email', 'LastModifiedDate'],
      );
    const soap = { 'content-type': 'text/xml; charset=utf-8', soapaction: '""' };
    // SOAP 1.1: a fault is answered with HTTP 500; Salesforce does not take it as an Ack.
    expect((await post(`salesforce/${sfSecret}`, envelope('00D5g00000ZZZZZZZZ'), soap)).status).toBe(500);
    expect((await post('salesforce', envelope(sfOrg), soap)).status).toBe(500);
    expect((await post(`salesforce/${sfSecret.slice(0, -1)}${sfSecret.endsWith('X') ? 'Y' : 'X'}`, envelope(sfOrg), soap)).status).toBe(500);
    expect(await stored()).toBe(0);
    expect((await post(`salesforce/${sfSecret}`, envelope(sfOrg), soap)).status).toBe(200);
    expect(await stored()).toBe(1);
    await api.db.prisma.inboxEvent.deleteMany();
  });

  it('Zoho: 401 for a wrong channel token or an unknown channel, nothing stored; the right pair is stored (a token an older version kept in clear still verifies)', async () => {
    const body = (channel: string, token: string) =>
      JSON.stringify({ server_time: Date.now(), module: 'Leads', resource_uri: 'https://www.zohoapis.com/crm/v7/Leads', ids: ['9001'], affected_fields: [], operation: 'insert', channel_id: channel, token });
    expect((await post('zoho', body(zohoChannel, 'zoho-channel-token-wrong'))).status).toBe(401);
    expect((await post('zoho', body('1700000000000999', zohoToken))).status).toBe(401);
    expect(await stored()).toBe(0);
    expect((await post('zoho', body(zohoChannel, zohoToken))).status).toBe(200);
    expect(await stored()).toBe(1);
  });
});
