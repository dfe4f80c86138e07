// The GraphQL API as a client sees it: GraphiQL, leads paging and filters, integrations
// without credentials, input errors, and the committed schema.
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { startHubSpotSandbox } from '../../sandboxes/hubspot/server.ts';
import { isObjectType } from 'graphql';
import { printSchemaSDL, schema } from '../../src/graphql/schema.ts';
import { CREATE_LEAD, gql, newTenant, onlyError, startApi, type Tenant, type TestApi } from './harness.ts';

describe('GraphQL API', () => {
  let api: TestApi;
  let acme: Tenant;

  beforeAll(async () => {
    api = await startApi();
    acme = await newTenant(api, 'Acme');
  });
  afterAll(() => api.close());

  it('serves GraphiQL to a browser without asking for a key', async () => {
    const res = await fetch(`${api.url}/graphql`, { headers: { accept: 'text/html,application/xhtml+xml' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    const html = await res.text();
    expect(html).toContain('<title>crm-sync</title>');
    expect(html.toLowerCase()).toContain('graphiql');
  });

  it('creates a lead with a normalised email and returns its sync metadata', async () => {
    const res = await gql(api, acme.key, CREATE_LEAD, { input: { email: '  Grace@Navy.MIL ', firstName: 'Grace', company: 'Navy' } });
    expect(res.status).toBe(200);
    const lead = res.body.data!.createLead;
    expect(lead).toMatchObject({ email: 'grace@navy.mil', firstName: 'Grace', company: 'Navy', crmMetadata: { sourceSystem: 'jazzaam', syncVersion: 1 } });
    const fetched = await gql(api, acme.key, 'query ($id: ID!) { lead(id: $id) { id email crmLinks { provider } } }', { id: lead.id });
    expect(fetched.body.data).toEqual({ lead: { id: lead.id, email: 'grace@navy.mil', crmLinks: [] } });
    expect(await api.db.prisma.lead.count({ where: { organizationId: acme.organizationId, email: 'grace@navy.mil' } })).toBe(1);
  });

  it('answers VALIDATION with the failing field for an invalid email, and writes nothing', async () => {
    const before = await api.db.prisma.lead.count();
    const outboxBefore = await api.db.prisma.outboxItem.count();
    const res = await gql(api, acme.key, CREATE_LEAD, { input: { email: 'not-an-email' } });
    expect(res.status).toBe(200);
    expect(res.body.data ?? null).toBeNull();
    const error = onlyError(res);
    expect(error.extensions?.code).toBe('VALIDATION');
    expect(error.extensions?.fields).toEqual([expect.objectContaining({ field: 'email' })]);
    expect(await api.db.prisma.lead.count()).toBe(before);
    expect(await api.db.prisma.outboxItem.count()).toBe(outboxBefore);
  });

  it('answers CONFLICT for a second lead with the same email', async () => {
    await gql(api, acme.key, CREATE_LEAD, { input: { email: 'twice@acme.io' } });
    const res = await gql(api, acme.key, CREATE_LEAD, { input: { email: 'TWICE@acme.io' } });
    expect(onlyError(res).extensions?.code).toBe('CONFLICT');
    expect(await api.db.prisma.lead.count({ where: { email: 'twice@acme.io' } })).toBe(1);
  });

  it('answers selections of only __typename (no empty Prisma select)', async () => {
    const lead = (await gql(api, acme.key, CREATE_LEAD, { input: { email: 'typename@acme.io' } })).body.data!.createLead;
    const res = await gql(
      api,
      acme.key,
      'query ($id: ID!) { lead(id: $id) { __typename } leads(first: 1) { edges { node { __typename } } } node(id: $id) { __typename } }',
      { id: lead.id },
    );
    expect(res.body).toEqual({ data: { lead: { __typename: 'Lead' }, leads: { edges: [{ node: { __typename: 'Lead' } }] }, node: { __typename: 'Lead' } } });
    const mutation = await gql(api, acme.key, 'mutation { createLead(input: { email: "typename2@acme.io" }) { __typename } }');
    expect(mutation.body).toEqual({ data: { createLead: { __typename: 'Lead' } } });
  });

  it('answers a malformed lead id like a missing one', async () => {
    for (const id of ['not-a-global-id', Buffer.from('Integration:123').toString('base64')]) {
      const res = await gql(api, acme.key, 'query ($id: ID!) { lead(id: $id) { id } }', { id });
      expect(onlyError(res).extensions?.code).toBe('NOT_FOUND');
    }
  });

  it('updates a lead by its id and reports the new sync version', async () => {
    const lead = (await gql(api, acme.key, CREATE_LEAD, { input: { email: 'update-me@acme.io' } })).body.data!.createLead;
    const res = await gql(api, acme.key, 'mutation ($input: UpdateLeadInput!) { updateLead(input: $input) { id lastName phone crmMetadata { syncVersion } } }', {
      input: { id: lead.id, lastName: 'Hopper', phone: '+1 555 0100' },
    });
    expect(res.body.data).toEqual({ updateLead: { id: lead.id, lastName: 'Hopper', phone: '+1 555 0100', crmMetadata: { syncVersion: 2 } } });
  });

  describe('leads connection', () => {
    let tenant: Tenant;
    beforeAll(async () => {
      tenant = await newTenant(api, 'Paging Inc');
      const base = Date.parse('2026-01-01T00:00:00Z');
      await api.db.prisma.lead.createMany({
        data: Array.from({ length: 105 }, (_, i) => ({
          organizationId: tenant.organizationId,
          email: `lead-${String(i).padStart(3, '0')}@paging.io`,
          sourceSystem: i % 5 === 0 ? 'hubspot' : 'jazzaam',
          crmProvider: i % 5 === 0 ? ('HUBSPOT' as const) : null,
          createdAt: new Date(base + i * 60_000),
        })),
      });
    });

    it('never returns more than 100 leads a page, and pages through all of them newest first', async () => {
      const q = 'query ($after: String) { leads(first: 500, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { email } } } }';
      const page1 = (await gql(api, tenant.key, q)).body.data!.leads;
      expect(page1.totalCount).toBe(105);
      expect(page1.edges).toHaveLength(100);
      expect(page1.pageInfo.hasNextPage).toBe(true);
      expect(page1.edges[0].node.email).toBe('lead-104@paging.io');
      const page2 = (await gql(api, tenant.key, q, { after: page1.pageInfo.endCursor })).body.data!.leads;
      expect(page2.edges.map((e: any) => e.node.email)).toEqual([4, 3, 2, 1, 0].map((i) => `lead-00${i}@paging.io`));
      expect(page2.pageInfo.hasNextPage).toBe(false);
    });

    it('filters by email (trimmed, any case), source, provider and creation time', async () => {
      const emails = async (args: string) =>
        (await gql(api, tenant.key, `{ leads(first: 100, ${args}) { edges { node { email } } } }`)).body.data!.leads.edges.map((e: any) => e.node.email);
      expect(await emails('email: "  LEAD-007@Paging.IO "')).toEqual(['lead-007@paging.io']);
      expect(await emails('sourceSystem: "hubspot"')).toHaveLength(21);
      expect(await emails('provider: HUBSPOT')).toHaveLength(21);
      expect(await emails('provider: ZOHO')).toEqual([]);
      expect(await emails('createdAfter: "2026-01-01T01:40:00Z", createdBefore: "2026-01-01T01:43:00Z"')).toEqual([
        'lead-102@paging.io',
        'lead-101@paging.io',
        'lead-100@paging.io',
      ]);
    });

    it('rejects a malformed date filter with VALIDATION', async () => {
      const res = await gql(api, tenant.key, '{ leads(createdAfter: "yesterday") { totalCount } }');
      expect(onlyError(res).extensions?.code).toBe('VALIDATION');
    });
  });

  it('creates an integration and never returns or exposes its credentials', async () => {
    // The CRM is asked whose token it is: a real (sandbox) HubSpot account answers.
    const hubspot = await startHubSpotSandbox({ portalId: 424242, accessTokens: ['pat-secret-access-token'] });
    onTestFinished(() => hubspot.close());
    const res = await gql(
      api,
      acme.key,
      'mutation ($input: CreateIntegrationInput!) { createIntegration(input: $input) { id provider name accountId apiBaseUrl autoSync webhooksEnabled createdAt } }',
      {
        input: {
          provider: 'HUBSPOT',
          name: 'Acme portal',
          accountId: '424242',
          apiBaseUrl: hubspot.url,
          accessToken: 'pat-secret-access-token',
          refreshToken: 'secret-refresh-token',
          clientSecret: 'secret-client-secret',
        },
      },
    );
    expect(res.body.errors).toBeUndefined();
    const created = res.body.data!.createIntegration;
    expect(created).toMatchObject({ provider: 'HUBSPOT', name: 'Acme portal', accountId: '424242', autoSync: true, webhooksEnabled: false });
    const listed = await gql(api, acme.key, '{ integrations { id name } }');
    expect(listed.body.data!.integrations).toContainEqual({ id: created.id, name: 'Acme portal' });

    // No output type of the schema has a field that could carry a credential.
    for (const type of Object.values(schema.getTypeMap())) {
      if (!isObjectType(type) || type.name.startsWith('__')) continue;
      for (const field of Object.keys(type.getFields())) expect(`${type.name}.${field}`).not.toMatch(/credential|token|secret/i);
    }
    const asked = await gql(api, acme.key, '{ integrations { credentials } }');
    expect(onlyError(asked).message).toMatch(/Cannot query field/);
    // Nor does any log line.
    const logs = JSON.stringify(api.logs());
    for (const secret of ['pat-secret-access-token', 'secret-refresh-token', 'secret-client-secret', acme.key]) {
      expect(logs).not.toContain(secret);
    }
  });

  it('has schema.graphql in sync with the code (run `npm run schema:print` when this fails)', async () => {
    const committed = await readFile(new URL('../../schema.graphql', import.meta.url), 'utf8');
    expect(committed).toBe(printSchemaSDL());
  });
});
