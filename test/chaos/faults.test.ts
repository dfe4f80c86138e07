// The chaos fault vocabulary as each sandbox speaks it: a plan with rate 1 makes every API
// call fail the planned way, in that CRM's own wire format (HubSpot: 429 with Retry-After;
// Salesforce: 403 REQUEST_LIMIT_EXCEEDED, its documented API-limit error; Zoho: 429
// TOO_MANY_REQUESTS), and a lost answer still applies the write.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHubSpotSandbox, type HubSpotSandbox } from '../../sandboxes/hubspot/server.ts';
import { startSalesforceSandbox, type SalesforceSandbox } from '../../sandboxes/salesforce/index.ts';
import { startZohoSandbox, type ZohoSandbox } from '../../sandboxes/zoho/index.ts';
import type { ChaosFaultKind, FaultPlan } from '../../sandboxes/kit/faults.ts';

const plan = (kind: ChaosFaultKind): FaultPlan => ({ rate: 1, kinds: [kind], hangMs: 300, retryAfterSeconds: 2, random: Math.random });

describe('chaos faults in each sandbox', () => {
  let hs: HubSpotSandbox;
  let sf: SalesforceSandbox;
  let zs: ZohoSandbox;
  let sfToken: string;
  let zohoToken: string;

  beforeAll(async () => {
    hs = await startHubSpotSandbox({ rateLimit: null });
    sf = await startSalesforceSandbox();
    zs = await startZohoSandbox();
    sfToken = sf.controls.credentials().accessToken;
    zohoToken = zs.controls.issueAccessToken().accessToken;
  });
  afterAll(async () => {
    await hs?.close();
    await sf?.close();
    await zs?.close();
  });

  const createIn = {
    hubspot: (email: string) =>
      fetch(`${hs.url}/crm/v3/objects/contacts`, {
        method: 'POST',
        headers: { authorization: `Bearer ${hs.accessToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ properties: { email } }),
      }),
    salesforce: (email: string) =>
      fetch(`${sf.url}/services/data/v62.0/sobjects/Lead`, {
        method: 'POST',
        headers: { authorization: `Bearer ${sfToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ LastName: 'Fault', Company: 'Chaos', Email: email }),
      }),
    zoho: (email: string) =>
      fetch(`${zs.url}/crm/v7/Leads`, {
        method: 'POST',
        headers: { authorization: `Zoho-oauthtoken ${zohoToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ data: [{ Last_Name: 'Fault', Email: email }] }),
      }),
  };
  const setPlan = (p: FaultPlan | null) => {
    for (const controls of [hs.controls, sf.controls, zs.controls]) controls.setFaultPlan(p);
  };
  const emails = {
    hubspot: () => hs.listContacts().map((c) => c.properties.email),
    salesforce: () => sf.controls.listLeads().map((l) => l.values.Email),
    zoho: () => zs.controls.listLeads().map((l) => l.Email),
  };

  it('rate_limit: each CRM refuses the call its documented way, and nothing is written', async () => {
    setPlan(plan('rate_limit'));
    const [h, s, z] = await Promise.all([createIn.hubspot('rl@example.com'), createIn.salesforce('rl@example.com'), createIn.zoho('rl@example.com')]);
    setPlan(null);
    expect([h.status, h.headers.get('retry-after')]).toEqual([429, '2']);
    expect([s.status, ((await s.json()) as { errorCode: string }[])[0]!.errorCode]).toEqual([403, 'REQUEST_LIMIT_EXCEEDED']);
    expect([z.status, ((await z.json()) as { code: string }).code]).toEqual([429, 'TOO_MANY_REQUESTS']);
    expect([emails.hubspot(), emails.salesforce(), emails.zoho()].flat()).not.toContain('rl@example.com');
  });

  it('server_error: a 500, 502 or 503', async () => {
    setPlan(plan('server_error'));
    const statuses = await Promise.all([createIn.hubspot('se@example.com'), createIn.salesforce('se@example.com'), createIn.zoho('se@example.com')]);
    setPlan(null);
    for (const r of statuses) expect([500, 502, 503]).toContain(r.status);
  });

  it('lost_response: the connection drops without an answer, and the write is applied all the same', async () => {
    setPlan(plan('lost_response'));
    const outcomes = await Promise.allSettled([createIn.hubspot('lost@example.com'), createIn.salesforce('lost@example.com'), createIn.zoho('lost@example.com')]);
    setPlan(null);
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(emails.hubspot()).toContain('lost@example.com');
    expect(emails.salesforce()).toContain('lost@example.com');
    expect(emails.zoho()).toContain('lost@example.com');
  });

  it('latency: the answer comes only after the hold, past a client timeout shorter than it', async () => {
    setPlan(plan('latency'));
    const timedOut = await Promise.allSettled(
      [createIn.hubspot, createIn.salesforce, createIn.zoho].map((create) =>
        Promise.race([create('latency@example.com'), new Promise((_, reject) => setTimeout(() => reject(new Error('client timeout')), 100))]),
      ),
    );
    setPlan(null);
    expect(timedOut.map((o) => o.status)).toEqual(['rejected', 'rejected', 'rejected']);
  });
});
