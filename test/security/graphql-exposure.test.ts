// What the GraphQL endpoint gives away and what it refuses before doing any work:
// aliases are capped and introspection counts towards the cost (both refused before
// GraphQL's own validation), introspection, "Did you mean" hints and GraphiQL are off in
// production unless configured, and GraphiQL loads nothing from another host.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gql, newTenant, onlyError, startApi, wsClient, type Tenant, type TestApi } from '../api/harness.ts';

const many = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i)).join(' ');

describe('limits before validation (development defaults)', () => {
  let api: TestApi;
  let t: Tenant;
  beforeAll(async () => {
    api = await startApi();
    t = await newTenant(api, 'Acme');
  });
  afterAll(() => api?.close());

  it('refuses 8,000 aliases of __schema with TOO_MANY_ALIASES alone: GraphQL validation never ran on it', async () => {
    // The misspelt field would be reported by GraphQL's validation had it run.
    const query = `{ ${many(8_000, (i) => `a${i}: __schema { types { name } }`)} nope: __schema { notAField } }`;
    const r = await gql(api, t.key, query);
    expect(r.body.data ?? null).toBeNull();
    const error = onlyError(r);
    expect(error.extensions).toMatchObject({ code: 'TOO_MANY_ALIASES', aliases: 8_001, maxAliases: 50 });
    expect(error.message).toMatch(/8001 aliases; at most 50/);
  });

  it('counts introspection fields in the cost: 8,000 unaliased __schema selections are QUERY_TOO_COSTLY', async () => {
    const r = await gql(api, t.key, `{ ${many(8_000, () => '__schema { types { name } }')} }`);
    expect(r.body.data ?? null).toBeNull();
    const error = onlyError(r);
    expect(error.extensions?.code).toBe('QUERY_TOO_COSTLY');
    expect(error.extensions?.cost).toBeGreaterThanOrEqual(8_000 * 3);
  });

  it('allows 50 aliases and refuses 51, over HTTP and WebSockets', async () => {
    const fifty = await gql(api, t.key, `{ ${many(50, (i) => `a${i}: __typename`)} }`);
    expect(fifty.body.errors).toBeUndefined();
    expect(Object.keys(fifty.body.data!)).toHaveLength(50);
    const fiftyOne = await gql(api, t.key, `{ ${many(51, (i) => `a${i}: __typename`)} }`);
    expect(onlyError(fiftyOne).extensions?.code).toBe('TOO_MANY_ALIASES');

    const client = wsClient(api, t.key);
    try {
      await expect(client.iterate({ query: `subscription { ${many(51, (i) => `a${i}: leadCreated { id }`)} }` }).next()).rejects.toEqual([
        expect.objectContaining({ extensions: expect.objectContaining({ code: 'TOO_MANY_ALIASES' }) }),
      ]);
    } finally {
      await client.dispose();
    }
  });

  it('measures fragments spread into each other once each (a fragment bomb is refused quickly, not expanded)', async () => {
    // F0 spreads F1 ten times, F1 spreads F2 ten times, ... : 10^12 fields once expanded.
    const levels = 12;
    const fragments = Array.from({ length: levels }, (_, i) =>
      i === levels - 1 ? `fragment F${i} on Query { __typename }` : `fragment F${i} on Query { ${many(10, () => `...F${i + 1}`)} }`,
    ).join('\n');
    const r = await gql(api, t.key, `{ ...F0 }\n${fragments}`);
    expect(onlyError(r).extensions?.code).toBe('QUERY_TOO_COSTLY');
  });

  it('serves introspection and "Did you mean" hints in development', async () => {
    const schema = await gql(api, t.key, '{ __schema { queryType { name } } }');
    expect(schema.body.data).toEqual({ __schema: { queryType: { name: 'Query' } } });
    const typo = await gql(api, t.key, '{ integrations { nmae } }');
    expect(onlyError(typo).message).toMatch(/Did you mean "name"\?/);
  });
});

describe('production defaults', () => {
  let api: TestApi;
  let t: Tenant;
  beforeAll(async () => {
    api = await startApi({ env: { NODE_ENV: 'production', METRICS_TOKEN: 'metrics-token-for-tests-0123' } });
    t = await newTenant(api, 'Acme');
  });
  afterAll(() => api?.close());

  it('refuses __schema and __type with INTROSPECTION_DISABLED, and still answers __typename', async () => {
    for (const query of ['{ __schema { types { name } } }', '{ __type(name: "Lead") { fields { name } } }', 'query { leads { ...on LeadConnection { totalCount } } x: __schema { queryType { name } } }']) {
      const r = await gql(api, t.key, query);
      expect(r.body.data ?? null, query).toBeNull();
      expect(r.body.errors?.map((e) => e.extensions?.code), query).toContain('INTROSPECTION_DISABLED');
    }
    const typename = await gql(api, t.key, '{ __typename }');
    expect(typename.body).toEqual({ data: { __typename: 'Query' } });
  });

  it('gives no "Did you mean" hints for fields, arguments, types or enum values', async () => {
    const cases: [string, Record<string, unknown>?][] = [
      ['{ integrations { nmae } }'],
      ['{ leads(frist: 1) { totalCount } }'],
      ['query ($p: CrmProvidr) { leads(provider: $p) { totalCount } }'],
      ['{ leads(provider: HUBSPOTT) { totalCount } }'],
      ['query ($p: CrmProvider) { leads(provider: $p) { totalCount } }', { p: 'HUBSPOTT' }],
      ['mutation ($i: CreateLeadInput!) { createLead(input: $i) { id } }', { i: { email: 'a@example.com', frstName: 'A' } }],
    ];
    for (const [query, variables] of cases) {
      const r = await gql(api, t.key, query, variables);
      expect(r.body.errors?.length, query).toBeGreaterThan(0);
      for (const e of r.body.errors!) {
        expect(e.message, query).not.toMatch(/Did you mean/);
        expect(e.message, query).not.toMatch(/"(name|first|HUBSPOT|firstName)"/);
        expect(e.extensions?.code, query).not.toBe('INTERNAL');
      }
    }
    expect(await api.db.prisma.lead.count()).toBe(0);
  });

  it('serves no GraphiQL page', async () => {
    const res = await fetch(`${api.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(res.headers.get('content-type') ?? '').not.toContain('text/html');
    expect(await res.text()).not.toMatch(/graphiql/i);
  });
});

describe('production with introspection, hints and GraphiQL turned on', () => {
  let api: TestApi;
  let t: Tenant;
  beforeAll(async () => {
    api = await startApi({
      env: { NODE_ENV: 'production', GRAPHQL_INTROSPECTION: 'true', GRAPHQL_SUGGESTIONS: 'true', GRAPHQL_GRAPHIQL: 'true' },
    });
    t = await newTenant(api, 'Acme');
  });
  afterAll(() => api?.close());

  it('answers introspection and hints again', async () => {
    expect((await gql(api, t.key, '{ __schema { queryType { name } } }')).body.errors).toBeUndefined();
    expect(onlyError(await gql(api, t.key, '{ integrations { nmae } }')).message).toMatch(/Did you mean/);
  });

  it('serves GraphiQL from its own page only: no script or style sheet from another host, and a CSP naming its one inline script', async () => {
    const res = await fetch(`${api.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('<title>crm-sync</title>');
    // Tags outside the inline scripts: none loads anything from elsewhere.
    const outsideScripts = html.replace(/<script>[\s\S]*?<\/script>/g, '<script></script>');
    const external = [...outsideScripts.matchAll(/<(script|link|img|iframe)\b[^>]*?\b(src|href)\s*=\s*["']?([^"'\s>]+)/gi)]
      .map((m) => m[3])
      .filter((u) => /^(https?:)?\/\//i.test(u));
    expect(external).toEqual([]);
    expect(outsideScripts).not.toMatch(/@import|url\(\s*["']?(https?:)?\/\//i);

    const csp = res.headers.get('content-security-policy') ?? '';
    const directives = Object.fromEntries(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([k, ...v]) => [k, v]));
    expect(directives['default-src']).toEqual(["'none'"]);
    expect(directives['connect-src']).toEqual(["'self'"]);
    expect(directives['frame-ancestors']).toEqual(["'none'"]);
    // Scripts: exactly the page's inline scripts, by hash; nothing from any host.
    const inline = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => `'sha256-${createHash('sha256').update(m[1]).digest('base64')}'`);
    expect(inline.length).toBeGreaterThan(0);
    expect(directives['script-src']).toEqual(inline);
    for (const values of Object.values(directives)) for (const v of values) expect(v).not.toMatch(/^(https?:|\*|'unsafe-eval')/);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  });
});
