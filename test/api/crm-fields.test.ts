// crmFields over real HTTP: the real engine and adapters against the HubSpot, Salesforce
// and Zoho sandboxes, each seeded with custom fields (a picklist "lead grade" among them).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HubSpotSandbox } from '../../sandboxes/hubspot/server.ts';
import type { SalesforceSandbox } from '../../sandboxes/salesforce/index.ts';
import type { ZohoSandbox } from '../../sandboxes/zoho/index.ts';
import {
  connectHubSpot,
  connectSalesforce,
  connectZoho,
  startHubSpotFor,
  startSalesforceFor,
  startStack,
  startZohoFor,
  type Stack,
} from '../helpers/stack.ts';

const FIELDS = `query($id: ID!, $refresh: Boolean) {
  crmFields(integrationId: $id, refresh: $refresh) { name label type writable custom options { value label } synced }
}`;

interface Field {
  name: string;
  label: string;
  type: string;
  writable: boolean;
  custom: boolean;
  options: { value: string; label: string }[];
  synced: string | null;
}

let stack: Stack;
let hs: HubSpotSandbox;
let sf: SalesforceSandbox;
let zs: ZohoSandbox;
const ids: Record<'hubspot' | 'salesforce' | 'zoho', string> = { hubspot: '', salesforce: '', zoho: '' };

beforeAll(async () => {
  stack = await startStack();
  hs = await startHubSpotFor(stack);
  sf = await startSalesforceFor(stack);
  zs = await startZohoFor(stack);
  ids.hubspot = await connectHubSpot(stack, hs);
  ids.salesforce = (await connectSalesforce(stack, sf)).integrationId;
  ids.zoho = (await connectZoho(stack, zs)).integrationId;
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  await Promise.all([hs?.close(), sf?.close(), zs?.close()]);
});

async function fields(id: string, refresh?: boolean): Promise<Field[]> {
  return (await stack.gqlOk<{ crmFields: Field[] }>(FIELDS, { id, refresh })).crmFields;
}

// Each CRM's documented field-list call, counted in the sandbox's request log:
// - HubSpot properties API, GET /crm/v3/properties/{objectType}: "Read all existing properties
//   for the specified object type and HubSpot account" (enumeration options as {label, value});
// - Salesforce sObject Describe, GET /services/data/vXX.X/sobjects/Lead/describe: the field list
//   and object properties, picklist values included;
// - Zoho Fields Meta Data, GET /crm/v7/settings/fields?module=Leads: "the field metadata for the
//   specified module".
const cases = [
  {
    crm: 'hubspot' as const,
    requests: () => hs.controls.requests,
    listCall: (r: { method: string; path: string }) => r.method === 'GET' && r.path === '/crm/v3/properties/contacts',
    grade: { name: 'lead_grade', label: 'Lead grade', options: [{ value: 'a', label: 'A' }, { value: 'b', label: 'B' }, { value: 'c', label: 'C' }] },
    email: 'email',
  },
  {
    crm: 'salesforce' as const,
    requests: () => sf.controls.requests,
    listCall: (r: { method: string; path: string }) => r.method === 'GET' && /\/sobjects\/Lead\/describe$/.test(r.path),
    grade: { name: 'Lead_Grade__c', label: 'Lead Grade', options: [{ value: 'A', label: 'A' }, { value: 'B', label: 'B' }, { value: 'C', label: 'C' }] },
    email: 'Email',
  },
  {
    crm: 'zoho' as const,
    requests: () => zs.controls.requests,
    listCall: (r: { method: string; path: string }) => r.method === 'GET' && /\/settings\/fields$/.test(r.path),
    // Zoho picklists are offered by display_value (Zoho: "use the display_value in API requests
    // during create, update, and upsert operations"), not by the reference actual_value (Grade_A).
    grade: { name: 'Lead_Grade', label: 'Lead Grade', options: [{ value: 'A', label: 'A' }, { value: 'B', label: 'B' }, { value: 'C', label: 'C' }] },
    email: 'Email',
  },
];

describe.each(cases)('crmFields: $crm', (c) => {
  it('lists the seeded custom picklist with its type, options and writability, and the email field as synced', async () => {
    const list = await fields(ids[c.crm], true);
    const grade = list.find((f) => f.name === c.grade.name);
    expect(grade).toMatchObject({ label: c.grade.label, type: 'PICKLIST', writable: true, custom: true, synced: null });
    expect(grade!.options).toEqual(expect.arrayContaining(c.grade.options));
    expect(list.find((f) => f.name === c.email)).toMatchObject({ type: 'EMAIL', custom: false, synced: 'email' });
    const readOnly = list.find((f) => /engagement_score/i.test(f.name));
    expect(readOnly).toMatchObject({ writable: false, custom: true });
  });

  it('answers a second query from memory (one field-list call in the CRM log), and refresh: true reads the CRM again', async () => {
    await fields(ids[c.crm], true);
    const before = c.requests().filter(c.listCall).length;
    const first = await fields(ids[c.crm]);
    const second = await fields(ids[c.crm], false);
    expect(second).toEqual(first);
    expect(c.requests().filter(c.listCall).length).toBe(before);
    await fields(ids[c.crm], true);
    expect(c.requests().filter(c.listCall).length).toBe(before + 1);
  });
});

describe('crmFields: refusals', () => {
  it("another organization's integration answers NOT_FOUND, like an id that does not exist, and the CRM is not called", async () => {
    const other = await stack.newOrg('Other');
    const before = hs.controls.requests.length;
    const theirs = await stack.gql(FIELDS, { id: ids.hubspot, refresh: true }, other.apiKey);
    expect(theirs.data?.crmFields ?? null).toBeNull();
    expect(theirs.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const missing = await stack.gql(FIELDS, { id: '00000000-0000-0000-0000-000000000000' }, other.apiKey);
    expect(missing.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect(theirs.errors?.[0]?.message).toBe(missing.errors?.[0]?.message);
    expect(hs.controls.requests.length).toBe(before);
  });

  it('a CRM refusal (HubSpot 403 on the properties API) answers CRM_ERROR and nothing is cached', async () => {
    hs.controls.injectFault('forbidden', 1);
    const r = await stack.gql(FIELDS, { id: ids.hubspot, refresh: true });
    expect(r.errors?.[0]?.extensions?.code).toBe('CRM_ERROR');
    // The next query reads the CRM again (the refusal was not kept) and succeeds.
    const before = hs.controls.requests.filter(cases[0]!.listCall).length;
    expect((await fields(ids.hubspot, true)).some((f) => f.name === 'lead_grade')).toBe(true);
    expect(hs.controls.requests.filter(cases[0]!.listCall).length).toBe(before + 1);
  });

  it('an integration that needs reconnecting answers CONFLICT without calling the CRM', async () => {
    await stack.db.prisma.integration.update({ where: { id: ids.zoho }, data: { connectionState: 'needs_reconnect', connectionError: 'AUTH_REVOKED' } });
    try {
      const before = zs.controls.requests.length;
      const r = await stack.gql(FIELDS, { id: ids.zoho });
      expect(r.errors?.[0]?.extensions?.code).toBe('CONFLICT');
      expect(r.errors?.[0]?.message).toMatch(/connect the account again/);
      expect(zs.controls.requests.length).toBe(before);
    } finally {
      await stack.db.prisma.integration.update({ where: { id: ids.zoho }, data: { connectionState: 'connected', connectionError: null } });
    }
  });
});
