// Subscriptions over graphql-ws (real WebSocket) and over SSE, fed by the real engine.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CREATE_LEAD,
  firstEventWhileProducing,
  gql,
  newTenant,
  sseEvents,
  startApi,
  wsClient,
  type Tenant,
  type TestApi,
} from './harness.ts';

const LEAD_FIELDS = 'id email firstName createdAt crmMetadata { sourceSystem syncVersion } crmLinks { provider externalId }';

describe('subscriptions', () => {
  let api: TestApi;
  let acme: Tenant;

  beforeAll(async () => {
    api = await startApi();
    acme = await newTenant(api, 'Acme');
  });
  afterAll(() => api.close());

  it('delivers leadCreated over graphql-ws when a lead is created', async () => {
    const client = wsClient(api, acme.key);
    try {
      const events = client.iterate<{ leadCreated: Record<string, any> }>({ query: `subscription { leadCreated { ${LEAD_FIELDS} } }` });
      const { event, produced } = await firstEventWhileProducing(events.next(), async (n) => {
        const res = await gql(api, acme.key, CREATE_LEAD, { input: { email: `ws-${n}@acme.io`, firstName: 'Ws' } });
        return res.body.data!.createLead;
      });
      const got = event.value.data!.leadCreated;
      const created = produced.find((p) => p.id === got.id);
      expect(created).toBeDefined();
      expect(got).toEqual({
        id: created.id,
        email: created.email,
        firstName: 'Ws',
        createdAt: created.createdAt,
        crmMetadata: { sourceSystem: 'jazzaam', syncVersion: 1 },
        crmLinks: [],
      });
      await events.return?.();
    } finally {
      await client.dispose();
    }
  });

  it('delivers leadCreated over SSE when a lead is created', async () => {
    const abort = new AbortController();
    const res = await fetch(`${api.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${acme.key}` },
      body: JSON.stringify({ query: `subscription { leadCreated { ${LEAD_FIELDS} } }` }),
      signal: abort.signal,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const events = sseEvents(res);
    try {
      const { event, produced } = await firstEventWhileProducing(events.next(), async (n) => {
        const r = await gql(api, acme.key, CREATE_LEAD, { input: { email: `sse-${n}@acme.io` } });
        return r.body.data!.createLead;
      });
      const got = event.value.data.leadCreated;
      const created = produced.find((p) => p.id === got.id);
      expect(created).toBeDefined();
      expect(got.email).toBe(created.email);
      expect(got.createdAt).toBe(created.createdAt);
    } finally {
      abort.abort();
      await events.return(undefined).catch(() => {});
    }
  });

  it('refuses an SSE subscription without a valid key', async () => {
    const res = await fetch(`${api.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: 'Bearer cs_nope' },
      body: JSON.stringify({ query: 'subscription { leadCreated { id } }' }),
    });
    expect(res.status).toBe(401);
    await res.body?.cancel();
  });

  it('delivers leadUpdated with the new values', async () => {
    const lead = (await gql(api, acme.key, CREATE_LEAD, { input: { email: 'changing@acme.io' } })).body.data!.createLead;
    const client = wsClient(api, acme.key);
    try {
      const events = client.iterate<{ leadUpdated: Record<string, any> }>({
        query: 'subscription { leadUpdated { id company crmMetadata { syncVersion } } }',
      });
      const { event, produced } = await firstEventWhileProducing(events.next(), async (n) => {
        const r = await gql(api, acme.key, 'mutation ($input: UpdateLeadInput!) { updateLead(input: $input) { id company crmMetadata { syncVersion } } }', {
          input: { id: lead.id, company: `Company ${n}` },
        });
        return r.body.data!.updateLead;
      });
      const got = event.value.data!.leadUpdated;
      expect(produced).toContainEqual(got);
      expect(got.id).toBe(lead.id);
      await events.return?.();
    } finally {
      await client.dispose();
    }
  });

  it('delivers leadUpdated for a change of attributes alone, with the attributes and the same syncVersion', async () => {
    const lead = (await gql(api, acme.key, CREATE_LEAD, { input: { email: 'attributes@acme.io' } })).body.data!.createLead;
    const client = wsClient(api, acme.key);
    try {
      const events = client.iterate<{ leadUpdated: Record<string, any> }>({
        query: 'subscription { leadUpdated { id attributes crmMetadata { syncVersion } } }',
      });
      const { event, produced } = await firstEventWhileProducing(events.next(), async (n) => {
        const r = await gql(api, acme.key, 'mutation ($input: UpdateLeadInput!) { updateLead(input: $input) { id attributes crmMetadata { syncVersion } } }', {
          input: { id: lead.id, attributes: { round: n } },
        });
        return r.body.data!.updateLead;
      });
      const got = event.value.data!.leadUpdated;
      expect(produced).toContainEqual(got);
      expect(got).toMatchObject({ id: lead.id, attributes: { round: expect.any(Number) }, crmMetadata: { syncVersion: 1 } });
      await events.return?.();
    } finally {
      await client.dispose();
    }
  });

  it('serves rows that crossed Redis (dates as strings) like rows from the database', async () => {
    const lead = (await gql(api, acme.key, CREATE_LEAD, { input: { email: 'redis@acme.io' } })).body.data!.createLead;
    const row = await api.db.prisma.lead.findFirstOrThrow({ where: { organizationId: acme.organizationId, email: 'redis@acme.io' } });
    const overTheWire = JSON.parse(JSON.stringify(row));
    const client = wsClient(api, acme.key);
    try {
      const events = client.iterate<{ leadUpdated: Record<string, any> }>({ query: `subscription { leadUpdated { ${LEAD_FIELDS} updatedAt } }` });
      const { event } = await firstEventWhileProducing(events.next(), async () => {
        await api.pubsub.publish('lead.updated', { organizationId: acme.organizationId, lead: overTheWire });
      });
      const got = event.value.data!.leadUpdated;
      expect(got.id).toBe(lead.id);
      expect(got.createdAt).toBe(row.createdAt.toISOString());
      expect(got.updatedAt).toBe(row.updatedAt.toISOString());
      expect(got.crmLinks).toEqual([]);
      await events.return?.();
    } finally {
      await client.dispose();
    }
  });

  it('follows an import job: its state now, then each update, ending when it finishes', async () => {
    const integration = await api.db.prisma.integration.create({
      data: { organizationId: acme.organizationId, provider: 'HUBSPOT', name: 'hs', accountId: '77', apiBaseUrl: 'http://127.0.0.1:9', credentials: '{}' },
    });
    const job = await api.db.prisma.importJob.create({ data: { organizationId: acme.organizationId, integrationId: integration.id } });
    const other = await api.db.prisma.importJob.create({ data: { organizationId: acme.organizationId, integrationId: integration.id } });
    const client = wsClient(api, acme.key);
    try {
      const events = client.iterate<{ importProgress: Record<string, any> }>({
        query: 'subscription ($id: ID!) { importProgress(jobId: $id) { id status pages created finishedAt } }',
        variables: { id: job.id },
      });
      const first = await events.next();
      expect(first.value.data!.importProgress).toEqual({ id: job.id, status: 'running', pages: 0, created: 0, finishedAt: null });

      // The first event proves the subscription listens: updates from now on arrive.
      await api.pubsub.publish('import.progress', { ...other, pages: 9 });
      const page = await api.db.prisma.importJob.update({ where: { id: job.id }, data: { pages: 1, created: 5 } });
      await api.pubsub.publish('import.progress', page);
      const done = await api.db.prisma.importJob.update({ where: { id: job.id }, data: { pages: 2, created: 8, status: 'completed', finishedAt: new Date() } });
      await api.pubsub.publish('import.progress', JSON.parse(JSON.stringify(done)));

      expect((await events.next()).value.data!.importProgress).toMatchObject({ id: job.id, pages: 1, created: 5, finishedAt: null });
      expect((await events.next()).value.data!.importProgress).toEqual({
        id: job.id,
        status: 'completed',
        pages: 2,
        created: 8,
        finishedAt: done.finishedAt!.toISOString(),
      });
      expect((await events.next()).done).toBe(true);
    } finally {
      await client.dispose();
    }
  });
});
