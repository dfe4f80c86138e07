// Echo suppression must never absorb a person's edit. What a CRM holds after our write
// (CrmLink.remoteFields) comes from what we wrote, empty fields included; a person who
// edits the record between our write and our reading it back has made a change, and it
// reaches the platform.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HubSpotSandbox } from '../sandboxes/hubspot/server.ts';
import { connectHubSpot, hubspotMoves, settle as settleAll, startHubSpotFor, startStack, type Stack } from '../helpers/stack.ts';

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
    hs.afterRequest({ method: 'POST', path: '/crm/v3/objects/contacts/batch/create' }, () => {
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

  it('applies a rep edit made right after we linked an existing contact by email', async () => {
    // A contact the service never heard of (made while no webhook reached it), without a company.
    hs.setWebhookTarget(null);
    const id = hs.createContactAsUser({ email: 'linked-race@example.com', firstname: 'Lindsey' });
    hs.setWebhookTarget(`${stack.config.PUBLIC_BASE_URL}/api/v1/webhooks/hubspot`);
    hs.afterRequest({ method: 'POST', path: '/crm/v3/objects/contacts/batch/update' }, () => {
      hs.updateContactAsUser(id, { company: 'New Co' });
    });
    await stack.gqlOk(`mutation { createLead(input: { email: "linked-race@example.com", firstName: "Lin" }) { id } }`);
    await settle(stack, hs);
    expect(hs.getContact(id)!.properties.firstname).toBe('Lin');
    expect(hs.getContact(id)!.properties.lead_source_system ?? null).toBeNull();
    expect((await leadRow(stack, 'linked-race@example.com')).company).toBe('New Co');
  });
});
