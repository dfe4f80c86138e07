// Echo suppression must never absorb a person's edit. What a CRM holds after our write
// (CrmLink.remoteFields) comes from what we wrote, empty fields included; a person who
// edits the record between our write and our reading it back has made a change, and it
// reaches the platform.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/net.ts';
import type { HubSpotSandbox } from '../../sandboxes/hubspot/server.ts';
import type { SalesforceSandbox } from '../../sandboxes/salesforce/index.ts';
import type { ZohoSandbox } from '../../sandboxes/zoho/index.ts';
import { exactPath, pathContaining } from '../../sandboxes/kit/match.ts';
import {
  connectHubSpot,
  connectSalesforce,
  connectZoho,
  hubspotMoves,
  salesforceMoves,
  settle as settleAll,
  startHubSpotFor,
  startSalesforceFor,
  startStack,
  startZohoFor,
  zohoMoves,
  type Stack,
} from '../helpers/stack.ts';

const settle = (stack: Stack, hs: HubSpotSandbox) => settleAll(stack, hubspotMoves(hs));

const contactWithEmail = (hs: HubSpotSandbox, email: string) =>
  hs.listContacts().find((c) => (c.properties.email ?? '').toLowerCase() === email);

async function leadRow(stack: Stack, email: string) {
  return stack.db.prisma.lead.findFirstOrThrow({ where: { organizationId: stack.orgId, email } });
}

describe('HubSpot: a person edits a contact right after our write', () => {
  let stack: Stack;
  let hs: HubSpotSandbox;

  beforeAll(async () => {
    stack = await startStack();
    hs = await startHubSpotFor(stack);
    await connectHubSpot(stack, hs);
  });
  afterAll(async () => {
    await hs?.close();
    await stack?.stop();
  });

  // HubSpot's contacts API: "Update ... properties ... an empty string clears a value" and a
  // created contact holds only the properties it was created with; webhooks carry ids only,
  // so the service reads the contact back after our write (by then a person may have edited it).
  it('applies the company a sales rep fills in between our create and our read-back, and keeps it on the next poll', async () => {
    hs.controls.afterRequest({ method: 'POST', path: '/crm/v3/objects/contacts/batch/create' }, () => {
      const c = contactWithEmail(hs, 'rep-race@example.com');
      if (c) hs.updateContactAsUser(c.id, { company: 'Filled By Rep' });
    });
    await stack.gqlOk(`mutation { createLead(input: { email: "rep-race@example.com", firstName: "Rae", lastName: "Race" }) { id } }`);
    await settle(stack, hs);
    const contact = contactWithEmail(hs, 'rep-race@example.com')!;
    expect(contact.properties.company).toBe('Filled By Rep');
    expect((await leadRow(stack, 'rep-race@example.com')).company).toBe('Filled By Rep');

    await stack.engine.pollNow();
    await settle(stack, hs);
    expect((await leadRow(stack, 'rep-race@example.com')).company).toBe('Filled By Rep');
    expect(contactWithEmail(hs, 'rep-race@example.com')!.properties.company).toBe('Filled By Rep');
  });

  it('keeps a rep edit whose webhook is applied before our write is recorded, and applies it on the next poll', async () => {
    hs.controls.afterRequest({ method: 'POST', path: '/crm/v3/objects/contacts/batch/create' }, async () => {
      const c = contactWithEmail(hs, 'early-hook@example.com')!;
      hs.updateContactAsUser(c.id, { company: 'Rep Before Link' });
      // The webhooks of the create and of the edit are delivered and applied while our
      // push is still waiting for HubSpot's answer.
      await hs.flushWebhooks();
      await eventually(async () => {
        const open = await stack.db.prisma.inboxEvent.count({ where: { externalId: c.id, status: { not: 'done' } } });
        const all = await stack.db.prisma.inboxEvent.count({ where: { externalId: c.id } });
        return all > 0 && open === 0;
      }, 30_000, 'webhooks of the new contact applied');
    });
    await stack.gqlOk(`mutation { createLead(input: { email: "early-hook@example.com", firstName: "Early" }) { id } }`);
    await settle(stack, hs);
    await stack.engine.pollNow();
    await settle(stack, hs);
    expect((await leadRow(stack, 'early-hook@example.com')).company).toBe('Rep Before Link');
    expect(contactWithEmail(hs, 'early-hook@example.com')!.properties.company).toBe('Rep Before Link');
  });

  it('applies a rep edit made right after we linked an existing contact by email', async () => {
    // A contact the service never heard of (made while no webhook reached it), without a company.
    hs.setWebhookTarget(null);
    const id = hs.createContactAsUser({ email: 'linked-race@example.com', firstname: 'Lindsey' });
    hs.setWebhookTarget(`${stack.config.PUBLIC_BASE_URL}/api/v1/webhooks/hubspot`);
    hs.controls.afterRequest({ method: 'POST', path: '/crm/v3/objects/contacts/batch/update' }, () => {
      hs.updateContactAsUser(id, { company: 'New Co' });
    });
    await stack.gqlOk(`mutation { createLead(input: { email: "linked-race@example.com", firstName: "Lin" }) { id } }`);
    await settle(stack, hs);
    expect(hs.getContact(id)!.properties.firstname).toBe('Lin');
    expect(hs.getContact(id)!.properties.lead_source_system ?? null).toBeNull();
    expect((await leadRow(stack, 'linked-race@example.com')).company).toBe('New Co');
  });
});

describe('Salesforce: a person edits a Lead right after we linked it by email', () => {
  let stack: Stack;
  let sf: SalesforceSandbox;

  beforeAll(async () => {
    stack = await startStack({ RETRY_BASE_MS: '50' });
    sf = await startSalesforceFor(stack);
    await connectSalesforce(stack, sf);
  });
  afterAll(async () => {
    await sf?.close();
    await stack?.stop();
  });

  // Salesforce Lead: Company and LastName are required, so an update never sends our empty
  // company (it would fail or wipe the rep's); what the Lead held is what we read just before.
  it('applies the Company a rep changes between our link write and the outbound message', async () => {
    const target = sf.controls.outbound.config.targetUrl;
    sf.controls.outbound.configure({ targetUrl: null });
    const id = sf.controls.createLeadAsUser({ Email: 'sf-race@example.com', LastName: 'Orig', Company: 'Orig Co' });
    sf.controls.outbound.configure({ targetUrl: target });
    sf.controls.afterRequest({ method: 'PATCH', path: pathContaining('/composite/sobjects') }, () => {
      sf.controls.updateLeadAsUser(id, { Company: 'Rep Co' });
    });
    await stack.gqlOk(`mutation { createLead(input: { email: "sf-race@example.com", firstName: "Sal" }) { id } }`);
    await settleAll(stack, salesforceMoves(sf));
    expect(sf.controls.getLead(id)!.values).toMatchObject({ FirstName: 'Sal', Company: 'Rep Co' });
    expect((await leadRow(stack, 'sf-race@example.com')).company).toBe('Rep Co');
  });
});

describe('Zoho: a person edits a record right after we linked it by email', () => {
  let stack: Stack;
  let zs: ZohoSandbox;

  beforeAll(async () => {
    stack = await startStack({ RETRY_BASE_MS: '50' });
    zs = await startZohoFor(stack);
    // A record made before the integration existed: the service never heard of it.
    zs.controls.createLeadAsUser({ Email: 'zoho-race@example.com', Last_Name: 'Orig' });
    await connectZoho(stack, zs);
  });
  afterAll(async () => {
    await zs?.close();
    await stack?.stop();
  });

  // Zoho Leads: Last_Name is mandatory, so an update without our last name leaves it alone;
  // what the record held is what our look-up by email read just before the write.
  it('applies the Last_Name a rep changes between our link write and the notification', async () => {
    const id = String(zs.controls.listLeads().find((l) => l.Email === 'zoho-race@example.com')!.id);
    zs.controls.afterRequest({ method: 'PUT', path: exactPath('/crm/v7/Leads') }, () => {
      zs.controls.updateLeadAsUser(id, { Last_Name: 'Rep' });
    });
    await stack.gqlOk(`mutation { createLead(input: { email: "zoho-race@example.com", firstName: "Zed" }) { id } }`);
    await settleAll(stack, zohoMoves(zs));
    expect(zs.controls.getLead(id)).toMatchObject({ First_Name: 'Zed', Last_Name: 'Rep' });
    expect((await leadRow(stack, 'zoho-race@example.com')).lastName).toBe('Rep');
  });
});
