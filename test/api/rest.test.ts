// The REST integration routes and the GraphQL mutations are two doors to the same
// service functions: what one does, the other sees. Behind them: the real engine, the
// real HubSpot adapter and the HubSpot sandbox over loopback HTTP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHubSpotSandbox, type HubSpotSandbox } from '../../sandboxes/hubspot/server.ts';
import { gql, newTenant, rest, startApi, wsClient, type Tenant, type TestApi, PUBLIC_BASE_URL } from './harness.ts';

const STATUS_FIELDS = 'integrationId provider enabled subscriptionId events expiresAt totalReceived lastReceivedAt created updated skipped failed pending';

describe('REST integration routes', () => {
  let api: TestApi;
  let hubspot: HubSpotSandbox;
  let acme: Tenant;
  let integrationId: string;

  beforeAll(async () => {
    api = await startApi({ env: { HUBSPOT_CLIENT_SECRET: 'hubspot-client-secret-for-api-tests' } });
    hubspot = await startHubSpotSandbox({ clientSecret: 'hubspot-client-secret-for-api-tests', subscriptions: 'default' });
    acme = await newTenant(api, 'Acme');
    for (let i = 1; i <= 3; i++) hubspot.createContactAsUser({ email: `contact${i}@crm.io`, firstname: `Contact ${i}` });
    const created = await gql(api, acme.key, 'mutation ($input: CreateIntegrationInput!) { createIntegration(input: $input) { id } }', {
      input: { provider: 'HUBSPOT', name: 'Acme portal', accountId: String(hubspot.portalId), apiBaseUrl: hubspot.url, accessToken: hubspot.accessToken },
    });
    integrationId = created.body.data!.createIntegration.id;
  });
  afterAll(async () => {
    await api.close();
    await hubspot?.close();
  });

  const graphQLStatus = async () =>
    (await gql(api, acme.key, `query ($id: ID!) { webhookStatus(integrationId: $id) { ${STATUS_FIELDS} } }`, { id: integrationId })).body.data!.webhookStatus;

  it('enables webhooks and reports what was provisioned, exactly what GraphQL reports', async () => {
    const r = await rest(api, acme.key, 'POST', `/api/v1/crm-integration/${integrationId}/enable-webhooks`);
    expect(r.status).toBe(200);
    expect(Object.keys(r.json).sort()).toEqual(['provision', 'status', 'webhookUrl']);
    expect(Object.keys(r.json.provision).sort()).toEqual(['events', 'expiresAt', 'manualSteps', 'originFieldCreated', 'originFieldReady', 'subscriptionId']);
    expect(r.json.provision.originFieldReady).toBe(true);
    expect(r.json.webhookUrl).toBe(`${PUBLIC_BASE_URL}/api/v1/webhooks/hubspot`);
    expect(r.json.status).toMatchObject({ integrationId, provider: 'HUBSPOT', enabled: true });
    expect(hubspot.getProperty('lead_source_system')).not.toBeNull();
    // Both doors read the same state.
    expect(await graphQLStatus()).toEqual(r.json.status);
  });

  it('disables webhooks through REST and re-enables them through GraphQL', async () => {
    const off = await rest(api, acme.key, 'POST', `/api/v1/crm-integration/${integrationId}/disable-webhooks`);
    expect(off.status).toBe(200);
    expect(off.json).toMatchObject({ integrationId, enabled: false });
    const status = await rest(api, acme.key, 'GET', `/api/v1/crm-integration/${integrationId}/webhook-status`);
    expect(status.json.enabled).toBe(false);
    expect(Object.keys(status.json).sort()).toEqual(
      ['integrationId', 'provider', 'enabled', 'subscriptionId', 'events', 'expiresAt', 'totalReceived', 'lastReceivedAt', 'created', 'updated', 'skipped', 'failed', 'pending'].sort(),
    );

    expect(await graphQLStatus()).toEqual(status.json);

    const on = await gql(api, acme.key, 'mutation ($id: ID!) { enableWebhooks(integrationId: $id) { webhookUrl status { enabled } } }', { id: integrationId });
    expect(on.body.data).toEqual({ enableWebhooks: { webhookUrl: `${PUBLIC_BASE_URL}/api/v1/webhooks/hubspot`, status: { enabled: true } } });
    expect((await rest(api, acme.key, 'GET', `/api/v1/crm-integration/${integrationId}/webhook-status`)).json.enabled).toBe(true);
  });

  it('starts an import with 202 and the job, which GraphQL then follows to the end', async () => {
    const r = await rest(api, acme.key, 'POST', '/api/v1/crm-integration/import', { integrationId });
    expect(r.status).toBe(202);
    expect(r.json).toMatchObject({ id: expect.any(String), integrationId, startedAt: expect.any(String) });
    const jobId = r.json.id as string;

    const client = wsClient(api, acme.key);
    try {
      const updates = client.iterate<{ importProgress: { status: string; created: number; finishedAt: string | null } }>({
        query: 'subscription ($id: ID!) { importProgress(jobId: $id) { status created finishedAt } }',
        variables: { id: jobId },
      });
      let last: { status: string; created: number; finishedAt: string | null } | undefined;
      for await (const update of updates) last = update.data!.importProgress;
      expect(last).toMatchObject({ status: 'completed', created: 3, finishedAt: expect.any(String) });
    } finally {
      await client.dispose();
    }

    const job = await gql(api, acme.key, 'query ($id: ID!) { importJob(id: $id) { status created failed } }', { id: jobId });
    expect(job.body.data).toEqual({ importJob: { status: 'completed', created: 3, failed: 0 } });
    const leads = await gql(api, acme.key, '{ leads(provider: HUBSPOT) { edges { node { email crmLinks { integrationId provider externalId } } } } }');
    const byEmail = Object.fromEntries(leads.body.data!.leads.edges.map((e: any) => [e.node.email, e.node.crmLinks]));
    const contact1 = hubspot.listContacts().find((c) => c.properties.email === 'contact1@crm.io')!;
    expect(byEmail['contact1@crm.io']).toEqual([{ integrationId, provider: 'HUBSPOT', externalId: contact1.id }]);
    expect(Object.keys(byEmail).sort()).toEqual(['contact1@crm.io', 'contact2@crm.io', 'contact3@crm.io']);
  });
});
