// The Zoho sandbox speaks Zoho's documented wire formats (raw HTTP, no adapter), so an
// adapter that passes against it can be trusted against Zoho itself.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startZohoSandbox, type ZohoSandbox } from '../../../sandboxes/zoho/index.ts';

let sb: ZohoSandbox;
let auth: Record<string, string>;

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${sb.url}/crm/v7${path}`, {
    method,
    headers: { ...auth, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, any>) : null };
}

beforeAll(async () => {
  sb = await startZohoSandbox({ searchLagMs: 3600_000 });
  auth = { authorization: `Zoho-oauthtoken ${sb.controls.issueAccessToken().accessToken}` };
});

afterAll(async () => {
  await sb.close();
});

describe('Zoho sandbox wire formats', () => {
  it('refreshes tokens like the accounts server, counting calls and answering errors with 200 + error', async () => {
    const form = (refresh: string) =>
      new URLSearchParams({ refresh_token: refresh, client_id: sb.controls.clientId, client_secret: sb.controls.clientSecret, grant_type: 'refresh_token' });
    const before = sb.controls.tokenCalls;
    const good = await fetch(`${sb.accountsUrl}/oauth/v2/token?${form(sb.controls.refreshToken)}`, { method: 'POST' });
    expect(good.status).toBe(200);
    expect(await good.json()).toMatchObject({ access_token: expect.stringMatching(/^1000\./), api_domain: sb.url, token_type: 'Bearer', expires_in: 3600 });
    const bad = await fetch(`${sb.accountsUrl}/oauth/v2/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form('nope').toString() });
    expect([bad.status, await bad.json()]).toEqual([200, { error: 'invalid_code' }]);
    expect(sb.controls.tokenCalls - before).toBe(2);
  });

  it('checks the Zoho-oauthtoken header: 401 INVALID_TOKEN / AUTHENTICATION_FAILURE', async () => {
    const bad = await fetch(`${sb.url}/crm/v7/Leads?fields=Email`, { headers: { authorization: 'Zoho-oauthtoken 1000.nope' } });
    expect([bad.status, await bad.json()]).toEqual([401, { code: 'INVALID_TOKEN', details: {}, message: 'invalid oauth token', status: 'error' }]);
    const none = await fetch(`${sb.url}/crm/v7/Leads?fields=Email`);
    expect(((await none.json()) as { code: string }).code).toBe('AUTHENTICATION_FAILURE');
  });

  it('inserts with per-record results and names the existing record in DUPLICATE_DATA (207 when mixed)', async () => {
    const first = await call('POST', '/Leads', { data: [{ Last_Name: 'A', Email: 'wire@example.com' }], trigger: [] });
    expect(first.status).toBe(201);
    expect(first.body!.data[0]).toMatchObject({
      code: 'SUCCESS',
      message: 'record added',
      status: 'success',
      details: { id: expect.stringMatching(/^\d+$/), Created_Time: expect.stringMatching(/\+05:30$/), Modified_Time: expect.any(String) },
    });
    const id = first.body!.data[0].details.id as string;
    const mixed = await call('POST', '/Leads', { data: [{ Last_Name: 'B', Email: 'WIRE@example.com' }, { Last_Name: 'C' }, { Email: 'x@example.com' }] });
    expect(mixed.status).toBe(207);
    expect(mixed.body!.data[0]).toEqual({
      code: 'DUPLICATE_DATA',
      details: {
        api_name: 'Email',
        json_path: '$.data[0].Email',
        duplicate_record: { Owner: expect.any(Object), module: { api_name: 'Leads', id: expect.any(String) }, id },
        more_records: false,
      },
      message: 'duplicate data',
      status: 'error',
    });
    expect(mixed.body!.data[1].code).toBe('SUCCESS');
    expect(mixed.body!.data[2]).toMatchObject({ code: 'MANDATORY_NOT_FOUND', details: { api_name: 'Last_Name' } });
  });

  it('upserts with action insert|update and duplicate_field', async () => {
    const r = await call('POST', '/Leads/upsert', { data: [{ Last_Name: 'U', Email: 'wire@example.com' }, { Last_Name: 'V', Email: 'upsert-new@example.com' }], duplicate_check_fields: ['Email'] });
    expect(r.status).toBe(200);
    expect(r.body!.data.map((d: Record<string, unknown>) => [d.action, d.duplicate_field, d.message])).toEqual([
      ['update', 'Email', 'record updated'],
      ['insert', null, 'record added'],
    ]);
  });

  it('answers search with 204 while the index lags, then finds by criteria and email', async () => {
    expect((await call('GET', `/Leads/search?email=${encodeURIComponent('wire@example.com')}`)).status).toBe(204);
    sb.controls.indexNow();
    const byEmail = await call('GET', `/Leads/search?email=${encodeURIComponent('wire@example.com')}`);
    expect(byEmail.status).toBe(200);
    expect(byEmail.body!.info).toMatchObject({ count: 1, more_records: false });
    const byCriteria = await call('GET', `/Leads/search?criteria=${encodeURIComponent('((Email:equals:wire@example.com)or(Email:equals:upsert-new@example.com))')}`);
    expect(byCriteria.body!.data).toHaveLength(2);
    expect((await call('GET', '/Leads/search?criteria=(Email:equals:a(b)')).status).toBe(400);
  });

  it('pages with next_page_token bound to the other parameters, and honours If-Modified-Since (304)', async () => {
    const page1 = await call('GET', '/Leads?fields=Email&sort_by=id&sort_order=asc&per_page=2');
    expect(page1.body!.info).toMatchObject({ per_page: 2, count: 2, more_records: true, next_page_token: expect.any(String) });
    const token = page1.body!.info.next_page_token as string;
    const page2 = await call('GET', `/Leads?fields=Email&sort_by=id&sort_order=asc&per_page=2&page_token=${token}`);
    expect(page2.body!.data.length).toBeGreaterThan(0);
    const altered = await call('GET', `/Leads?fields=Email,Phone&sort_by=id&sort_order=asc&per_page=2&page_token=${token}`);
    expect([altered.status, altered.body!.code]).toEqual([400, 'TOKEN_BOUND_DATA_MISMATCH']);
    expect((await call('GET', '/Leads?sort_by=id')).body!.code).toBe('REQUIRED_PARAM_MISSING');
    const future = await call('GET', '/Leads?fields=Email', undefined, { 'If-Modified-Since': new Date(Date.now() + 3600_000).toISOString() });
    expect([future.status, future.body]).toEqual([304, null]);
  });

  it('registers watch channels (default expiry one hour, token at most 50 characters) and lists them', async () => {
    const now = sb.controls.now().getTime();
    const ok = await call('POST', '/actions/watch', { watch: [{ channel_id: '1000000068001', events: ['Leads.create'], notify_url: 'http://127.0.0.1:9/hook', token: 'tok' }] });
    expect(ok.body!.watch[0]).toMatchObject({ code: 'SUCCESS', status: 'success', details: { events: [{ channel_id: '1000000068001', resource_name: 'Leads' }] } });
    expect(Date.parse(ok.body!.watch[0].details.events[0].channel_expiry)).toBe(now + 3600_000);
    const long = await call('POST', '/actions/watch', { watch: [{ channel_id: '1000000068002', events: ['Leads.create'], notify_url: 'http://127.0.0.1:9/hook', token: 'x'.repeat(51) }] });
    expect([long.status, long.body!.watch[0].code]).toEqual([400, 'INVALID_DATA']);
    const list = await call('GET', '/actions/watch');
    expect(list.body!.watch.map((w: Record<string, unknown>) => w.channel_id)).toEqual(['1000000068001']);
  });

  it('answers faults as Zoho does: 429 TOO_MANY_REQUESTS, 500 INTERNAL_ERROR', async () => {
    sb.controls.injectFault('rate_limit');
    sb.controls.injectFault('server_error');
    const rl = await call('GET', '/Leads?fields=Email');
    expect([rl.status, rl.body!.code, rl.body!.status]).toEqual([429, 'TOO_MANY_REQUESTS', 'error']);
    const ise = await call('GET', '/Leads?fields=Email');
    expect([ise.status, ise.body!.code]).toEqual([500, 'INTERNAL_ERROR']);
    expect((await call('GET', '/Leads?fields=Email')).status).toBe(200);
  });
});
