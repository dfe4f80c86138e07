// Two organizations on one server: B can neither see nor touch A's data, and every
// attempt is answered exactly like an id that does not exist.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CREATE_LEAD, gql, newTenant, onlyError, rest, startApi, wsClient, type Tenant, type TestApi } from './harness.ts';

describe('tenant isolation', () => {
  let api: TestApi;
  let a: Tenant;
  let b: Tenant;
  let leadA: { id: string; email: string };
  let integrationA: string;
  let jobA: string;

  beforeAll(async () => {
    api = await startApi();
    a = await newTenant(api, 'Acme');
    b = await newTenant(api, 'Globex');
    const created = await gql(api, a.key, CREATE_LEAD, { input: { email: 'ada@acme.io', firstName: 'Ada' } });
    leadA = created.body.data!.createLead;
    integrationA = (
      await api.db.prisma.integration.create({
        data: {
          organizationId: a.organizationId,
          provider: 'HUBSPOT',
          name: 'Acme HubSpot',
          accountId: '1001',
          apiBaseUrl: 'http://127.0.0.1:9',
          credentials: JSON.stringify({ accessToken: 'acme-secret-token' }),
          webhooksEnabled: true,
        },
      })
    ).id;
    jobA = (await api.db.prisma.importJob.create({ data: { organizationId: a.organizationId, integrationId: integrationA } })).id;
  });
  afterAll(() => api.close());

  /** The error B gets for A's id must be the one it gets for an id that exists nowhere. */
  async function sameAsMissing(query: string, theirs: Record<string, unknown>, missing: Record<string, unknown>) {
    const forTheirs = await gql(api, b.key, query, theirs);
    const forMissing = await gql(api, b.key, query, missing);
    expect(forTheirs.status).toBe(forMissing.status);
    expect(onlyError(forTheirs).extensions?.code).toBe('NOT_FOUND');
    expect(forTheirs.body).toEqual(forMissing.body);
    return forTheirs;
  }

  it('lists only the caller’s own leads and integrations', async () => {
    const seen = await gql(api, b.key, '{ leads { totalCount edges { node { id } } } integrations { id } }');
    expect(seen.body.data).toEqual({ leads: { totalCount: 0, edges: [] }, integrations: [] });
    const byEmail = await gql(api, b.key, '{ leads(email: "ada@acme.io") { edges { node { id } } } }');
    expect(byEmail.body.data!.leads.edges).toEqual([]);
    const own = await gql(api, a.key, '{ leads { totalCount edges { node { id } } } integrations { id name } }');
    expect(own.body.data!.leads.edges.map((e: any) => e.node.id)).toEqual([leadA.id]);
    expect(own.body.data!.integrations).toEqual([{ id: integrationA, name: 'Acme HubSpot' }]);
  });

  it('answers NOT_FOUND for another organization’s lead, by lead() and node()', async () => {
    const missingLeadId = Buffer.from(`Lead:${randomUUID()}`).toString('base64');
    await sameAsMissing('query ($id: ID!) { lead(id: $id) { id email } }', { id: leadA.id }, { id: missingLeadId });
    const node = await gql(api, b.key, 'query ($id: ID!) { node(id: $id) { id } }', { id: leadA.id });
    expect(node.body).toEqual({ data: { node: null } });
    const nodes = await gql(api, b.key, 'query ($ids: [ID!]!) { nodes(ids: $ids) { id } }', { ids: [leadA.id] });
    expect(nodes.body).toEqual({ data: { nodes: [null] } });
  });

  it('cannot update another organization’s lead', async () => {
    const missingLeadId = Buffer.from(`Lead:${randomUUID()}`).toString('base64');
    const q = 'mutation ($input: UpdateLeadInput!) { updateLead(input: $input) { id firstName } }';
    await sameAsMissing(q, { input: { id: leadA.id, firstName: 'Mallory' } }, { input: { id: missingLeadId, firstName: 'Mallory' } });
    const stored = await api.db.prisma.lead.findFirstOrThrow({ where: { email: 'ada@acme.io' } });
    expect(stored.firstName).toBe('Ada');
    expect(stored.syncVersion).toBe(1);
  });

  it('answers NOT_FOUND for another organization’s integration, webhook status and import job', async () => {
    const missing = randomUUID();
    await sameAsMissing('query ($id: ID!) { integration(id: $id) { id name } }', { id: integrationA }, { id: missing });
    await sameAsMissing('query ($id: ID!) { webhookStatus(integrationId: $id) { enabled } }', { id: integrationA }, { id: missing });
    await sameAsMissing('query ($id: ID!) { importJob(id: $id) { id status } }', { id: jobA }, { id: missing });
  });

  it('cannot change another organization’s webhooks or start its import (GraphQL)', async () => {
    const missing = randomUUID();
    await sameAsMissing('mutation ($id: ID!) { disableWebhooks(integrationId: $id) { enabled } }', { id: integrationA }, { id: missing });
    await sameAsMissing('mutation ($id: ID!) { enableWebhooks(integrationId: $id) { webhookUrl } }', { id: integrationA }, { id: missing });
    await sameAsMissing('mutation ($id: ID!) { importFromCrm(integrationId: $id) { id } }', { id: integrationA }, { id: missing });
    const integration = await api.db.prisma.integration.findUniqueOrThrow({ where: { id: integrationA } });
    expect(integration.webhooksEnabled).toBe(true);
    expect(await api.db.prisma.importJob.count()).toBe(1);
  });

  it('answers 404 like a missing id on every REST integration route', async () => {
    const missing = randomUUID();
    const routes: [string, (id: string) => string, (id: string) => Record<string, unknown> | undefined][] = [
      ['GET', (id) => `/api/v1/crm-integration/${id}/webhook-status`, () => undefined],
      ['POST', (id) => `/api/v1/crm-integration/${id}/disable-webhooks`, () => undefined],
      ['POST', (id) => `/api/v1/crm-integration/${id}/enable-webhooks`, () => undefined],
      ['POST', () => '/api/v1/crm-integration/import', (id) => ({ integrationId: id })],
    ];
    for (const [method, path, body] of routes) {
      const theirs = await rest(api, b.key, method, path(integrationA), body(integrationA));
      const nowhere = await rest(api, b.key, method, path(missing), body(missing));
      expect(theirs.status).toBe(404);
      expect(theirs.json).toEqual(nowhere.json);
      expect(theirs.json.error.code).toBe('NOT_FOUND');
    }
    const integration = await api.db.prisma.integration.findUniqueOrThrow({ where: { id: integrationA } });
    expect(integration.webhooksEnabled).toBe(true);
    expect(await api.db.prisma.importJob.count()).toBe(1);
    // The owner still gets its status through the same route.
    const own = await rest(api, a.key, 'GET', `/api/v1/crm-integration/${integrationA}/webhook-status`);
    expect(own.status).toBe(200);
    expect(own.json).toMatchObject({ integrationId: integrationA, provider: 'HUBSPOT', enabled: true });
  });

  it('cannot follow another organization’s import progress', async () => {
    const client = wsClient(api, b.key);
    try {
      const events = client.iterate({ query: 'subscription ($id: ID!) { importProgress(jobId: $id) { id } }', variables: { id: jobA } });
      const first = await events.next();
      expect(first.value.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
      expect(first.value.data ?? null).toBeNull();
    } finally {
      await client.dispose();
    }
  });

  it('delivers leadCreated only to subscribers of the lead’s organization', async () => {
    const client = wsClient(api, b.key);
    const received: string[] = [];
    let notify = () => {};
    const events = client.iterate<{ leadCreated: { id: string } }>({ query: 'subscription { leadCreated { id email } }' });
    const reader = (async () => {
      for await (const event of events) {
        received.push(event.data!.leadCreated.id);
        notify();
      }
    })();
    const heard = (id?: string) =>
      new Promise<void>((resolve) => {
        const check = () => (id ? received.includes(id) : received.length > 0) && resolve();
        notify = check;
        check();
      });
    try {
      const ownLeads = new Set<string>();
      const round = async (n: number) => {
        await gql(api, a.key, CREATE_LEAD, { input: { email: `a-${n}@acme.io` } });
        const mine = await gql(api, b.key, CREATE_LEAD, { input: { email: `b-${n}@globex.io` } });
        ownLeads.add(mine.body.data!.createLead.id);
        return mine.body.data!.createLead.id as string;
      };
      // Nothing says when B's subscription is live: one lead per organization per round
      // until B hears of one of its own...
      let n = 0;
      const live = heard();
      let isLive = false;
      void live.then(() => (isLive = true));
      while (!isLive && n < 500) {
        await round(n++);
        await new Promise((r) => setImmediate(r));
      }
      // ...then one more round, with B certainly listening when A's lead is published.
      const last = await round(n);
      await heard(last);
      expect(received.length).toBeGreaterThan(0);
      for (const id of received) expect(ownLeads.has(id)).toBe(true);
    } finally {
      await client.dispose();
      await reader.catch(() => {});
    }
  });
});
