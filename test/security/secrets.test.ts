// CRM credentials and API keys never leak: a full flow with HubSpot, Salesforce and Zoho
// sandboxes holding distinctive secrets — connect, leads both ways, OAuth refreshes, a
// failing push — then every log line, every GraphQL answer and the raw credentials
// column are searched for each secret.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCredentials } from '../../src/engine/connections.ts';
import { ENVELOPE_PREFIX, Keyring, parseKeyMaterial, rotateCredentials } from '../../src/secrets.ts';
import type { HubSpotSandbox } from '../../sandboxes/hubspot/server.ts';
import type { SalesforceSandbox } from '../../sandboxes/salesforce/index.ts';
import type { ZohoSandbox } from '../../sandboxes/zoho/index.ts';
import { memoryLogger } from '../helpers/engine.ts';
import {
  connectSalesforce,
  connectZoho,
  hubspotMoves,
  salesforceMoves,
  settle,
  startHubSpotFor,
  startSalesforceFor,
  startStack,
  startZohoFor,
  zohoMoves,
  type Stack,
} from '../helpers/stack.ts';

const mark = (what: string) => `${what}-SECRET-${randomBytes(12).toString('hex')}`;
const S = {
  hsAccess: mark('hs-access'),
  hsDeveloperKey: mark('hs-devkey'),
  hsClientSecret: mark('hs-clientsecret'),
  sfAccess: mark('sf-access'),
  sfRefresh: mark('sf-refresh'),
  sfClientSecret: mark('sf-clientsecret'),
  zohoRefresh: mark('zoho-refresh'),
  zohoClientSecret: mark('zoho-clientsecret'),
};

describe('secrets never leak', () => {
  let stack: Stack;
  let hs: HubSpotSandbox;
  let sf: SalesforceSandbox;
  let zs: ZohoSandbox;
  const mem = memoryLogger('trace');
  const responses: string[] = [];
  /** Secrets issued by the CRMs during the flow (access tokens, refreshed tokens). */
  const issued = new Set<string>();
  let apiKey: string;

  async function gqlLogged(query: string, variables?: Record<string, unknown>, key?: string) {
    const res = await fetch(`${stack.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key ?? stack.apiKey}` },
      body: JSON.stringify({ query, variables }),
    });
    const text = await res.text();
    responses.push(text);
    return JSON.parse(text) as { data?: any; errors?: any[] };
  }

  const moves = () => [hubspotMoves(hs), salesforceMoves(sf), zohoMoves(zs)];

  beforeAll(async () => {
    stack = await startStack({ LOG_LEVEL: 'trace' }, { logger: mem });
    hs = await startHubSpotFor(stack, { accessTokens: [S.hsAccess], developerApiKey: S.hsDeveloperKey, clientSecret: S.hsClientSecret });
    sf = await startSalesforceFor(stack, { accessToken: S.sfAccess, refreshToken: S.sfRefresh, clientSecret: S.sfClientSecret });
    zs = await startZohoFor(stack, { refreshToken: S.zohoRefresh, clientSecret: S.zohoClientSecret });

    // HubSpot: its own app secret and developer key, over GraphQL (answers recorded).
    const created = await gqlLogged('mutation ($i: CreateIntegrationInput!) { createIntegration(input: $i) { id name } }', {
      i: {
        provider: 'HUBSPOT',
        name: 'HubSpot',
        accountId: String(hs.portalId),
        apiBaseUrl: hs.url,
        accessToken: S.hsAccess,
        clientSecret: S.hsClientSecret,
        appId: String(hs.appId),
        developerApiKey: S.hsDeveloperKey,
      },
    });
    expect(created.errors).toBeUndefined();
    const enabled = await gqlLogged('mutation ($id: ID!) { enableWebhooks(integrationId: $id) { webhookUrl status { enabled } } }', { id: created.data.createIntegration.id });
    expect(enabled.errors).toBeUndefined();
    await connectSalesforce(stack, sf);
    const z = await connectZoho(stack, zs);
    const zohoCreds = stack.keyringCredentials(await stack.db.prisma.integration.findUniqueOrThrow({ where: { id: z.integrationId } }));
    issued.add(zohoCreds.accessToken);

    // An API key made over GraphQL: shown once, then a secret like the others.
    const k = await gqlLogged('mutation { createApiKey(input: { name: "flow", scopes: [LEADS_READ, LEADS_WRITE, INTEGRATIONS_ADMIN] }) { key apiKey { id prefix } } }');
    apiKey = k.data.createApiKey.key;
    responses.pop(); // the one answer that must hold it

    // Leads both ways.
    await gqlLogged('mutation { createLead(input: { email: "out@example.com", firstName: "Out", lastName: "Bound", company: "Acme" }) { id } }', undefined, apiKey);
    hs.createContactAsUser({ email: 'from-hubspot@example.com', firstname: 'Hub' });
    sf.controls.createLeadAsUser({ Email: 'from-salesforce@example.com', LastName: 'Force', Company: 'SF' });
    zs.controls.createLeadAsUser({ Email: 'from-zoho@example.com', Last_Name: 'Zoho' });
    await settle(stack, ...moves());

    // OAuth refreshes: expired access tokens on Salesforce and Zoho, then a push.
    sf.controls.expireAccessTokens();
    zs.controls.expireAccessTokens();
    await gqlLogged('mutation { createLead(input: { email: "after-refresh@example.com", lastName: "Fresh" }) { id } }', undefined, apiKey);
    await settle(stack, ...moves());
    issued.add(sf.controls.credentials().accessToken);
    for (const row of await stack.db.prisma.integration.findMany()) {
      const c = stack.keyringCredentials(row);
      for (const name of ['accessToken', 'refreshToken', 'clientSecret', 'developerApiKey']) if (c[name]) issued.add(c[name]);
    }

    // An error: Salesforce refuses every token from now on; the push fails and is logged.
    sf.controls.expireAccessTokens();
    sf.controls.revokeRefreshToken();
    await gqlLogged('mutation { createLead(input: { email: "doomed@example.com", lastName: "Doomed" }) { id } }', undefined, apiKey);
    await stack.engine.drain();
    // And a refused GraphQL input carrying a token.
    await gqlLogged('mutation ($i: CreateIntegrationInput!) { createIntegration(input: $i) { id } }', {
      i: { provider: 'ZOHO', name: 'bad', accountId: '1', accessToken: S.hsAccess, apiBaseUrl: 'not a url' },
    });
    await gqlLogged('{ integrations { id name accountId apiBaseUrl } leads(first: 100) { edges { node { email crmLinks { externalId } } } } apiKeys { id name prefix } }', undefined, stack.apiKey);
  }, 120_000);

  afterAll(async () => {
    await hs?.close();
    await sf?.close();
    await zs?.close();
    await stack?.stop();
  });

  const allSecrets = () => [...Object.values(S), ...issued, apiKey, stack.apiKey];

  it('ran the whole flow: leads both ways, refreshes and a failure', async () => {
    const emails = (await stack.db.prisma.lead.findMany()).map((l) => l.email).sort();
    expect(emails).toEqual(expect.arrayContaining(['from-hubspot@example.com', 'from-salesforce@example.com', 'from-zoho@example.com', 'out@example.com', 'after-refresh@example.com']));
    expect(sf.controls.tokenRefreshes()).toBeGreaterThanOrEqual(1);
    expect(issued.size).toBeGreaterThanOrEqual(2);
    const lines = mem.lines();
    expect(lines.some((l) => l.msg === 'crm credentials refreshed and stored')).toBe(true);
    expect(lines.some((l) => Number(l.level) >= 40 && l.provider === 'SALESFORCE')).toBe(true);
    expect(lines.length).toBeGreaterThan(100);
  });

  it('writes no secret to any log line', () => {
    const text = mem.lines().map((l) => JSON.stringify(l)).join('\n');
    for (const secret of allSecrets()) expect(text.includes(secret), `a log line holds ${secret.slice(0, 12)}…`).toBe(false);
  });

  it('answers no secret in any GraphQL response', () => {
    expect(responses.length).toBeGreaterThanOrEqual(7);
    const text = responses.join('\n');
    for (const secret of allSecrets()) expect(text.includes(secret), `a response holds ${secret.slice(0, 12)}…`).toBe(false);
  });

  it('stores credentials only as ciphertext, and rotation re-encrypts them under a new key', async () => {
    const rows = await stack.db.prisma.$queryRaw<{ id: string; credentials: string }[]>`SELECT id, credentials FROM "Integration"`;
    expect(rows.length).toBe(3);
    for (const row of rows) {
      expect(row.credentials.startsWith(ENVELOPE_PREFIX)).toBe(true);
      for (const secret of allSecrets()) expect(row.credentials.includes(secret)).toBe(false);
    }
    const before = rows.map((r) => readCredentials(r, stack.keyring));
    // Rotation: a new current key, the old one kept as previous.
    const next = new Keyring('k-next', randomBytes(32), [{ id: stack.keyring.currentKeyId, key: parseKeyMaterial(stack.config.ENCRYPTION_KEY!) }]);
    const result = await rotateCredentials(stack.db.prisma, next);
    expect(result).toMatchObject({ total: 3, rotated: 3, failed: 0 });
    const after = await stack.db.prisma.integration.findMany({ orderBy: { id: 'asc' } });
    for (const row of after) expect(row.credentials.startsWith(`${ENVELOPE_PREFIX}k-next:`)).toBe(true);
    const byId = new Map(rows.map((r, i) => [r.id, before[i]]));
    for (const row of after) expect(readCredentials(row, next)).toEqual(byId.get(row.id));
    // The old key alone can no longer read them.
    expect(() => readCredentials(after[0], stack.keyring)).toThrow();
    expect(await rotateCredentials(stack.db.prisma, next)).toMatchObject({ rotated: 0, unchanged: 3 });
  });
});

describe('the logger', () => {
  it('replaces secrets at any depth, inside errors and in messages', () => {
    const mem = memoryLogger('debug');
    const token = mark('deep-token');
    const err = Object.assign(new Error(`request failed: Authorization: Bearer ${token}`), {
      config: { headers: { Authorization: `Bearer ${token}` }, data: `refresh_token=${token}&grant_type=refresh_token` },
      response: { body: { error: 'invalid', access_token: token } },
    });
    mem.logger.error({ err, integration: { settings: { nested: { credentials: { accessToken: token } } } }, webhookToken: token }, `push failed for cs_${'a'.repeat(43)}: GET /webhooks?hapikey=${token} (Bearer ${token})`);
    mem.logger.child({ component: 'x' }).warn({ list: [{ refreshToken: token }, { developer_api_key: token }] }, 'access_token=%s', token);
    const text = JSON.stringify(mem.lines());
    expect(mem.lines()).toHaveLength(2);
    expect(text).toContain('[redacted]');
    expect(text).toContain('request failed');
    expect(mem.lines()[0].err).toMatchObject({ type: 'Error' });
    expect(text.includes(token)).toBe(false);
    expect(text.includes('a'.repeat(43))).toBe(false);
  });
});
