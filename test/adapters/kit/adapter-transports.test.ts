// Each adapter's own HTTP stack goes through the network guard: the HubSpot SDK's
// agent (node-fetch follows redirects itself), jsforce's transport, Zoho's fetch. A
// "CRM" on 127.0.0.1 redirects to 0.0.0.0 — an address the guard refuses and that, were
// the guard bypassed, would land back on this same loopback server (so a failure of the
// test is visible as a second hit, and no traffic ever leaves loopback).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { isCrmError, type CrmAdapter, type CrmError } from '../../../adapters/contract.ts';
import { hubspotAdapter } from '../../../adapters/hubspot/index.ts';
import { salesforceAdapter } from '../../../adapters/salesforce/index.ts';
import { zohoAdapter } from '../../../adapters/zoho/index.ts';

let server: http.Server | undefined;
let paths: string[] = [];

afterEach(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
  paths = [];
});

async function redirectingCrm(): Promise<string> {
  server = http.createServer((req, res) => {
    paths.push(req.url ?? '');
    req.resume();
    if (req.url?.startsWith('/internal')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"results":[],"records":[],"done":true,"totalSize":0,"data":[]}');
      return;
    }
    const port = (server!.address() as AddressInfo).port;
    res.writeHead(302, { location: `http://0.0.0.0:${port}/internal/admin` });
    res.end();
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function failure(p: Promise<unknown>): Promise<CrmError> {
  try {
    await p;
  } catch (e) {
    if (isCrmError(e)) return e;
    throw e;
  }
  throw new Error('expected a CrmError');
}

const credentials = { accessToken: 'token', expiresAt: new Date(Date.now() + 3_600_000).toISOString() };

describe.each([
  ['HubSpot', hubspotAdapter],
  ['Salesforce', salesforceAdapter],
  ['Zoho', zohoAdapter],
] as [string, CrmAdapter][])('%s: a redirect to another host', (_name, adapter) => {
  it('is refused (DESTINATION_REFUSED, not retried) and never followed', async () => {
    const url = await redirectingCrm();
    const client = adapter.connect({ baseUrl: url, accountId: '1', credentials, settings: {}, network: { allowLocalHosts: true } });
    const err = await failure(client.listPage(null, 10));
    expect(err.code).toBe('DESTINATION_REFUSED');
    expect(err.retryable).toBe(false);
    expect(paths.filter((p) => p.startsWith('/internal'))).toEqual([]);
    expect(paths).toHaveLength(1);
  });
});

describe.each([
  ['HubSpot', hubspotAdapter],
  ['Salesforce', salesforceAdapter],
  ['Zoho', zohoAdapter],
] as [string, CrmAdapter][])('%s: without the opt-in', (_name, adapter) => {
  it('a loopback base URL is refused before any request', async () => {
    const url = await redirectingCrm();
    const client = adapter.connect({ baseUrl: url, accountId: '1', credentials, settings: {} });
    const err = await failure(client.listPage(null, 10));
    expect(err.code).toBe('DESTINATION_REFUSED');
    expect(paths).toEqual([]);
  });
});
