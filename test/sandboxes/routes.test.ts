// The sandboxes' route table: one matcher for all three, and each sandbox answering a miss
// (a path no route has, a method its routes lack) in its CRM's own wire format.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RouteTable } from '../../sandboxes/kit/routes.ts';
import { startHubSpotSandbox, type HubSpotSandbox } from '../../sandboxes/hubspot/index.ts';
import { startSalesforceSandbox, type SalesforceSandbox } from '../../sandboxes/salesforce/index.ts';
import { startZohoSandbox, type ZohoSandbox } from '../../sandboxes/zoho/index.ts';

describe('RouteTable', () => {
  const table = new RouteTable<string>([
    { method: 'POST', pattern: '/things/search', handler: 'search' },
    { method: ['GET', 'DELETE'], pattern: '/things/:id(\\d+)', handler: 'one' },
    { method: 'GET', pattern: '/things/:id/parts/:part', handler: 'part' },
    { method: '*', pattern: '/any', handler: 'any' },
  ]);

  it('hands the path parameters, URL-decoded, to the route whose pattern and method match', () => {
    expect(table.match('GET', '/things/42')).toEqual({ kind: 'found', handler: 'one', params: { id: '42' } });
    expect(table.match('get', '/things/a%20b/parts/x%2Fy')).toEqual({ kind: 'found', handler: 'part', params: { id: 'a b', part: 'x/y' } });
    expect(table.match('PATCH', '/any')).toMatchObject({ kind: 'found', handler: 'any' });
  });

  it('answers 405 with the allowed methods when the path is known but not the method', () => {
    expect(table.match('PUT', '/things/42')).toEqual({ kind: 'method_not_allowed', allowed: ['GET', 'DELETE'] });
    expect(table.match('GET', '/things/search')).toEqual({ kind: 'method_not_allowed', allowed: ['POST'] });
  });

  it('answers not_found for a path no route has, a parameter its pattern refuses, or a malformed escape', () => {
    expect(table.match('GET', '/things')).toEqual({ kind: 'not_found' });
    expect(table.match('GET', '/things/abc')).toEqual({ kind: 'not_found' });
    expect(table.match('GET', '/things/%E0%A4%A/parts/x')).toEqual({ kind: 'not_found' });
  });
});

describe('each sandbox renders a miss in its CRM format', () => {
  let hs: HubSpotSandbox;
  let sf: SalesforceSandbox;
  let zs: ZohoSandbox;

  beforeAll(async () => {
    [hs, sf, zs] = await Promise.all([startHubSpotSandbox(), startSalesforceSandbox(), startZohoSandbox()]);
  });
  afterAll(async () => {
    await Promise.all([hs?.close(), sf?.close(), zs?.close()]);
  });

  const call = async (url: string, method: string, authorization: string) => {
    const res = await fetch(url, { method, headers: { authorization } });
    const text = await res.text();
    return { status: res.status, allow: res.headers.get('allow'), body: text ? (JSON.parse(text) as unknown) : undefined };
  };

  it('HubSpot: 404 OBJECT_NOT_FOUND for an unknown path, 405 with Allow for an unknown method', async () => {
    const auth = `Bearer ${hs.accessToken}`;
    const unknown = await call(`${hs.url}/crm/v3/objects/widgets`, 'GET', auth);
    expect(unknown).toMatchObject({ status: 404, body: { status: 'error', category: 'OBJECT_NOT_FOUND' } });
    const put = await call(`${hs.url}/crm/v3/objects/contacts/1`, 'PUT', auth);
    expect(put).toMatchObject({ status: 405, allow: 'GET, PATCH, DELETE', body: { status: 'error', category: 'VALIDATION_ERROR' } });
    expect(hs.controls.requests.map((r) => r.status)).toEqual([404, 405]);
  });

  it('Salesforce: 404 NOT_FOUND for an unknown path, 405 METHOD_NOT_ALLOWED with Allow for an unknown method', async () => {
    const auth = `Bearer ${sf.controls.credentials().accessToken}`;
    const unknown = await call(`${sf.url}/services/data/v62.0/widgets`, 'GET', auth);
    expect(unknown).toMatchObject({ status: 404, body: [{ errorCode: 'NOT_FOUND' }] });
    const put = await call(`${sf.url}/services/data/v62.0/sobjects/Lead/00Q000000000001AAA`, 'PUT', auth);
    expect(put).toMatchObject({ status: 405, allow: 'GET, PATCH, DELETE', body: [{ errorCode: 'METHOD_NOT_ALLOWED' }] });
    expect(sf.controls.requests.map((r) => [r.method, r.status])).toEqual([
      ['GET', 404],
      ['PUT', 405],
    ]);
  });

  it('Zoho: 404 INVALID_URL_PATTERN, 400 INVALID_MODULE for another module, 400 INVALID_REQUEST_METHOD for an unknown method', async () => {
    const auth = `Zoho-oauthtoken ${zs.controls.issueAccessToken().accessToken}`;
    expect(await call(`${zs.url}/crm/v7/widgets`, 'GET', auth)).toMatchObject({ status: 404, body: { code: 'INVALID_URL_PATTERN', status: 'error' } });
    expect(await call(`${zs.url}/crm/v7/Contacts`, 'GET', auth)).toMatchObject({ status: 400, body: { code: 'INVALID_MODULE' } });
    expect(await call(`${zs.url}/crm/v7/Leads/search`, 'POST', auth)).toMatchObject({ status: 400, body: { code: 'INVALID_REQUEST_METHOD' } });
    expect(zs.controls.requests.map((r) => r.status)).toEqual([404, 400, 400]);
  });
});
