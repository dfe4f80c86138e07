// A push writes only what the platform changed. HubSpot applies a batch update's
// properties as sent ("Update ... properties"; there is no conditional update), so a push
// repeating every field would put back the old value of a field a person has just edited
// in HubSpot, and the person's edit would be lost on both sides.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HubSpotSandbox } from '../sandboxes/hubspot/server.ts';
import { connectHubSpot, hubspotMoves, settle, startHubSpotFor, startStack, type Stack } from '../helpers/stack.ts';

describe('HubSpot: a person edits another field while our update is on its way', () => {
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

  it('keeps the phone a rep types in HubSpot while our lastName update is in flight, on both sides', async () => {
    const { createLead } = await stack.gqlOk<{ createLead: { id: string } }>(
      `mutation { createLead(input: { email: "field-race@example.com", firstName: "Fay", lastName: "Old", phone: "+15550001000" }) { id } }`,
    );
    await settle(stack, hubspotMoves(hs));
    const id = hs.findContactByEmail('field-race@example.com')!.id;

    let sent: Record<string, unknown> | undefined;
    hs.beforeRequest({ method: 'POST', path: '/crm/v3/objects/contacts/batch/update' }, (body) => {
      sent = (body as { inputs: { properties: Record<string, unknown> }[] }).inputs[0]!.properties;
      hs.updateContactAsUser(id, { phone: '+15550002000' });
    });
    await stack.gqlOk(`mutation($id: ID!) { updateLead(input: { id: $id, lastName: "New" }) { id } }`, { id: createLead.id });
    await settle(stack, hubspotMoves(hs));

    expect(sent).toEqual({ lastname: 'New' });
    expect(hs.getContact(id)!.properties).toMatchObject({ lastname: 'New', phone: '+15550002000' });
    const lead = await stack.db.prisma.lead.findFirstOrThrow({ where: { organizationId: stack.orgId, email: 'field-race@example.com' } });
    expect({ lastName: lead.lastName, phone: lead.phone }).toEqual({ lastName: 'New', phone: '+15550002000' });
  });
});
