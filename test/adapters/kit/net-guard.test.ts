// The network guard's decisions. Addresses other than loopback are only ever judged
// (through a resolver the test controls), never connected to; the few real connections
// go to a server on 127.0.0.1.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { HUBSPOT_API_HOSTS } from '../../../adapters/hubspot/index.ts';
import { addressKind } from '../../../adapters/kit/ip.ts';
import {
  checkOrigin,
  guardedLookup,
  HostAllowList,
  isNetGuardRefusal,
  NetGuardError,
  resolveChecked,
  type NetGuardReason,
  type Resolver,
} from '../../../adapters/kit/net-guard.ts';
import { guardedAgent, guardedFetch } from '../../../adapters/kit/transport.ts';
import { SALESFORCE_HOSTS } from '../../../adapters/salesforce/client.ts';
import { ZOHO_ACCOUNTS_HOSTS, ZOHO_API_HOSTS } from '../../../adapters/zoho/index.ts';

const HUBSPOT = new HostAllowList(HUBSPOT_API_HOSTS);
const SALESFORCE = new HostAllowList(SALESFORCE_HOSTS);
const ZOHO = new HostAllowList(ZOHO_API_HOSTS);
const STRICT = {};
const LOCAL = { allowLocalHosts: true };

/** A resolver answering from a table, as a DNS server under an attacker's control would. */
function resolverOf(table: Record<string, string[]>): Resolver {
  return async (host) => (table[host] ?? []).map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
}

async function reason(p: Promise<unknown> | (() => unknown)): Promise<NetGuardReason | 'accepted'> {
  try {
    await (typeof p === 'function' ? p() : p);
    return 'accepted';
  } catch (e) {
    if (e instanceof NetGuardError) return e.reason;
    throw e;
  }
}

describe('address kinds', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.8.9.10', 'loopback'],
    ['10.0.0.1', 'private'],
    ['172.16.5.4', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['0.0.0.0', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fe80::1', 'link-local'],
    ['fd00:ec2::254', 'private'],
    ['fc00::1', 'private'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:169.254.169.254', 'link-local'],
    ['::ffff:10.0.0.1', 'private'],
    ['64:ff9b::a9fe:a9fe', 'link-local'],
    ['2002:7f00:1::', 'loopback'],
    ['8.8.8.8', 'public'],
    ['172.32.0.1', 'public'],
    ['2606:4700:4700::1111', 'public'],
    ['not-an-ip', 'invalid'],
  ])('%s is %s', (ip, kind) => {
    expect(addressKind(ip)).toBe(kind);
  });
});

describe('addresses after resolution (the resolver is ours: nothing is connected to)', () => {
  it.each(['127.0.0.1', '10.0.0.1', '169.254.169.254', '::ffff:127.0.0.1', '::1', 'fd00:ec2::254', '0.0.0.0'])(
    'api.hubapi.com resolving to %s is refused',
    async (address) => {
      const resolve = resolverOf({ 'api.hubapi.com': [address] });
      expect(await reason(resolveChecked('api.hubapi.com', HUBSPOT, STRICT, resolve))).toBe('ADDRESS_NOT_ALLOWED');
    },
  );

  it('a public address of a listed host is allowed (a decision only)', async () => {
    const resolve = resolverOf({ 'api.hubapi.com': ['104.16.0.1', '2606:4700::6810:1'] });
    expect(await resolveChecked('api.hubapi.com', HUBSPOT, STRICT, resolve)).toHaveLength(2);
  });

  it('one refused address in the answer refuses the name', async () => {
    const resolve = resolverOf({ 'api.hubapi.com': ['104.16.0.1', '10.0.0.1'] });
    expect(await reason(resolveChecked('api.hubapi.com', HUBSPOT, STRICT, resolve))).toBe('ADDRESS_NOT_ALLOWED');
  });

  it('with local hosts allowed, loopback passes and private, link-local and metadata addresses stay refused', async () => {
    const resolve = resolverOf({ 'sandbox.test': ['127.0.0.1'], 'meta.test': ['169.254.169.254'], 'lan.test': ['192.168.0.10'], 'pub.test': ['104.16.0.1'] });
    expect(await resolveChecked('sandbox.test', HUBSPOT, LOCAL, resolve)).toEqual([{ address: '127.0.0.1', family: 4 }]);
    expect(await reason(resolveChecked('meta.test', HUBSPOT, LOCAL, resolve))).toBe('ADDRESS_NOT_ALLOWED');
    expect(await reason(resolveChecked('lan.test', HUBSPOT, LOCAL, resolve))).toBe('ADDRESS_NOT_ALLOWED');
    // A host that is not the CRM's may only be loopback, even in local mode.
    expect(await reason(resolveChecked('pub.test', HUBSPOT, LOCAL, resolve))).toBe('ADDRESS_NOT_ALLOWED');
  });

  it('the lookup handed to sockets answers in net.lookup form, or with the refusal', async () => {
    const lookup = guardedLookup(HUBSPOT, LOCAL, resolverOf({ 'sandbox.test': ['127.0.0.1', '::1'], 'meta.test': ['169.254.169.254'] }));
    const call = (host: string, all: boolean) =>
      new Promise<unknown>((resolve, reject) => lookup(host, { all }, (err, address) => (err ? reject(err) : resolve(address))));
    expect(await call('sandbox.test', true)).toEqual([
      { address: '127.0.0.1', family: 4 },
      { address: '::1', family: 6 },
    ]);
    expect(await call('sandbox.test', false)).toBe('127.0.0.1');
    expect(await reason(call('meta.test', true))).toBe('ADDRESS_NOT_ALLOWED');
  });
});

describe('base URLs', () => {
  it.each([
    ['http://api.hubapi.com', 'SCHEME_NOT_ALLOWED'],
    ['file:///etc/passwd', 'SCHEME_NOT_ALLOWED'],
    ['gopher://api.hubapi.com', 'SCHEME_NOT_ALLOWED'],
    ['https://user:pw@api.hubapi.com', 'URL_INVALID'],
    ['https://api.hubapi.com#', 'URL_INVALID'],
    ['https://api.hubapi.com/internal/admin#', 'URL_INVALID'],
    ['https://api.hubapi.com/?x=1', 'NOT_AN_ORIGIN'],
    ['https://api.hubapi.com/internal/admin', 'NOT_AN_ORIGIN'],
    ['https://api.hubapi.com:8443', 'HOST_NOT_ALLOWED'],
    ['https://evil.example.com', 'HOST_NOT_ALLOWED'],
    ['https://api.hubapi.com.evil.example', 'HOST_NOT_ALLOWED'],
    ['https://127.0.0.1', 'HOST_NOT_ALLOWED'],
    ['https://2130706433', 'HOST_NOT_ALLOWED'],
    ['https://[::1]', 'HOST_NOT_ALLOWED'],
    ['https://169.254.169.254', 'HOST_NOT_ALLOWED'],
    ['https://localhost', 'HOST_NOT_ALLOWED'],
  ])('HubSpot %s is refused (%s)', async (url, why) => {
    expect(await reason(() => checkOrigin(url, HUBSPOT, STRICT))).toBe(why);
  });

  it('normalises an accepted base URL to its origin', () => {
    expect(checkOrigin('https://API.HubAPI.com/', HUBSPOT, STRICT)).toBe('https://api.hubapi.com');
    expect(checkOrigin('https://api.hubspot.com', HUBSPOT, STRICT)).toBe('https://api.hubspot.com');
    expect(checkOrigin('https://api.hubapi.com./', HUBSPOT, STRICT)).toBe('https://api.hubapi.com');
  });

  it('Salesforce: My Domain, login and instance hosts pass; look-alikes do not', async () => {
    for (const ok of ['https://acme.my.salesforce.com', 'https://acme--dev.sandbox.my.salesforce.com', 'https://login.salesforce.com', 'https://test.salesforce.com', 'https://na1.salesforce.com', 'https://acme.lightning.force.com']) {
      expect(checkOrigin(ok, SALESFORCE, STRICT)).toBe(ok);
    }
    for (const bad of ['https://salesforce.com.evil.example', 'https://evilsalesforce.com', 'https://salesforce.com', 'https://acme.my.salesforce.com.evil.example']) {
      expect(await reason(() => checkOrigin(bad, SALESFORCE, STRICT))).toBe('HOST_NOT_ALLOWED');
    }
  });

  it("Zoho: every data centre's API domain (with or without www) and accounts server pass", async () => {
    for (const tld of ['com', 'eu', 'in', 'com.au', 'com.cn', 'jp', 'ca', 'sa']) {
      expect(checkOrigin(`https://www.zohoapis.${tld}`, ZOHO, STRICT)).toBe(`https://www.zohoapis.${tld}`);
      expect(checkOrigin(`https://zohoapis.${tld}`, ZOHO, STRICT)).toBe(`https://zohoapis.${tld}`);
    }
    const accounts = new HostAllowList(ZOHO_ACCOUNTS_HOSTS);
    for (const host of ['accounts.zoho.com', 'accounts.zoho.eu', 'accounts.zoho.in', 'accounts.zoho.com.au', 'accounts.zoho.com.cn', 'accounts.zoho.jp', 'accounts.zohocloud.ca', 'accounts.zoho.sa']) {
      expect(checkOrigin(`https://${host}`, accounts, STRICT)).toBe(`https://${host}`);
    }
    expect(await reason(() => checkOrigin('https://accounts.zoho.com', ZOHO, STRICT))).toBe('HOST_NOT_ALLOWED');
  });

  it('with local hosts allowed: http and loopback pass, other addresses do not', async () => {
    expect(checkOrigin('http://127.0.0.1:4010', HUBSPOT, LOCAL)).toBe('http://127.0.0.1:4010');
    expect(checkOrigin('http://[::ffff:127.0.0.1]:4010', HUBSPOT, LOCAL)).toBe('http://[::ffff:7f00:1]:4010');
    expect(checkOrigin('http://localhost:4010', HUBSPOT, LOCAL)).toBe('http://localhost:4010');
    expect(await reason(() => checkOrigin('http://10.0.0.1', HUBSPOT, LOCAL))).toBe('HOST_NOT_ALLOWED');
    expect(await reason(() => checkOrigin('http://169.254.169.254', HUBSPOT, LOCAL))).toBe('HOST_NOT_ALLOWED');
    expect(await reason(() => checkOrigin('http://127.0.0.1:4010/x#', HUBSPOT, LOCAL))).toBe('URL_INVALID');
  });
});

describe('at connect time (a server on 127.0.0.1 counts what reaches it)', () => {
  let server: http.Server | undefined;
  let hits = 0;

  afterEach(async () => {
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    server = undefined;
    hits = 0;
  });

  async function listen(handler: http.RequestListener = (_q, s) => s.end('ok')): Promise<number> {
    server = http.createServer((req, res) => {
      hits++;
      handler(req, res);
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
    return (server.address() as AddressInfo).port;
  }

  it('a CRM host name that resolves to loopback is never connected to (DNS rebinding)', async () => {
    const port = await listen();
    // Local mode lets http and ports through, so only the address decides here.
    const resolve = resolverOf({ 'sandbox.test': ['127.0.0.1'], 'rebound.test': ['10.0.0.1'] });
    const f = guardedFetch({ hosts: HUBSPOT, policy: LOCAL, resolve });
    expect((await f(`http://sandbox.test:${port}/`, {})).status).toBe(200);
    expect(hits).toBe(1);
    const refused = await f(`http://rebound.test:${port}/`, {}).catch((e: unknown) => e);
    expect(isNetGuardRefusal(refused)).toBe(true);
    expect(hits).toBe(1);
  });

  it('without the opt-in, loopback is refused through the http Agent as well', async () => {
    const port = await listen();
    const agent = guardedAgent('http:', { hosts: new HostAllowList(['api.hubapi.com']), policy: STRICT, resolve: resolverOf({ 'api.hubapi.com': ['127.0.0.1'] }) });
    for (const host of ['api.hubapi.com', '127.0.0.1']) {
      const err = await new Promise<unknown>((resolve) => {
        const req = http.get({ host, port, agent, path: '/' }, (res) => resolve(res.statusCode));
        req.on('error', resolve);
      });
      expect(isNetGuardRefusal(err)).toBe(true);
    }
    agent.destroy();
    expect(hits).toBe(0);
  });

  it('a redirect to another host is refused, not followed', async () => {
    const port = await listen((_q, s) => {
      s.writeHead(302, { location: `http://other.test:${port}/internal` });
      s.end();
    });
    const f = guardedFetch({ hosts: HUBSPOT, policy: LOCAL, resolve: resolverOf({ 'sandbox.test': ['127.0.0.1'], 'other.test': ['127.0.0.1'] }) });
    expect(await reason(f(`http://sandbox.test:${port}/`, {}))).toBe('REDIRECT_NOT_ALLOWED');
    expect(hits).toBe(1);
  });
});
