// Server-side request forgery through integrations: a tenant names the URL crm-sync
// calls (apiBaseUrl, accountsUrl). The real service, the real adapters; the "internal
// page" an attacker aims at is a server on 127.0.0.1 that counts what reaches it.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { writeCredentials } from '../../src/engine/connections.ts';
import { checkIntegrationUrls } from '../../src/engine/integration-urls.ts';
import { hubspotAdapter } from '../../adapters/hubspot/index.ts';
import { salesforceAdapter } from '../../adapters/salesforce/index.ts';
import { zohoAdapter } from '../../adapters/zoho/index.ts';
import { importAndWait } from '../helpers/import-scenario.ts';
import { eventually } from '../helpers/net.ts';
import {
  connectSalesforce,
  connectZoho,
  salesforceMoves,
  settle,
  startHubSpotFor,
  startSalesforceFor,
  startStack,
  startZohoFor,
  zohoMoves,
  type Stack,
} from '../helpers/stack.ts';
import type { HubSpotSandbox } from '../../sandboxes/hubspot/server.ts';

const SECRET = 'internal-only-secret-7f3a9c';

interface Internal {
  url: string;
  hits: () => number;
  close(): Promise<void>;
}

/** An internal service answering every request with `status` and `body` (the secret inside). */
async function internalService(status: number, contentType: string, body: string): Promise<Internal> {
  let hits = 0;
  const server = http.createServer((req, res) => {
    hits++;
    req.resume();
    res.writeHead(status, { 'content-type': contentType });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hits: () => hits,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

const HTML_PAGE = `<html><body><h1>Admin console</h1><p>token=${SECRET}</p>${'<p>filler</p>'.repeat(400)}</body></html>`;

const CREATE = `mutation($input: CreateIntegrationInput!) { createIntegration(input: $input) { id apiBaseUrl } }`;

let accounts = 0;
/** createIntegration input; every call names another account (one integration per account). */
function input(provider: string, over: Record<string, unknown>) {
  const n = String(++accounts).padStart(5, '0');
  const accountId = provider === 'SALESFORCE' ? `00D5g00000${n}` : provider === 'ZOHO' ? `600000${n}` : `7${n}`;
  return { provider, name: `${provider} attempt`, accountId, accessToken: 'token', ...over };
}

describe('creating an integration: URLs the network guard refuses (CRM_ALLOW_LOCAL_HOSTS off)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ CRM_ALLOW_LOCAL_HOSTS: 'false' });
  });
  afterAll(() => stack.stop());

  it.each([
    ['HUBSPOT', 'http://127.0.0.1:4010'],
    ['HUBSPOT', 'https://127.0.0.1'],
    ['HUBSPOT', 'https://10.0.0.1'],
    ['HUBSPOT', 'https://169.254.169.254/latest/meta-data#'],
    ['HUBSPOT', 'https://[::ffff:127.0.0.1]'],
    ['HUBSPOT', 'https://api.hubapi.com/internal/admin#'],
    ['HUBSPOT', 'https://api.hubapi.com/crm/v3?x=1'],
    ['HUBSPOT', 'https://user:pw@api.hubapi.com'],
    ['HUBSPOT', 'https://api.hubapi.com.evil.example'],
    ['HUBSPOT', 'file:///etc/passwd'],
    ['SALESFORCE', 'https://acme.my.salesforce.com.evil.example'],
    ['SALESFORCE', 'http://acme.my.salesforce.com'],
    ['ZOHO', 'https://www.zohoapis.com.evil.example'],
    ['ZOHO', 'https://metadata.google.internal'],
  ])('%s apiBaseUrl %s is refused as bad input naming apiBaseUrl, and nothing is stored', async (provider, apiBaseUrl) => {
    const r = await stack.gql(CREATE, { input: input(provider, { apiBaseUrl }) });
    expect(r.data?.createIntegration ?? null).toBeNull();
    expect(r.errors?.[0]?.extensions?.code).toBe('VALIDATION');
    expect((r.errors?.[0]?.extensions?.fields as { field: string }[]).map((f) => f.field)).toEqual(['apiBaseUrl']);
    expect(await stack.db.prisma.integration.count()).toBe(0);
  });

  it('a Zoho accountsUrl that is not a Zoho accounts server is refused naming accountsUrl', async () => {
    const r = await stack.gql(CREATE, { input: input('ZOHO', { apiBaseUrl: 'https://www.zohoapis.eu', accountsUrl: 'https://169.254.169.254' }) });
    expect(r.errors?.[0]?.extensions?.code).toBe('VALIDATION');
    expect((r.errors?.[0]?.extensions?.fields as { field: string }[]).map((f) => f.field)).toEqual(['accountsUrl']);
    expect(await stack.db.prisma.integration.count()).toBe(0);
  });

  it('says nothing about local hosts when the opt-in is off', () => {
    expect(stack.logs().some((l) => String(l.msg).includes('CRM_ALLOW_LOCAL_HOSTS'))).toBe(false);
  });

  // The guard's verdict alone: creating an integration asks the CRM whose token it is
  // (whoami), and tests never send traffic to a public host.
  it("the CRMs' own hosts are accepted, normalised to an origin", () => {
    const hub = checkIntegrationUrls(hubspotAdapter, {}, { apiBaseUrl: 'https://API.hubapi.com/' }, null);
    expect(hub.apiBaseUrl).toBe('https://api.hubapi.com');
    const zoho = checkIntegrationUrls(zohoAdapter, {}, { apiBaseUrl: 'https://www.zohoapis.eu', accountsUrl: 'https://accounts.zoho.eu' }, null);
    expect(zoho).toEqual({ apiBaseUrl: 'https://www.zohoapis.eu', accountsUrl: 'https://accounts.zoho.eu' });
    const sf = checkIntegrationUrls(salesforceAdapter, {}, { apiBaseUrl: 'https://acme.my.salesforce.com' }, null);
    expect(sf.apiBaseUrl).toBe('https://acme.my.salesforce.com');
  });

  describe('an integration stored earlier with a loopback URL', () => {
    let hs: HubSpotSandbox;
    let integrationId: string;
    beforeAll(async () => {
      hs = await startHubSpotFor(stack);
      // Written directly, as rows from before the guard existed are.
      const row = await stack.db.prisma.integration.create({
        data: {
          organizationId: stack.orgId,
          provider: 'HUBSPOT',
          name: 'old row',
          accountId: String(hs.portalId),
          apiBaseUrl: hs.url,
          credentials: writeCredentials({ accessToken: hs.accessToken }, stack.keyring),
        },
      });
      integrationId = row.id;
    });
    afterAll(() => hs.close());

    it('makes no request: the import fails with DESTINATION_REFUSED and the sandbox saw nothing', async () => {
      const job = await importAndWait(stack, integrationId);
      expect(job.status).toBe('failed');
      const stored = await stack.db.prisma.importJob.findFirstOrThrow({ where: { integrationId } });
      expect(stored.error).toMatch(/^DESTINATION_REFUSED: /);
      expect(hs.controls.requests).toEqual([]);
    });

    it('a push fails at once with DESTINATION_REFUSED (never retried) and the sandbox saw nothing', async () => {
      await stack.engine.createLead(stack.orgId, { email: 'guarded@example.com' });
      const item = await eventually(
        async () => (await stack.db.prisma.outboxItem.findFirst({ where: { integrationId, status: 'failed' } })) ?? undefined,
        30_000,
        'the push to fail',
      );
      expect(item).toMatchObject({ errorCode: 'DESTINATION_REFUSED', attempts: 1 });
      expect(hs.controls.requests).toEqual([]);
    });
  });
});

describe('error reflection: what a CRM URL answers never reaches the tenant raw (CRM_ALLOW_LOCAL_HOSTS on)', () => {
  let stack: Stack;
  let internal: Internal | undefined;
  beforeAll(async () => {
    // The import is polled over GraphQL many times a second: no per-key rate limit here.
    stack = await startStack({ RETRY_BASE_MS: '10', API_RATE_LIMIT_PER_MINUTE: '0' });
  });
  afterAll(() => stack.stop());
  afterEach(async () => {
    await internal?.close();
    internal = undefined;
  });

  async function attack(provider: string, status: number, contentType: string, body: string) {
    internal = await internalService(status, contentType, body);
    const fields = input(provider, { name: `${provider} ${status}`, apiBaseUrl: internal.url, accountsUrl: provider === 'ZOHO' ? internal.url : undefined, autoSync: false });
    // Creating asks the "CRM" whose token it is: the page it answers is not reflected.
    const refused = await stack.gql(CREATE, { input: fields });
    expect(refused.errors?.length).toBe(1);
    expect(JSON.stringify(refused)).not.toContain(SECRET);
    expect(JSON.stringify(refused)).not.toContain('<');
    // A row that points there anyway (written before the proof of account existed): what
    // its import and pushes store and answer must not reflect the page either.
    const row = await stack.db.prisma.integration.create({
      data: {
        organizationId: stack.orgId,
        provider: provider as 'HUBSPOT' | 'SALESFORCE' | 'ZOHO',
        name: fields.name as string,
        accountId: fields.accountId,
        apiBaseUrl: internal.url,
        autoSync: false,
        credentials: writeCredentials(
          { accessToken: 'token', ...(provider === 'ZOHO' ? { accountsUrl: internal.url } : {}) },
          stack.keyring,
        ),
      },
    });
    const id = row.id;
    const started = await stack.gqlOk(`mutation($id: ID!) { importFromCrm(integrationId: $id) { id } }`, { id });
    const job = await eventually(async () => {
      const r = await stack.gqlOk(`query($id: ID!) { importJob(id: $id) { status error } }`, { id: started.importFromCrm.id });
      return r.importJob.status === 'running' ? undefined : (r.importJob as { status: string; error: string });
    }, 30_000, 'the import to end');
    return { id, job };
  }

  it('warns loudly at start that local hosts are allowed', () => {
    expect(stack.logs().some((l) => l.level === 40 && String(l.msg).includes('CRM_ALLOW_LOCAL_HOSTS is on'))).toBe(true);
  });

  it.each(['HUBSPOT', 'SALESFORCE', 'ZOHO'])('%s: an internal HTML page answering 400 shows only the code, never the page', async (provider) => {
    const { id, job } = await attack(provider, 400, 'text/html', HTML_PAGE);
    expect(internal!.hits()).toBeGreaterThan(0);
    expect(job.status).toBe('failed');
    expect(job.error).toMatch(/^VALIDATION: /);
    expect(job.error).not.toContain(SECRET);
    expect(job.error).not.toContain('<');
    expect(job.error.length).toBeLessThanOrEqual(450);
    const stored = await stack.db.prisma.importJob.findFirstOrThrow({ where: { integrationId: id } });
    expect(stored.error).toBe(job.error);
  });

  it.each(['HUBSPOT', 'SALESFORCE', 'ZOHO'])('%s: a 200 answer that is not the CRM\'s JSON is reported without its body', async (provider) => {
    const { job } = await attack(provider, 200, 'text/html', HTML_PAGE);
    expect(job.status).toBe('failed');
    expect(job.error).not.toContain(SECRET);
    expect(job.error.length).toBeLessThanOrEqual(450);
  });

  it("a CRM-shaped JSON error keeps the CRM's code and a bounded message: a secret past the bound never shows", async () => {
    const body = JSON.stringify({ status: 'error', category: 'VALIDATION_ERROR', message: `${'Property values were not valid. '.repeat(20)}${SECRET}` });
    const { id, job } = await attack('HUBSPOT', 400, 'application/json', body);
    expect(job.error).toMatch(/^VALIDATION: HubSpot list contacts: HTTP 400 VALIDATION_ERROR Property values were not valid\./);
    expect(job.error).not.toContain(SECRET);
    expect(job.error.length).toBeLessThanOrEqual(450);

    // A push through the same integration: the sync history and the outbox row alike.
    await stack.db.prisma.integration.update({ where: { id }, data: { autoSync: true } });
    await stack.engine.createLead(stack.orgId, { email: 'reflect@example.com' });
    const item = await eventually(
      async () => (await stack.db.prisma.outboxItem.findFirst({ where: { integrationId: id, status: 'failed' } })) ?? undefined,
      30_000,
      'the push to fail',
    );
    expect(item.errorCode).toBe('VALIDATION');
    expect(item.lastError).not.toContain(SECRET);
    const events = await stack.gqlOk(
      `query($id: ID!) { syncEvents(filter: { integrationId: $id, status: FAILED }) { edges { node { errorCode error } } } }`,
      { id },
    );
    const nodes = (events.syncEvents.edges as { node: { errorCode: string; error: string } }[]).map((e) => e.node);
    expect(nodes.length).toBeGreaterThan(0);
    for (const n of nodes) {
      expect(n.errorCode).toBe('VALIDATION');
      expect(n.error).not.toContain(SECRET);
      expect(n.error.length).toBeLessThanOrEqual(450);
    }
  });
});

describe('base URLs a CRM names in a token refresh go through the same guard', () => {
  let stack: Stack;
  beforeAll(async () => {
    // The import is polled over GraphQL many times a second: no per-key rate limit here.
    stack = await startStack({ RETRY_BASE_MS: '10', API_RATE_LIMIT_PER_MINUTE: '0' });
  });
  afterAll(() => stack.stop());

  async function apiBaseUrlOf(id: string): Promise<string> {
    const { integrations } = await stack.gqlOk(`{ integrations { id apiBaseUrl } }`);
    return (integrations as { id: string; apiBaseUrl: string }[]).find((i) => i.id === id)!.apiBaseUrl;
  }

  it('Zoho: an api_domain that is not a Zoho API host (a metadata address) is neither used nor stored', async () => {
    // Zoho's token answer carries api_domain, "the domain to use for API calls"; here it is hostile.
    const zs = await startZohoFor(stack, { apiDomain: 'http://169.254.169.254' });
    try {
      const { integrationId } = await connectZoho(stack, zs);
      zs.controls.expireAccessTokens();
      await stack.engine.createLead(stack.orgId, { email: 'zoho.refresh@example.com', lastName: 'Refresh' });
      await settle(stack, zohoMoves(zs));
      expect(zs.controls.tokenCalls).toBeGreaterThan(0);
      // The lead still went to the sandbox: the refresh's api_domain was ignored.
      expect(zs.controls.listLeads().some((l) => l.Email === 'zoho.refresh@example.com')).toBe(true);
      expect(await apiBaseUrlOf(integrationId)).toBe(zs.url);
      const row = await stack.db.prisma.integration.findUniqueOrThrow({ where: { id: integrationId } });
      // Nowhere in what is stored: the refresh's tokens are kept, with the host in use.
      expect(JSON.stringify(stack.keyringCredentials(row))).not.toContain('169.254.169.254');
      expect([undefined, zs.url]).toContain(stack.keyringCredentials(row).apiDomain);
    } finally {
      await zs.close();
    }
  });

  it('Salesforce: an instance_url that is not a Salesforce host is neither used nor stored', async () => {
    const sf = await startSalesforceFor(stack, { tokenInstanceUrl: 'https://10.0.0.1' });
    try {
      const { integrationId } = await connectSalesforce(stack, sf);
      sf.controls.expireAccessTokens();
      await stack.engine.createLead(stack.orgId, { email: 'sf.refresh@example.com', lastName: 'Refresh', company: 'Acme' });
      await settle(stack, salesforceMoves(sf));
      expect(sf.controls.tokenRefreshes()).toBeGreaterThan(0);
      expect(sf.controls.listLeads().some((l) => l.values.Email === 'sf.refresh@example.com')).toBe(true);
      expect(await apiBaseUrlOf(integrationId)).toBe(sf.url);
      const row = await stack.db.prisma.integration.findUniqueOrThrow({ where: { id: integrationId } });
      expect(JSON.stringify(stack.keyringCredentials(row))).not.toContain('10.0.0.1');
      expect([undefined, sf.url]).toContain(stack.keyringCredentials(row).instanceUrl);
    } finally {
      await sf.close();
    }
  });
});
