// An integration's request budget: the CRM's default until an administrator names the
// account's own (setRequestBudget), checked against what the CRM documents, and spent by
// the client from its next call on.
//
// HubSpot's API usage guidelines: per 10 seconds, 100 requests per app on Free and Starter
// accounts, 190 on Professional and Enterprise, 250 with the API Limit Increase; a call over
// the limit is answered 429 (policyName TEN_SECONDLY_ROLLING).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HubSpotSandbox } from '../../sandboxes/hubspot/server.ts';
import type { SalesforceSandbox } from '../../sandboxes/salesforce/server.ts';
import { eventually } from '../helpers/net.ts';
import { connectHubSpot, connectSalesforce, startHubSpotFor, startSalesforceFor, startStack, type Stack } from '../helpers/stack.ts';

const BUDGET = 'query($id: ID!) { integration(id: $id) { requestBudget { requests perSeconds isDefault highest { requests perSeconds } documented } } }';
const SET = 'mutation($id: ID!, $b: RequestBudgetInput) { setRequestBudget(integrationId: $id, budget: $b) { requestBudget { requests perSeconds isDefault } } }';

describe('request budget', () => {
  let stack: Stack;
  let hs: HubSpotSandbox;
  let sf: SalesforceSandbox;
  let hubspotId: string;
  let salesforceId: string;

  beforeAll(async () => {
    stack = await startStack({ RETRY_BASE_MS: '50' });
    hs = await startHubSpotFor(stack);
    sf = await startSalesforceFor(stack);
    hubspotId = await connectHubSpot(stack, hs, { autoSync: false });
    salesforceId = (await connectSalesforce(stack, sf, { autoSync: false })).integrationId;
  }, 60_000);
  afterAll(async () => {
    await hs?.close();
    await sf?.close();
    await stack?.stop();
  });

  const settings = async (id: string) => (await stack.db.prisma.integration.findUniqueOrThrow({ where: { id } })).settings as Record<string, unknown>;

  it("shows HubSpot's default (100 per 10 s, every account's) and the documented plans; Salesforce has none to set", async () => {
    const hub = await stack.gqlOk<{ integration: { requestBudget: Record<string, unknown> } }>(BUDGET, { id: hubspotId });
    expect(hub.integration.requestBudget).toMatchObject({ requests: 100, perSeconds: 10, isDefault: true, highest: { requests: 250, perSeconds: 10 } });
    expect(hub.integration.requestBudget.documented).toMatch(/190/);
    const sfb = await stack.gqlOk<{ integration: { requestBudget: unknown } }>(BUDGET, { id: salesforceId });
    expect(sfb.integration.requestBudget).toBeNull();
  });

  it("sets a Professional account's 190 per 10 s, keeps the integration's other settings, and goes back to the default with null", async () => {
    const before = await settings(hubspotId);
    const set = await stack.gqlOk<{ setRequestBudget: { requestBudget: unknown } }>(SET, { id: hubspotId, b: { requests: 190, perSeconds: 10 } });
    expect(set.setRequestBudget.requestBudget).toEqual({ requests: 190, perSeconds: 10, isDefault: false });
    const after = await settings(hubspotId);
    expect(after).toEqual({ ...before, rateLimit: { requests: 190, perMs: 10_000 } });

    const reset = await stack.gqlOk<{ setRequestBudget: { requestBudget: unknown } }>(SET, { id: hubspotId, b: null });
    expect(reset.setRequestBudget.requestBudget).toEqual({ requests: 100, perSeconds: 10, isDefault: true });
    expect(await settings(hubspotId)).toEqual(before);
  });

  it('refuses a budget above what HubSpot documents for any plan (also one allowing a burst over it in a shorter window), a malformed one, and a CRM without one; nothing changes', async () => {
    const before = await settings(hubspotId);
    const refusal = async (id: string, b: Record<string, number>) => {
      const r = await stack.gql(SET, { id, b });
      expect(r.errors?.[0]?.extensions?.code).toBe('VALIDATION');
      return (r.errors![0].extensions!.fields as { code: string }[]).map((f) => f.code);
    };
    expect(await refusal(hubspotId, { requests: 300, perSeconds: 10 })).toEqual(['BUDGET_ABOVE_DOCUMENTED']);
    // 30 per second is 300 in one of HubSpot's 10-s windows.
    expect(await refusal(hubspotId, { requests: 30, perSeconds: 1 })).toEqual(['BUDGET_ABOVE_DOCUMENTED']);
    expect(await refusal(hubspotId, { requests: 0, perSeconds: 0 })).toEqual(['BUDGET_INVALID', 'BUDGET_INVALID']);
    expect(await refusal(salesforceId, { requests: 100, perSeconds: 10 })).toEqual(['BUDGET_NOT_ADJUSTABLE']);
    expect(await settings(hubspotId)).toEqual(before);
  });

  it("a small account's budget, once set, is what the client spends from its next call: an import never makes the CRM answer 429", async () => {
    // An account allowing 2 calls per 3 s (a stand-in for a tight limit, scaled down): an
    // import reads pages and their contacts' history back to back, far faster than that.
    // The client exists already (built with the default budget): setting one rebuilds it.
    await stack.gqlOk('query($id: ID!) { crmFields(integrationId: $id, refresh: true) { name } }', { id: hubspotId });
    await stack.gqlOk(SET, { id: hubspotId, b: { requests: 2, perSeconds: 3 } });
    // The account's window forgets the calls made before (a rebuilt client does not know them).
    await new Promise((r) => setTimeout(r, 3_100));
    hs.setRateLimit({ requests: 2, perMs: 3_000 });
    const from = hs.controls.requests.length;
    // Their creation webhooks make the service read them too, on the same budget.
    for (let i = 0; i < 400; i++) hs.createContactAsUser({ email: `budget${i}@example.com`, firstname: 'Budget' });
    const started = await stack.gqlOk<{ importFromCrm: { id: string } }>('mutation($id: ID!) { importFromCrm(integrationId: $id) { id } }', { id: hubspotId });
    const job = await eventually(async () => {
      const r = await stack.gqlOk<{ importJob: { status: string; created: number } }>('query($id: ID!) { importJob(id: $id) { status created } }', { id: started.importFromCrm.id });
      return r.importJob.status === 'running' ? undefined : r.importJob;
    }, 80_000, 'the import');
    expect(job.status).toBe('completed');
    // Every contact is a lead (some came first through their creation webhooks).
    expect(await stack.db.prisma.lead.count({ where: { organizationId: stack.orgId, email: { startsWith: 'budget' } } })).toBe(400);
    const calls = hs.controls.requests.slice(from);
    // Four pages of 100 at least.
    expect(calls.length).toBeGreaterThanOrEqual(4);
    expect(calls.filter((r) => r.status === 429).map((r) => `${r.method} ${r.path}`)).toEqual([]);
    // Never more than 2 calls in any 3 s, as HubSpot counts them (by arrival).
    for (const c of calls) expect(calls.filter((o) => o.at >= c.at && o.at < c.at + 3_000).length).toBeLessThanOrEqual(2);
  }, 120_000);
});
