// One organization connected to HubSpot, Salesforce and Zoho at once: a change made in
// one CRM reaches the others through the platform, once, and a field one CRM cannot
// hold (a Salesforce status with no HubSpot lifecycle stage) never flip-flops.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HubSpotSandbox } from '../../sandboxes/hubspot/server.ts';
import type { SalesforceSandbox } from '../../sandboxes/salesforce/index.ts';
import type { ZohoSandbox } from '../../sandboxes/zoho/server.ts';
import {
  connectHubSpot,
  connectSalesforce,
  connectZoho,
  startHubSpotFor,
  startSalesforceFor,
  startStack,
  startZohoFor,
  hubspotMoves,
  salesforceMoves,
  settle as settleAll,
  zohoMoves,
  type Stack,
} from '../helpers/stack.ts';

describe('three CRMs at once', () => {
  let stack: Stack;
  let hs: HubSpotSandbox;
  let sf: SalesforceSandbox;
  let zoho: ZohoSandbox;

  const sfLead = () => sf.controls.listLeads().find((l) => !l.deleted && String(l.values.Email).toLowerCase() === 'tri@example.com')!;

  const settle = () => settleAll(stack, hubspotMoves(hs), salesforceMoves(sf), zohoMoves(zoho));


  beforeAll(async () => {
    stack = await startStack();
    hs = await startHubSpotFor(stack);
    sf = await startSalesforceFor(stack);
    zoho = await startZohoFor(stack);
    await connectHubSpot(stack, hs);
    await connectSalesforce(stack, sf);
    await connectZoho(stack, zoho);
  });
  afterAll(async () => {
    await Promise.all([hs?.close(), sf?.close(), zoho?.close()]);
    await stack?.stop();
  });

  it('puts a platform lead in all three CRMs with our tag, and takes none of them back as new', async () => {
    await stack.engine.createLead(stack.orgId, { email: 'tri@example.com', firstName: 'Tri', lastName: 'Crm', company: 'Three' });
    await settle();
    expect(hs.listContacts().filter((c) => c.properties.email === 'tri@example.com').map((c) => c.properties.lead_source_system)).toEqual(['jazzaam']);
    expect(sfLead().values.Lead_Source_System__c).toBe('jazzaam');
    expect(sf.controls.listLeads().filter((l) => String(l.values.Email).toLowerCase() === 'tri@example.com')).toHaveLength(1);
    expect(zoho.controls.listLeads().filter((l) => l.Email === 'tri@example.com')).toHaveLength(1);
    const lead = await stack.db.prisma.lead.findFirstOrThrow({ where: { email: 'tri@example.com' }, include: { links: true } });
    expect(lead.links).toHaveLength(3);
    expect(await stack.db.prisma.lead.count({ where: { organizationId: stack.orgId } })).toBe(1);
  });

  it('carries a Salesforce edit to HubSpot and Zoho once, and a status HubSpot cannot hold does not flip-flop', async () => {
    const sfId = sfLead().values.Id as string;
    sf.controls.updateLeadAsUser(sfId, { Phone: '+1 555 0300', Status: 'Working - Contacted' });
    const rounds = await settle();
    expect(rounds).toBeLessThan(30);

    const lead = await stack.db.prisma.lead.findFirstOrThrow({ where: { email: 'tri@example.com' } });
    expect(lead.phone).toBe('+1 555 0300');
    expect(lead.status).toBe('Working - Contacted');
    const contact = hs.listContacts().find((c) => c.properties.email === 'tri@example.com')!;
    expect(contact.properties.phone).toBe('+1 555 0300');
    expect(contact.properties.lifecyclestage ?? null).toBeNull(); // no such stage in HubSpot: left alone
    const zl = zoho.controls.listLeads().find((l) => l.Email === 'tri@example.com')!;
    expect(zl.Phone).toBe('+1 555 0300');
    expect(zl.Lead_Status).toBe('Working - Contacted');

    // Quiet now: another full round moves nothing, and the lead keeps Salesforce's status.
    const version = lead.syncVersion;
    const calls = hs.controls.requests.length + sf.controls.requests.length + zoho.controls.requests.length;
    await settle();
    expect(hs.controls.requests.length + sf.controls.requests.length + zoho.controls.requests.length).toBe(calls);
    const after = await stack.db.prisma.lead.findFirstOrThrow({ where: { email: 'tri@example.com' } });
    expect(after.syncVersion).toBe(version);
    expect(after.status).toBe('Working - Contacted');
  });

  it('carries a HubSpot edit to Salesforce and Zoho', async () => {
    const contact = hs.listContacts().find((c) => c.properties.email === 'tri@example.com')!;
    hs.updateContactAsUser(contact.id, { company: 'Three Inc' });
    await settle();
    expect(sfLead().values.Company).toBe('Three Inc');
    expect(zoho.controls.listLeads().find((l) => l.Email === 'tri@example.com')!.Company).toBe('Three Inc');
    // HubSpot's own lifecycle stage was never set, so Salesforce keeps its status.
    expect(sfLead().values.Status).toBe('Working - Contacted');
  });
});
