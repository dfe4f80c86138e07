// A push never overwrites a newer edit made in the CRM. It writes only what the platform
// changed, and waits while a change of its record is still in the inbox. HubSpot applies a batch update's
// properties as sent ("Update ... properties"; there is no conditional update), so a push
// repeating every field would put back the old value of a field a person has just edited
// in HubSpot, and the person's edit would be lost on both sides.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HubSpotSandbox } from '../../sandboxes/hubspot/server.ts';
import { eventually } from '../helpers/net.ts';
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
    hs.controls.beforeRequest({ method: 'POST', path: '/crm/v3/objects/contacts/batch/update' }, (body) => {
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

  // Last writer wins by modification time: a rep's edit made after the platform's change,
  // while that change's push is still being retried, is the later write and must stay.
  it('keeps a newer HubSpot edit of the same field when the platform push of an older change is retried after it', async () => {
    const { createLead } = await stack.gqlOk<{ createLead: { id: string } }>(
      `mutation { createLead(input: { email: "same-field@example.com", firstName: "Sam", lastName: "Old" }) { id } }`,
    );
    await settle(stack, hubspotMoves(hs));
    const id = hs.findContactByEmail('same-field@example.com')!.id;

    // The platform's push fails once (retried after a backoff); the inbox reads the rep's change slowly.
    hs.controls.injectFault({ kind: 'server_error', status: 503 }, 1, { path: '/crm/v3/objects/contacts/batch/update' });
    await stack.gqlOk(`mutation($id: ID!) { updateLead(input: { id: $id, lastName: "Platform" }) { id } }`, { id: createLead.id });
    hs.controls.injectFault({ kind: 'latency', ms: 2_000 }, 1, { path: '/crm/v3/objects/contacts/batch/read' });
    hs.updateContactAsUser(id, { lastname: 'Rep' });
    await settle(stack, hubspotMoves(hs));

    expect(hs.getContact(id)!.properties.lastname).toBe('Rep');
    const lead = await stack.db.prisma.lead.findFirstOrThrow({ where: { organizationId: stack.orgId, email: 'same-field@example.com' } });
    expect(lead.lastName).toBe('Rep');
  });

  // A rep's edit of one field and a newer platform change of another, both in flight at
  // once: the platform's field wins where it changed (it is newer), the rep's everywhere
  // else. Dropping the whole HubSpot change because some local change is newer would lose
  // the rep's company on both sides (the push would even write the old one back).
  it('applies a rep edit of the company while a newer platform change of the phone waits to be pushed, and keeps both', async () => {
    const { createLead } = await stack.gqlOk<{ createLead: { id: string } }>(
      `mutation { createLead(input: { email: "both-sides@example.com", firstName: "Bo", company: "Old Co", phone: "+15550003000" }) { id } }`,
    );
    await settle(stack, hubspotMoves(hs));
    const id = hs.findContactByEmail('both-sides@example.com')!.id;

    // The webhook's read-back is slow and the platform's push fails once: both changes
    // are in flight when the rep's change is applied.
    hs.controls.injectFault({ kind: 'latency', ms: 1_500 }, 1, { path: '/crm/v3/objects/contacts/batch/read' });
    hs.controls.injectFault({ kind: 'server_error', status: 503 }, 1, { path: '/crm/v3/objects/contacts/batch/update' });
    hs.updateContactAsUser(id, { company: 'Rep Co' });
    await new Promise((r) => setTimeout(r, 20));
    await stack.gqlOk(`mutation($id: ID!) { updateLead(input: { id: $id, phone: "+15550004000" }) { id } }`, { id: createLead.id });
    await settle(stack, hubspotMoves(hs));
    // The push waits out its backoff: wait for it, then for what it moves.
    const leadRow = await stack.db.prisma.lead.findFirstOrThrow({ where: { organizationId: stack.orgId, email: 'both-sides@example.com' } });
    await eventually(async () => (await stack.db.prisma.outboxItem.count({ where: { leadId: leadRow.id, status: { not: 'done' } } })) === 0, 30_000, 'the phone push');
    await settle(stack, hubspotMoves(hs));

    const lead = await stack.db.prisma.lead.findFirstOrThrow({ where: { organizationId: stack.orgId, email: 'both-sides@example.com' } });
    expect({ company: lead.company, phone: lead.phone }).toEqual({ company: 'Rep Co', phone: '+15550004000' });
    // The rep's change was applied when its webhook was processed, not dropped as stale
    // (and picked up later only because our own write happened to carry it back).
    const outcomes = (await stack.db.prisma.inboxEvent.findMany({ where: { externalId: id }, orderBy: { receivedAt: 'asc' } })).map((e) => e.outcome);
    expect(outcomes).not.toContain('skipped_stale');
    expect(hs.getContact(id)!.properties).toMatchObject({ company: 'Rep Co', phone: '+15550004000' });
  });

  // The same field changed on both sides is settled by that field's own times. HubSpot's
  // property history tells when each property was set (propertiesWithHistory), so a rep
  // editing the first name later does not make the rep's OLDER phone beat the platform's
  // newer one (the record's lastmodifieddate is the first-name edit's time).
  it('keeps a newer platform phone over an older HubSpot phone when the rep edits another field later', async () => {
    const { createLead } = await stack.gqlOk<{ createLead: { id: string } }>(
      `mutation { createLead(input: { email: "field-times@example.com", firstName: "Fe", phone: "+15550005000" }) { id } }`,
    );
    await settle(stack, hubspotMoves(hs));
    const id = hs.findContactByEmail('field-times@example.com')!.id;

    // The inbox's read is slow and the platform's push fails once: the read sees all three
    // changes, and the record's modification time is the latest (the first name).
    hs.controls.injectFault({ kind: 'latency', ms: 1_500 }, 1, { path: '/crm/v3/objects/contacts/batch/read' });
    hs.controls.injectFault({ kind: 'server_error', status: 503 }, 1, { path: '/crm/v3/objects/contacts/batch/update' });
    hs.updateContactAsUser(id, { phone: '+15550005001' });
    await new Promise((r) => setTimeout(r, 20));
    await stack.gqlOk(`mutation($id: ID!) { updateLead(input: { id: $id, phone: "+15550005002" }) { id } }`, { id: createLead.id });
    await new Promise((r) => setTimeout(r, 20));
    hs.updateContactAsUser(id, { firstname: 'Felix' });
    await settle(stack, hubspotMoves(hs));
    const leadRow = await stack.db.prisma.lead.findFirstOrThrow({ where: { organizationId: stack.orgId, email: 'field-times@example.com' } });
    await eventually(async () => (await stack.db.prisma.outboxItem.count({ where: { leadId: leadRow.id, status: { not: 'done' } } })) === 0, 30_000, 'the phone push');
    await settle(stack, hubspotMoves(hs));

    const lead = await stack.db.prisma.lead.findFirstOrThrow({ where: { organizationId: stack.orgId, email: 'field-times@example.com' } });
    expect({ firstName: lead.firstName, phone: lead.phone }).toEqual({ firstName: 'Felix', phone: '+15550005002' });
    expect(hs.getContact(id)!.properties).toMatchObject({ firstname: 'Felix', phone: '+15550005002' });
  });

  // The same field, edited by a rep after the platform's change but before our write of
  // that change reaches HubSpot: HubSpot applies our write over the rep's edit (no
  // conditional update). The rep's edit is the later change of the field, and the
  // property history still shows it (sourceType CRM_UI, before our INTEGRATION write):
  // it is applied to the lead and written back.
  it("restores a rep's edit of the same field that our older write overwrote, on both sides", async () => {
    const { createLead } = await stack.gqlOk<{ createLead: { id: string } }>(
      `mutation { createLead(input: { email: "overwritten@example.com", firstName: "Ola", phone: "+15550006000" }) { id } }`,
    );
    await settle(stack, hubspotMoves(hs));
    const id = hs.findContactByEmail('overwritten@example.com')!.id;

    hs.controls.beforeRequest({ method: 'POST', path: '/crm/v3/objects/contacts/batch/update' }, () => {
      hs.updateContactAsUser(id, { phone: '+15550006002' });
    });
    await stack.gqlOk(`mutation($id: ID!) { updateLead(input: { id: $id, phone: "+15550006001" }) { id } }`, { id: createLead.id });
    await settle(stack, hubspotMoves(hs));
    await eventually(async () => (hs.getContact(id)!.properties.phone === "+15550006002" ? true : undefined), 30_000, "the rep phone back in HubSpot");
    await settle(stack, hubspotMoves(hs));

    const lead = await stack.db.prisma.lead.findFirstOrThrow({ where: { organizationId: stack.orgId, email: 'overwritten@example.com' } });
    expect(lead.phone).toBe('+15550006002');
    expect(hs.getContact(id)!.properties.phone).toBe('+15550006002');
    // Written back once: no ping-pong.
    const writes = hs.controls.requests.filter((c) => c.path === '/crm/v3/objects/contacts/batch/update' && c.status === 200 && JSON.stringify(c.body ?? null).includes(`"id":"${id}"`));
    expect(writes.map((c) => (c.body as { inputs: { properties: Record<string, string> }[] }).inputs[0]!.properties)).toEqual([{ phone: '+15550006001' }, { phone: '+15550006002' }]);
  });
});
