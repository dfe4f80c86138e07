// An update of ours held by the CRM past our deadline (CRM_CALL_TIMEOUT_MS) may still be
// applied afterwards, after a newer push of ours. HubSpot stamps a property change when it
// applies it (`lastmodifieddate`, the time the property history records), so that late
// write looks like the newest change of the record. It is our own older value: the lead
// keeps the newer one and the CRM gets it back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HubSpotSandbox } from '../../sandboxes/hubspot/server.ts';
import { eventually } from '../helpers/net.ts';
import { connectHubSpot, hubspotMoves, settle, startHubSpotFor, startStack, type Stack } from '../helpers/stack.ts';

const UPDATE = '/crm/v3/objects/contacts/batch/update';
const HELD_MS = 4_000;

describe('HubSpot: a batch update held past our deadline is applied after a newer push', () => {
  let stack: Stack;
  let hs: HubSpotSandbox;

  beforeAll(async () => {
    stack = await startStack({ CRM_CALL_TIMEOUT_MS: '1000', RETRY_BASE_MS: '100', RETRY_MAX_DELAY_MS: '400' });
    hs = await startHubSpotFor(stack);
    await connectHubSpot(stack, hs);
  });
  afterAll(async () => {
    await hs?.close();
    await stack?.stop();
  });

  it('keeps the newer platform lastname on both sides when the older, timed-out update lands late', async () => {
    const email = 'late-write@example.com';
    const { createLead } = await stack.gqlOk<{ createLead: { id: string } }>(
      `mutation { createLead(input: { email: "${email}", firstName: "Lia", lastName: "Old" }) { id } }`,
    );
    await settle(stack, hubspotMoves(hs));
    const id = hs.findContactByEmail(email)!.id;
    const leadId = (await stack.db.prisma.lead.findFirstOrThrow({ where: { organizationId: stack.orgId, email } })).id;

    // The update to "First" is held by HubSpot longer than our deadline: the call fails
    // as NETWORK on our side, and HubSpot applies it later all the same.
    hs.controls.injectFault({ kind: 'latency', ms: HELD_MS }, 1, { method: 'POST', path: UPDATE });
    await stack.gqlOk(`mutation($id: ID!) { updateLead(input: { id: $id, lastName: "First" }) { id } }`, { id: createLead.id });
    await eventually(async () => ((await stack.db.prisma.outboxItem.count({ where: { leadId, errorCode: 'NETWORK' } })) > 0 ? true : undefined), 30_000, 'the deadline to pass');
    // Meanwhile the platform changes it again; that push goes through before the held one lands.
    await stack.gqlOk(`mutation($id: ID!) { updateLead(input: { id: $id, lastName: "Second" }) { id } }`, { id: createLead.id });
    await eventually(async () => (hs.controls.requests.some((c) => c.path === UPDATE && c.status === 200 && JSON.stringify(c.body).includes('Second')) ? true : undefined), 30_000, 'the newer push');
    await eventually(async () => (hs.controls.requests.some((c) => c.path === UPDATE && c.fault === 'latency') ? true : undefined), 30_000, 'the held update to land');
    const held = hs.controls.requests.find((c) => c.path === UPDATE && c.fault === 'latency')!;
    const second = hs.controls.requests.find((c) => c.path === UPDATE && c.status === 200 && JSON.stringify(c.body).includes('Second'))!;
    expect(second.at).toBeLessThan(held.at); // the race really happened in this order
    await settle(stack, hubspotMoves(hs));
    // The push of the newer value may wait a moment for a notification of the record still
    // in the inbox (read first, so a person's newer edit is never overwritten).
    await eventually(async () => (hs.getContact(id)!.properties.lastname === 'Second' ? true : undefined), 30_000, 'HubSpot to get the newer value back');
    await settle(stack, hubspotMoves(hs));

    const lead = await stack.db.prisma.lead.findUniqueOrThrow({ where: { id: leadId } });
    expect(lead.lastName).toBe('Second');
    expect(hs.getContact(id)!.properties.lastname).toBe('Second');
  });

  // What survives a crash: the values of an update are on its link (in the database)
  // before the request leaves, so a process killed while HubSpot holds the request
  // leaves them for the next one, which then knows the late write for ours. An answered
  // update is forgotten again.
  it('announces an update on its link before sending it, and forgets it once answered', async () => {
    const email = 'announced@example.com';
    const { createLead } = await stack.gqlOk<{ createLead: { id: string } }>(
      `mutation { createLead(input: { email: "${email}", firstName: "Ann", lastName: "Before" }) { id } }`,
    );
    await settle(stack, hubspotMoves(hs));
    const leadId = (await stack.db.prisma.lead.findFirstOrThrow({ where: { organizationId: stack.orgId, email } })).id;
    const link = () => stack.db.prisma.crmLink.findFirstOrThrow({ where: { leadId } });

    let during: unknown;
    hs.controls.beforeRequest({ method: 'POST', path: UPDATE }, async () => {
      during = (await link()).pendingWrites;
    });
    await stack.gqlOk(`mutation($id: ID!) { updateLead(input: { id: $id, lastName: "During" }) { id } }`, { id: createLead.id });
    await eventually(async () => (during !== undefined ? true : undefined), 30_000, 'the update to reach HubSpot');
    expect(during).toEqual([{ id: expect.any(String), at: expect.any(String), fields: { lastName: 'During' } }]);
    await settle(stack, hubspotMoves(hs));
    await eventually(async () => ((await link()).pendingWrites === null ? true : undefined), 30_000, 'the answered write to be forgotten');
  });

  // The same for a lead not linked yet: its first write links an existing contact found by
  // email (HubSpot "batch update" of what the platform holds). Held past our deadline, it
  // lands after the retry linked the contact and after a newer push: the link inherits
  // the unanswered write (announced on the lead's outbox items before the call), so its
  // late values are known for ours.
  it('keeps the newer platform phone when the first, timed-out link write of a new lead lands late', async () => {
    const email = 'late-link@example.com';
    // A contact the service has not heard of (made while the app's webhooks were off).
    const target = hs.webhookTarget();
    hs.setWebhookTarget(null);
    const id = hs.createContactAsUser({ email, firstname: 'Pre' });
    hs.setWebhookTarget(target);
    hs.controls.injectFault({ kind: 'latency', ms: HELD_MS }, 1, { method: 'POST', path: UPDATE });
    const { createLead } = await stack.gqlOk<{ createLead: { id: string } }>(
      `mutation { createLead(input: { email: "${email}", firstName: "Lin", phone: "+15550007001" }) { id } }`,
    );
    const leadId = (await stack.db.prisma.lead.findFirstOrThrow({ where: { organizationId: stack.orgId, email } })).id;
    await eventually(async () => ((await stack.db.prisma.outboxItem.count({ where: { leadId, errorCode: 'NETWORK' } })) > 0 ? true : undefined), 30_000, 'the deadline to pass');
    await stack.gqlOk(`mutation($id: ID!) { updateLead(input: { id: $id, phone: "+15550007002" }) { id } }`, { id: createLead.id });
    await eventually(async () => (hs.controls.requests.some((c) => c.path === UPDATE && c.status === 200 && JSON.stringify(c.body ?? null).includes('7002')) ? true : undefined), 30_000, 'the newer push');
    await eventually(async () => (hs.controls.requests.some((c) => c.path === UPDATE && c.fault === 'latency' && JSON.stringify(c.body ?? null).includes('7001')) ? true : undefined), 30_000, 'the held write to land');
    const held = hs.controls.requests.find((c) => c.path === UPDATE && c.fault === 'latency' && JSON.stringify(c.body ?? null).includes('7001'))!;
    const newer = hs.controls.requests.find((c) => c.path === UPDATE && c.status === 200 && JSON.stringify(c.body ?? null).includes('7002'))!;
    expect(newer.at).toBeLessThan(held.at); // the race really happened in this order
    await settle(stack, hubspotMoves(hs));
    await eventually(async () => (hs.getContact(id)!.properties.phone === '+15550007002' ? true : undefined), 30_000, 'HubSpot to get the newer phone back');
    await settle(stack, hubspotMoves(hs));

    const lead = await stack.db.prisma.lead.findUniqueOrThrow({ where: { id: leadId } });
    expect(lead.phone).toBe('+15550007002');
    expect(hs.getContact(id)!.properties.phone).toBe('+15550007002');
  });
});
