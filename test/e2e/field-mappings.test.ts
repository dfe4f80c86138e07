// Field mappings end to end: one organization on HubSpot and Salesforce sandboxes (their
// seeded custom fields: HubSpot `lead_grade` enumeration a/b/c, `industry_notes` text,
// `employee_count` number, `engagement_score` calculated; Salesforce `Lead_Grade__c`
// restricted picklist A/B/C, `Engagement_Score__c` formula), through the GraphQL API.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HubSpotSandbox } from '../../sandboxes/hubspot/server.ts';
import type { SalesforceSandbox } from '../../sandboxes/salesforce/index.ts';
import {
  connectHubSpot,
  connectSalesforce,
  hubspotMoves,
  salesforceMoves,
  settle as settleAll,
  startHubSpotFor,
  startSalesforceFor,
  startStack,
  type Stack,
} from '../helpers/stack.ts';

const SET = `mutation($id: ID!, $m: [FieldMappingInput!]!) {
  setFieldMappings(integrationId: $id, mappings: $m) {
    changed
    manualSteps
    integration { id fieldMappings { platform crm direction conflict valueMap { platform crm } crmType } }
  }
}`;

type Problem = { field: string; code: string; message: string };

describe('field mappings across HubSpot and Salesforce', () => {
  let stack: Stack;
  let hs: HubSpotSandbox;
  let sf: SalesforceSandbox;
  let hsId: string;
  let sfId: string;
  const settle = () => settleAll(stack, hubspotMoves(hs), salesforceMoves(sf));
  const contact = (email: string) => hs.listContacts().find((c) => c.properties.email === email)!;
  const sfLead = (email: string) => sf.controls.listLeads().find((l) => !l.deleted && String(l.values.Email).toLowerCase() === email)!;
  const lead = (email: string) => stack.db.prisma.lead.findFirstOrThrow({ where: { organizationId: stack.orgId, email } });
  const crmCalls = () => hs.controls.requests.length + sf.controls.requests.length;

  beforeAll(async () => {
    stack = await startStack();
    hs = await startHubSpotFor(stack);
    sf = await startSalesforceFor(stack);
    hsId = await connectHubSpot(stack, hs, { app: true });
    sfId = (await connectSalesforce(stack, sf)).integrationId;
  }, 60_000);
  afterAll(async () => {
    await Promise.all([hs?.close(), sf?.close()]);
    await stack?.stop();
  });

  it('starts with the default mappings: the synced fields to the fields each CRM always used, both ways, newest wins', async () => {
    const data = await stack.gqlOk<{ integrations: { id: string; fieldMappings: { platform: string; crm: string; direction: string; conflict: string }[] }[] }>(
      '{ integrations { id fieldMappings { platform crm direction conflict } } }',
    );
    const hsMappings = data.integrations.find((i) => i.id === hsId)!.fieldMappings;
    expect(hsMappings.map((m) => `${m.platform}->${m.crm}`)).toEqual(['firstName->firstname', 'lastName->lastname', 'phone->phone', 'company->company', 'status->lifecyclestage']);
    expect(new Set(hsMappings.map((m) => `${m.direction}/${m.conflict}`))).toEqual(new Set(['BOTH/NEWEST']));
  });

  it('refuses an invalid mapping with the reason per problem and changes nothing', async () => {
    const r = await stack.gql(SET, {
      id: hsId,
      m: [
        { platform: 'attributes.grade', crm: 'no_such_property' },
        { platform: 'attributes.score', crm: 'engagement_score' },
        { platform: 'company', crm: 'employee_count' },
        { platform: 'attributes.tier', crm: 'lead_grade', valueMap: [{ platform: 'Gold', crm: 'platinum' }] },
        { platform: 'attributes.notes', crm: 'industry_notes', valueMap: [{ platform: 'x', crm: 'y' }] },
        { platform: 'email', crm: 'email' },
      ],
    });
    expect(r.errors?.[0]?.extensions?.code).toBe('VALIDATION');
    const problems = (r.errors![0].extensions!.fields as Problem[]).map((p) => `${p.field} ${p.code}`);
    expect(problems).toEqual([
      'mappings.0.crm MAPPING_UNKNOWN_CRM_FIELD',
      'mappings.1.crm MAPPING_READ_ONLY_TARGET',
      'mappings.2.crm MAPPING_TYPE_MISMATCH',
      'mappings.3.valueMap.0.crm MAPPING_VALUE_MAP_UNKNOWN_OPTION',
      'mappings.4.valueMap MAPPING_VALUE_MAP_NOT_PICKLIST',
      'mappings.5.platform MAPPING_PLATFORM_FIELD_INVALID',
      'mappings.5.crm MAPPING_RESERVED_CRM_FIELD',
    ]);
    const row = await stack.db.prisma.integration.findUniqueOrThrow({ where: { id: hsId } });
    expect(row.fieldMappings).toBeNull();
    // A read-only CRM field may still be read from the CRM.
    const ok = await stack.gql(SET, { id: sfId, m: [{ platform: 'attributes.score', crm: 'Engagement_Score__c', direction: 'FROM_CRM' }, { platform: 'attributes.tier', crm: 'Lead_Grade__c', valueMap: [{ platform: 'Gold', crm: 'Z' }] }] });
    expect((ok.errors?.[0]?.extensions?.fields as Problem[]).map((p) => p.code)).toEqual(['MAPPING_VALUE_MAP_UNKNOWN_OPTION']);
  });

  it('syncs a custom picklist both ways through value maps, and a status vocabulary across two CRMs that never flip-flops', async () => {
    const grade = (crm: string, up: boolean) => ({
      platform: 'attributes.grade',
      crm,
      valueMap: ['A', 'B', 'C'].map((v) => ({ platform: v, crm: up ? v : v.toLowerCase() })),
    });
    const base = (names: Record<string, string>) => ['firstName', 'lastName', 'phone', 'company'].map((k) => ({ platform: k, crm: names[k] }));
    const set1 = await stack.gqlOk(SET, {
      id: hsId,
      m: [
        ...base({ firstName: 'firstname', lastName: 'lastname', phone: 'phone', company: 'company' }),
        grade('lead_grade', false),
        // Two platform statuses share HubSpot's "lead": reading "lead" back gives the first.
        { platform: 'status', crm: 'lifecyclestage', valueMap: [{ platform: 'New', crm: 'lead' }, { platform: 'Working', crm: 'lead' }, { platform: 'Qualified', crm: 'salesqualifiedlead' }] },
      ],
    });
    expect(set1.setFieldMappings.changed).toEqual(['attributes.grade', 'status']);
    // HubSpot notifies property changes per subscribed property: with the app's developer key
    // the service subscribes the mapped ones itself.
    expect(set1.setFieldMappings.manualSteps).toEqual([]);
    expect(hs.subscriptions().some((s) => s.propertyName === 'lead_grade' && s.active)).toBe(true);
    await stack.gqlOk(SET, {
      id: sfId,
      m: [
        ...base({ firstName: 'FirstName', lastName: 'LastName', phone: 'Phone', company: 'Company' }),
        grade('Lead_Grade__c', true),
        { platform: 'status', crm: 'Status', valueMap: [{ platform: 'New', crm: 'Open - Not Contacted' }, { platform: 'Working', crm: 'Working - Contacted' }, { platform: 'Qualified', crm: 'Closed - Converted' }] },
      ],
    });

    await stack.engine.createLead(stack.orgId, { email: 'map@example.com', firstName: 'Map', lastName: 'Ping', company: 'Maps', status: 'Working', attributes: { grade: 'A' } });
    await settle();
    expect(contact('map@example.com').properties).toMatchObject({ lead_grade: 'a', lifecyclestage: 'lead', lead_source_system: 'jazzaam' });
    expect(sfLead('map@example.com').values).toMatchObject({ Lead_Grade__c: 'A', Status: 'Working - Contacted' });
    // HubSpot's "lead" is also New's value: not a change of the platform's "Working".
    expect((await lead('map@example.com')).status).toBe('Working');

    // A person in HubSpot changes the grade: the platform takes it, Salesforce follows.
    hs.updateContactAsUser(contact('map@example.com').id, { lead_grade: 'b' });
    await settle();
    expect((await lead('map@example.com')).attributes).toEqual({ grade: 'B' });
    expect(sfLead('map@example.com').values.Lead_Grade__c).toBe('B');

    // A person in Salesforce qualifies the lead: HubSpot gets its stage, and nothing bounces.
    sf.controls.updateLeadAsUser(sfLead('map@example.com').values.Id as string, { Status: 'Closed - Converted' });
    const rounds = await settle();
    expect(rounds).toBeLessThan(30);
    expect((await lead('map@example.com')).status).toBe('Qualified');
    expect(contact('map@example.com').properties.lifecyclestage).toBe('salesqualifiedlead');

    // Quiet: another round moves nothing and the lead's version stays.
    const version = (await lead('map@example.com')).syncVersion;
    const calls = crmCalls();
    await settle();
    expect(crmCalls()).toBe(calls);
    expect((await lead('map@example.com')).syncVersion).toBe(version);
  });

  it('records a value a mapping cannot carry as a warning in the sync history, and writes the rest', async () => {
    await stack.engine.createLead(stack.orgId, { email: 'warn@example.com', firstName: 'Warn', status: 'Lost', attributes: { grade: 'Z' } });
    await settle();
    const events = await stack.db.prisma.syncEvent.findMany({ where: { organizationId: stack.orgId, status: 'warning', integrationId: hsId } });
    expect(events.map((e) => e.error)).toEqual(
      expect.arrayContaining([expect.stringContaining('"Z"'), expect.stringContaining('"Lost"')]),
    );
    expect(events.every((e) => e.errorCode === 'VALUE_NOT_MAPPED' && e.direction === 'outbound')).toBe(true);
    expect(contact('warn@example.com').properties.firstname).toBe('Warn');
    expect(contact('warn@example.com').properties.lead_grade ?? null).toBeNull();
  });
});
