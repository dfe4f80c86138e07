// A retried push never overwrites a newer edit made in the CRM, even when that edit's
// notification has not arrived yet. HubSpot applies a batch update's properties as sent
// (no conditional update), and promises no delivery time or order for webhooks; so a
// retry first reads its record back and applies what changed there since, by the same
// rules as the reconciling poll (last writer wins by modification time).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HubSpotSandbox } from '../../sandboxes/hubspot/server.ts';
import { eventually } from '../helpers/net.ts';
import { connectHubSpot, hubspotMoves, settle, startHubSpotFor, startStack, type Stack } from '../helpers/stack.ts';

const WRITE_OR_READ = /^\/crm\/v3\/objects\/contacts\/batch\/(read|update)$/;

describe('HubSpot: a person edits the field a failed push is waiting to retry', () => {
  let stack: Stack;
  let hs: HubSpotSandbox;

  beforeAll(async () => {
    stack = await startStack({ RETRY_BASE_MS: '200', RETRY_MAX_DELAY_MS: '1000' });
    hs = await startHubSpotFor(stack);
    await connectHubSpot(stack, hs);
  });
  afterAll(async () => {
    await hs?.close();
    await stack?.stop();
  });

  /**
   * The next batch update fails with a 503; `edit` runs just before the CRM call that
   * follows it (the retry's first call), so the edit lands between the two attempts.
   */
  function failOnceThen(edit: () => void) {
    hs.controls.beforeRequest({ method: 'POST', path: '/crm/v3/objects/contacts/batch/update' }, () => {
      // Armed once this request's hooks have run: the next read or write is the retry's.
      setTimeout(() => hs.controls.beforeRequest({ method: 'POST', path: WRITE_OR_READ }, edit), 0);
    });
    hs.controls.injectFault({ kind: 'server_error', status: 503 }, 1, { method: 'POST', path: '/crm/v3/objects/contacts/batch/update' });
  }

  const leadOf = (email: string) => stack.db.prisma.lead.findFirstOrThrow({ where: { organizationId: stack.orgId, email } });

  it("keeps the rep's newer lastname on both sides when our older push is retried before the rep's webhook arrives", async () => {
    const email = 'retry-race@example.com';
    const { createLead } = await stack.gqlOk<{ createLead: { id: string } }>(
      `mutation { createLead(input: { email: "${email}", firstName: "Rae", lastName: "Old", phone: "+15550003000" }) { id } }`,
    );
    await settle(stack, hubspotMoves(hs));
    const id = hs.findContactByEmail(email)!.id;

    // The platform changes lastName; its push fails transiently and waits for a retry.
    // Then, just before the retry reaches HubSpot, a rep types another lastname there;
    // the notification of that edit is still on its way when the retry runs.
    const inboxBefore = await stack.db.prisma.inboxEvent.count({ where: { externalId: id } });
    let editedAt = 0;
    failOnceThen(() => {
      hs.setWebhookBehavior({ delayMs: 1_500 });
      hs.updateContactAsUser(id, { lastname: 'Rep' });
      editedAt = Date.now();
    });
    await stack.gqlOk(`mutation($id: ID!) { updateLead(input: { id: $id, lastName: "Platform" }) { id } }`, { id: createLead.id });
    await eventually(async () => {
      const items = await stack.db.prisma.outboxItem.findMany({ where: { leadId: (await leadOf(email)).id, status: { in: ['pending', 'processing'] } } });
      return items.length === 0 && editedAt > 0 ? true : undefined;
    }, 30_000, 'the retry to finish');
    // The rep's notification had not arrived: the retry alone had to notice the edit.
    expect(await stack.db.prisma.inboxEvent.count({ where: { externalId: id } })).toBe(inboxBefore);
    hs.setWebhookBehavior({});
    await settle(stack, hubspotMoves(hs));

    expect(hs.getContact(id)!.properties).toMatchObject({ lastname: 'Rep', phone: '+15550003000', firstname: 'Rae' });
    const lead = await leadOf(email);
    expect({ lastName: lead.lastName, phone: lead.phone }).toEqual({ lastName: 'Rep', phone: '+15550003000' });
  });

  it('still pushes a platform change retried after an older HubSpot edit of another field, and applies that edit', async () => {
    const email = 'retry-other-field@example.com';
    const { createLead } = await stack.gqlOk<{ createLead: { id: string } }>(
      `mutation { createLead(input: { email: "${email}", firstName: "Ola", lastName: "Old" }) { id } }`,
    );
    await settle(stack, hubspotMoves(hs));
    const id = hs.findContactByEmail(email)!.id;

    let callsBefore = 0;
    failOnceThen(() => {
      callsBefore = hs.controls.requests.length;
      hs.setWebhookBehavior({ delayMs: 1_500 });
      hs.updateContactAsUser(id, { company: 'Rep Co' });
    });
    await stack.gqlOk(`mutation($id: ID!) { updateLead(input: { id: $id, lastName: "Platform" }) { id } }`, { id: createLead.id });
    await eventually(async () => {
      const items = await stack.db.prisma.outboxItem.findMany({ where: { leadId: (await leadOf(email)).id, status: { in: ['pending', 'processing'] } } });
      return items.length === 0 ? true : undefined;
    }, 30_000, 'the retry to finish');
    // The retry costs one batched read, then writes only the platform's change.
    const retryCalls = hs.controls.requests.slice(callsBefore).filter((c) => c.path.startsWith('/crm/v3/objects/contacts/batch/')).slice(0, 2);
    expect(retryCalls.map((c) => c.path)).toEqual(['/crm/v3/objects/contacts/batch/read', '/crm/v3/objects/contacts/batch/update']);
    expect((retryCalls[1]!.body as { inputs: { properties: Record<string, unknown> }[] }).inputs[0]!.properties).toEqual({ lastname: 'Platform' });
    hs.setWebhookBehavior({});
    await settle(stack, hubspotMoves(hs));

    expect(hs.getContact(id)!.properties).toMatchObject({ lastname: 'Platform', company: 'Rep Co' });
    const lead = await leadOf(email);
    expect({ lastName: lead.lastName, company: lead.company }).toEqual({ lastName: 'Platform', company: 'Rep Co' });
  });
});
