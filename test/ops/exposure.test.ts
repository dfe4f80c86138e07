// The operations surface against a real server: metric labels stay bounded whatever
// operation names clients invent, /metrics behind METRICS_TOKEN or on METRICS_PORT (and a
// loud warning in production when neither is set), CORS answers only listed origins
// without credentials, and WebSocket upgrades from foreign origins are refused.
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gql, newTenant, rest, startApi, type Tenant, type TestApi } from '../api/harness.ts';
import { freePort } from '../helpers/net.ts';
import { parseMetrics } from './helpers.ts';

const TOKEN = 'metrics-token-0123456789abcdef';
const ALLOWED = 'https://app.example.com';
const FOREIGN = 'https://evil.example.net';

/** Opens a graphql-ws WebSocket with `origin` (none when undefined): 'open' or the refusal status. */
function upgrade(url: string, origin: string | undefined): Promise<'open' | number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws', origin ? { origin } : {});
    ws.once('open', () => {
      ws.close();
      resolve('open');
    });
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
    });
    ws.once('error', (err) => reject(err));
  });
}

describe('metrics token, labels, CORS and WebSocket origins', () => {
  let api: TestApi;
  let t: Tenant;
  beforeAll(async () => {
    api = await startApi({ env: { METRICS_TOKEN: TOKEN, CORS_ORIGINS: `${ALLOWED}, http://localhost:5173`, API_RATE_LIMIT_PER_MINUTE: '0' } });
    t = await newTenant(api, 'Acme');
  });
  afterAll(() => api?.close());

  const scrape = async () => {
    const res = await fetch(`${api.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    return parseMetrics(await res.text());
  };

  it('answers /metrics only with the bearer token', async () => {
    for (const headers of [{} as Record<string, string>, { authorization: 'Bearer wrong-token-0123456789abcdef' }, { authorization: TOKEN }, { authorization: `Basic ${TOKEN}` }]) {
      const res = await fetch(`${api.url}/metrics`, { headers });
      expect(res.status, JSON.stringify(headers)).toBe(401);
      expect(await res.text()).not.toContain('crm_sync_');
    }
    expect((await scrape()).length).toBeGreaterThan(0);
  });

  it('keeps 5,000 distinct operation names to a bounded number of series (100 names, then "other")', async () => {
    const names = Array.from({ length: 5_000 }, (_, i) => `Op${i}`);
    for (let i = 0; i < names.length; i += 50) {
      const batch = names.slice(i, i + 50);
      const answers = await Promise.all(batch.map((n) => gql(api, t.key, `query ${n} { __typename }`)));
      for (const a of answers) expect(a.body.data).toEqual({ __typename: 'Query' });
    }
    const samples = (await scrape()).filter((s) => s.name === 'crm_sync_graphql_operation_duration_seconds_count');
    const operations = new Set(samples.map((s) => s.labels.operation));
    expect(operations.size).toBeLessThanOrEqual(100 + 3); // the names kept, anonymous, invalid, other
    expect(operations.has('other')).toBe(true);
    const counted = samples.filter((s) => s.labels.operation !== 'anonymous' && s.labels.operation !== 'invalid').reduce((n, s) => n + s.value, 0);
    expect(counted).toBe(5_000); // every operation is still counted, under its name or "other"
    expect(samples.find((s) => s.labels.operation === 'other')!.value).toBeGreaterThanOrEqual(4_900);
  }, 300_000); // 5,000 real HTTP requests, each authenticated against the database

  it('answers CORS only for listed origins, never reflecting a foreign one, never with credentials', async () => {
    const preflight = (origin: string, path = '/graphql') =>
      fetch(`${api.url}${path}`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
      });
    const allowed = await preflight(ALLOWED);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(allowed.headers.get('access-control-allow-credentials')).toBeNull();
    expect(allowed.headers.get('access-control-allow-headers')).toMatch(/authorization/);
    for (const path of ['/graphql', '/api/v1/crm-integration/import']) {
      const foreign = await preflight(FOREIGN, path);
      expect(foreign.headers.get('access-control-allow-origin'), path).toBeNull();
      expect(foreign.headers.get('access-control-allow-credentials'), path).toBeNull();
    }
    // Actual requests: the answer carries the origin only when it is listed.
    const fromForeign = await gql(api, t.key, '{ __typename }', undefined, { origin: FOREIGN });
    expect(fromForeign.headers.get('access-control-allow-origin')).toBeNull();
    const fromAllowed = await gql(api, t.key, '{ __typename }', undefined, { origin: ALLOWED });
    expect(fromAllowed.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(fromAllowed.headers.get('access-control-allow-credentials')).toBeNull();
    // Server-to-server calls (no Origin) work as ever, on GraphQL and REST.
    expect((await gql(api, t.key, '{ __typename }')).body.data).toEqual({ __typename: 'Query' });
    const r = await rest(api, t.key, 'POST', '/api/v1/crm-integration/import', { integrationId: 'none' });
    expect(r.status).toBe(404);
    expect(r.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('refuses WebSocket upgrades from foreign origins (403), accepts listed ones, its own and none', async () => {
    expect(await upgrade(api.url, FOREIGN)).toBe(403);
    expect(await upgrade(api.url, 'null')).toBe(403);
    expect(await upgrade(api.url, ALLOWED)).toBe('open');
    expect(await upgrade(api.url, api.url)).toBe('open');
    expect(await upgrade(api.url, undefined)).toBe('open');
  });
});

describe('METRICS_PORT', () => {
  let api: TestApi;
  let metricsPort: number;
  beforeAll(async () => {
    metricsPort = await freePort();
    api = await startApi({ env: { METRICS_PORT: String(metricsPort), NODE_ENV: 'production' } });
  });
  afterAll(() => api?.close());

  it('serves /metrics on its own port only, and does not warn', async () => {
    expect((await fetch(`${api.url}/metrics`)).status).toBe(404);
    const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('crm_sync_http_requests_total');
    // Nothing else is served there.
    expect((await fetch(`http://127.0.0.1:${metricsPort}/graphql`)).status).toBe(404);
    expect(api.logs().filter((l) => String(l.msg).startsWith('METRICS:'))).toEqual([]);
  });
});

describe('production without METRICS_TOKEN or METRICS_PORT', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi({ env: { NODE_ENV: 'production' } });
  });
  afterAll(() => api?.close());

  it('still serves /metrics, and warns loudly at start that it is unauthenticated', async () => {
    expect((await fetch(`${api.url}/metrics`)).status).toBe(200);
    const warning = api.logs().find((l) => String(l.msg).startsWith('METRICS:'));
    expect(warning).toMatchObject({ level: 40 });
    expect(String(warning!.msg)).toMatch(/METRICS_TOKEN.*METRICS_PORT/);
  });
});
