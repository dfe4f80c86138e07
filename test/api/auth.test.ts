import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BOOTSTRAP_ORGANIZATION_NAME, SCOPES, ensureBootstrap, hashApiKey, revokeApiKey } from '../../src/auth.ts';
import { freshDatabase } from '../helpers/db.ts';
import { gql, newTenant, onlyError, rest, startApi, wsClient, type Tenant, type TestApi } from './harness.ts';

describe('API keys', () => {
  let api: TestApi;
  let acme: Tenant;

  beforeAll(async () => {
    api = await startApi();
    acme = await newTenant(api, 'Acme');
  });
  afterAll(() => api.close());

  const cases: [string, () => string | null][] = [
    ['no key', () => null],
    ['an unknown key', () => 'cs_thisKeyWasNeverIssuedByAnybodyAtAll123'],
    ['a tampered key', () => `${acme.key.slice(0, -1)}${acme.key.endsWith('A') ? 'B' : 'A'}`],
  ];

  for (const [name, key] of cases) {
    it(`answers 401 to ${name} on GraphQL and REST, before doing anything`, async () => {
      const g = await gql(api, key(), '{ integrations { id } }');
      expect(g.status).toBe(401);
      expect(g.body.data ?? null).toBeNull();
      expect(onlyError(g).extensions?.code).toBe('UNAUTHENTICATED');

      const r = await rest(api, key(), 'POST', '/api/v1/crm-integration/import', { integrationId: 'x' });
      expect(r.status).toBe(401);
      expect(r.json.error.code).toBe('UNAUTHENTICATED');
      expect(r.headers.get('www-authenticate')).toBe('Bearer');
      expect(await api.db.prisma.importJob.count()).toBe(0);
    });
  }

  it('accepts a valid key, shown once as cs_<random> and stored only as a hash with a short prefix', async () => {
    const ok = await gql(api, acme.key, '{ integrations { id } }');
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ data: { integrations: [] } });

    expect(acme.key).toMatch(/^cs_[A-Za-z0-9_-]{40,}$/);
    const row = await api.db.prisma.apiKey.findUniqueOrThrow({ where: { id: acme.apiKeyId } });
    expect(row.hash).toBe(hashApiKey(acme.key));
    expect(acme.key.startsWith(row.prefix)).toBe(true);
    expect(row.prefix.length).toBeLessThan(12);
    expect(JSON.stringify(row)).not.toContain(acme.key);
    expect(row.scopes.sort()).toEqual([...SCOPES].sort());
    expect(row.lastUsedAt).not.toBeNull();
  });

  it('rejects a revoked key everywhere, including new WebSocket connections', async () => {
    const victim = await newTenant(api, 'Soon revoked');
    expect((await gql(api, victim.key, '{ integrations { id } }')).status).toBe(200);
    expect(await revokeApiKey(api.db.prisma, victim.organizationId, victim.apiKeyId)).toBe(true);

    const g = await gql(api, victim.key, '{ integrations { id } }');
    expect(g.status).toBe(401);
    expect(onlyError(g).extensions?.code).toBe('UNAUTHENTICATED');
    const r = await rest(api, victim.key, 'GET', '/api/v1/crm-integration/any-id/webhook-status');
    expect(r.status).toBe(401);

    let closed: { code: number } | undefined;
    const client = wsClient(api, victim.key, (e) => (closed = e));
    const outcome = await client
      .iterate({ query: 'subscription { leadCreated { id } }' })
      .next()
      .then(
        () => 'event',
        () => 'refused',
      );
    expect(outcome).toBe('refused');
    expect(closed?.code).toBe(4403);
    await client.dispose();
  });

  it('lets a key revoked while its WebSocket is open start no new operation', async () => {
    const tenant = await newTenant(api, 'Revoked mid-connection');
    const closes: number[] = [];
    const client = wsClient(api, tenant.key, (e) => closes.push(e.code), true);
    try {
      const before = await client.iterate({ query: '{ integrations { id } }' }).next();
      expect(before.value).toEqual({ data: { integrations: [] } });
      // Errors before execution fail that operation (graphql-ws "error" message), not the connection.
      await expect(client.iterate({ query: '{ integrations { id }' }).next()).rejects.toEqual([
        expect.objectContaining({ message: expect.stringMatching(/Syntax Error/) }),
      ]);
      await revokeApiKey(api.db.prisma, tenant.organizationId, tenant.apiKeyId);
      await expect(client.iterate({ query: '{ integrations { id } }' }).next()).rejects.toEqual([
        expect.objectContaining({ extensions: { code: 'UNAUTHENTICATED' } }),
      ]);
      expect(closes).toEqual([]);
    } finally {
      await client.dispose();
    }
  });

  it('refuses a WebSocket connection without a key', async () => {
    let closed: { code: number } | undefined;
    const client = wsClient(api, null, (e) => (closed = e));
    await expect(client.iterate({ query: '{ integrations { id } }' }).next()).rejects.toBeTruthy();
    expect(closed?.code).toBe(4403);
    await client.dispose();
  });

  it('does not accept the key in other headers or schemes', async () => {
    const variants: Record<string, string>[] = [{ authorization: `Basic ${acme.key}` }, { 'x-api-key': acme.key }, { authorization: acme.key }];
    for (const headers of variants) {
      const res = await fetch(`${api.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ query: '{ integrations { id } }' }),
      });
      expect(res.status).toBe(401);
    }
  });
});

describe('bootstrap', () => {
  it('creates the first organization with the bootstrap key only on an empty database', async () => {
    const db = await freshDatabase();
    try {
      const bootstrapKey = 'bootstrap-key-0123456789';
      expect(await ensureBootstrap(db.prisma, undefined)).toEqual({ created: false, reason: 'no-key' });
      expect(await db.prisma.organization.count()).toBe(0);

      const first = await ensureBootstrap(db.prisma, bootstrapKey);
      expect(first.created).toBe(true);
      const orgs = await db.prisma.organization.findMany({ include: { apiKeys: true } });
      expect(orgs).toHaveLength(1);
      expect(orgs[0].name).toBe(BOOTSTRAP_ORGANIZATION_NAME);
      expect(orgs[0].apiKeys).toHaveLength(1);
      expect(orgs[0].apiKeys[0].hash).toBe(hashApiKey(bootstrapKey));
      expect(orgs[0].apiKeys[0].scopes.sort()).toEqual([...SCOPES].sort());
      expect(bootstrapKey.startsWith(orgs[0].apiKeys[0].prefix)).toBe(true);
      expect(orgs[0].apiKeys[0].prefix.length).toBeLessThanOrEqual(4);

      // A restart with the same key, or with another one, adds nothing.
      expect(await ensureBootstrap(db.prisma, bootstrapKey)).toEqual({ created: false, reason: 'not-empty' });
      expect(await ensureBootstrap(db.prisma, 'another-bootstrap-key-xyz')).toEqual({ created: false, reason: 'not-empty' });
      expect(await db.prisma.organization.count()).toBe(1);
      expect(await db.prisma.apiKey.count({ where: { hash: hashApiKey('another-bootstrap-key-xyz') } })).toBe(0);
    } finally {
      await db.destroy();
    }
  });

  it('does nothing on a database that already has an organization', async () => {
    const db = await freshDatabase();
    try {
      await db.prisma.organization.create({ data: { name: 'Existing' } });
      expect(await ensureBootstrap(db.prisma, 'bootstrap-key-0123456789')).toEqual({ created: false, reason: 'not-empty' });
      expect(await db.prisma.organization.findMany({ select: { name: true } })).toEqual([{ name: 'Existing' }]);
      expect(await db.prisma.apiKey.count()).toBe(0);
    } finally {
      await db.destroy();
    }
  });
});
