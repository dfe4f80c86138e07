// OAuth refresh and data-centre hosts, over real HTTP against the sandbox.
import { afterEach, describe, expect, it } from 'vitest';
import { CrmError } from '../../../adapters/contract.ts';
import { lead, provisionOptions, setup, TAG, type Setup } from './helpers.ts';

async function thrown(p: Promise<unknown>): Promise<CrmError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof CrmError) return e;
    throw e;
  }
  throw new Error('expected a CrmError');
}

describe('Zoho OAuth refresh', () => {
  let s: Setup | undefined;
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  it('refreshes once when Zoho rejects the token, retries, and hands the new credentials back', async () => {
    s = await setup();
    const id = s.sandbox.controls.createLeadAsUser({ Email: 'r@example.com', Last_Name: 'R' });
    s.sandbox.controls.expireAccessTokens(); // Zoho no longer accepts the stored token
    const [rec] = await s.client.readRecords([id]);
    expect(rec?.externalId).toBe(id);
    expect(s.sandbox.controls.tokenCalls).toBe(1);
    expect(s.stored).toHaveLength(1);
    const creds = s.stored[0]!;
    expect(creds.accessToken).toMatch(/^1000\./);
    expect(Date.parse(creds.expiresAt!)).toBeGreaterThan(Date.now() + 50 * 60_000);
    expect(creds.apiDomain).toBe(s.sandbox.url);
    expect(creds.refreshToken).toBe(s.sandbox.controls.refreshToken);
    // The new token is used from then on: no further refresh.
    await s.client.readRecords([id]);
    expect(s.sandbox.controls.tokenCalls).toBe(1);
  });

  it('refreshes before the stored expiry instead of sending a token about to lapse', async () => {
    s = await setup({ credentials: (c) => ({ ...c, expiresAt: new Date(Date.now() + 60_000).toISOString() }) });
    await s.client.readRecords(['1']);
    expect(s.sandbox.controls.tokenCalls).toBe(1);
    expect(s.sandbox.controls.requests.filter((r) => r.status === 401)).toHaveLength(0);
    expect(s.calls[0]).toMatch(/^POST http:\/\/127\.0\.0\.1:\d+\/oauth\/v2\/token$/);
  });

  it('makes exactly one token call for 20 concurrent calls with an expired token', async () => {
    s = await setup({ credentials: (c) => ({ ...c, expiresAt: new Date(Date.now() - 1000).toISOString() }) });
    s.sandbox.controls.setLatency(20);
    const results = await Promise.all(Array.from({ length: 20 }, () => s!.client.readRecords(['1'])));
    expect(results.every((r) => Array.isArray(r))).toBe(true);
    expect(s.sandbox.controls.tokenCalls).toBe(1);
    expect(s.stored).toHaveLength(1);
  });

  it('makes exactly one token call when 20 concurrent calls are all answered 401', async () => {
    s = await setup();
    s.sandbox.controls.expireAccessTokens();
    s.sandbox.controls.setLatency(20);
    await Promise.all(Array.from({ length: 20 }, () => s!.client.readRecords(['1'])));
    expect(s.sandbox.controls.tokenCalls).toBe(1);
  });

  it('reports a revoked refresh token as AUTH_REVOKED that retrying cannot heal', async () => {
    s = await setup({ credentials: (c) => ({ ...c, refreshToken: 'revoked', expiresAt: new Date(0).toISOString() }) });
    const err = await thrown(s.client.readRecords(['1']));
    expect(err.code).toBe('AUTH_REVOKED');
    expect(err.retryable).toBe(false);
    expect(s.stored).toHaveLength(0);
  });

  it('reports a token the refresh cannot cure as AUTH_EXPIRED (retryable) without looping', async () => {
    s = await setup();
    s.sandbox.controls.injectFault('auth_expired', 2);
    const err = await thrown(s.client.readRecords(['1']));
    expect(err.code).toBe('AUTH_EXPIRED');
    expect(err.retryable).toBe(true);
    expect(s.sandbox.controls.tokenCalls).toBe(1);
    expect(s.sandbox.controls.requests.filter((r) => r.path.startsWith('/crm/'))).toHaveLength(2);
  });

  it('fails a push with AUTH_EXPIRED per lead when no refresh is possible', async () => {
    s = await setup({ credentials: (c) => ({ accessToken: c.accessToken, expiresAt: new Date(0).toISOString() }) });
    const results = await s.client.pushLeads([lead('a', { email: 'a@example.com' }), lead('b', { email: 'b@example.com' })], TAG);
    expect(results.map((r) => r.localId)).toEqual(['a', 'b']);
    expect(results.map((r) => (r.ok ? 'ok' : r.error.code))).toEqual(['AUTH_EXPIRED', 'AUTH_EXPIRED']);
  });
});

describe('Zoho data centres', () => {
  let s: Setup | undefined;
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  it('talks only to the stored api domain and accounts host, refresh included', async () => {
    // The sandbox stands in for an EU org: API and accounts on their own hosts.
    s = await setup({ credentials: (c) => ({ ...c, expiresAt: new Date(0).toISOString() }) });
    await s.client.provision(provisionOptions());
    const [r] = await s.client.pushLeads([lead('eu', { email: 'eu@example.com', lastName: 'Eu' })], TAG);
    expect(r?.ok).toBe(true);
    await s.client.readRecords([r!.ok ? r!.externalId : '']);
    const origins = new Set(s.calls.map((c) => new URL(c.split(' ')[1]!).origin));
    expect(origins).toEqual(new Set([s.sandbox.url, s.sandbox.accountsUrl]));
    expect(s.calls.filter((c) => c.includes('/oauth/v2/token')).every((c) => c.includes(s!.sandbox.accountsUrl))).toBe(true);
  });

  it('derives the accounts host from an EU api domain and never calls the US hosts', async () => {
    s = await setup({
      baseUrl: () => 'https://www.zohoapis.eu',
      credentials: (c) => ({ accessToken: c.accessToken, refreshToken: c.refreshToken, clientId: c.clientId, clientSecret: c.clientSecret, expiresAt: new Date(0).toISOString() }),
    });
    const err = await thrown(s.client.readRecords(['1']));
    expect(err.code).toBe('NETWORK'); // the test fetch refuses non-loopback hosts
    expect(s.calls).toEqual(['POST https://accounts.zoho.eu/oauth/v2/token']);
  });

  it('refuses to guess an accounts host for an unknown api domain (no US fallback)', async () => {
    s = await setup({
      credentials: (c) => ({ accessToken: c.accessToken, refreshToken: c.refreshToken, clientId: c.clientId, clientSecret: c.clientSecret, expiresAt: new Date(0).toISOString() }),
    });
    const err = await thrown(s.client.readRecords(['1']));
    expect(err.code).toBe('AUTH_EXPIRED');
    expect(err.retryable).toBe(false);
    expect(s.calls).toEqual([]);
  });
});
