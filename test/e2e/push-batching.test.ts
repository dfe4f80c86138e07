// Pushes of new leads as a stream arrives: filled up to a batch while leads keep coming
// (OUTBOX_BATCH_WAIT_MS), each call's written leads recorded together, and a CRM record
// already linked to another lead still refused for that lead alone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HubSpotSandbox } from '../../sandboxes/hubspot/server.ts';
import { eventually } from '../helpers/net.ts';
import { connectHubSpot, startHubSpotFor, startStack, type Stack } from '../helpers/stack.ts';

const CREATE = '/crm/v3/objects/contacts/batch/create';

describe('pushes of a stream of new leads', () => {
  let stack: Stack;
  let hs: HubSpotSandbox;

  beforeAll(async () => {
    // A long window, so a slow machine still sees the stream as one.
    stack = await startStack({ OUTBOX_BATCH_WAIT_MS: '8000' });
    hs = await startHubSpotFor(stack);
    await connectHubSpot(stack, hs);
  });
  afterAll(async () => {
    await hs?.close();
    await stack?.stop();
  });

  const createLead = (email: string, firstName = 'Stream') =>
    stack.gqlOk(`mutation($e: String!, $f: String) { createLead(input: { email: $e, firstName: $f }) { id } }`, { e: email, f: firstName });
  const creates = () => hs.controls.requests.filter((c) => c.path === CREATE).map((c) => (c.body as { inputs: unknown[] }).inputs.length);
  const contact = (email: string) => hs.listContacts().find((c) => c.properties.email === email);

  it('pushes the first lead at once, then fills the next push while leads keep arriving: 30 leads in ONE HubSpot call', async () => {
    await createLead('first@stream.example');
    await eventually(() => contact('first@stream.example'), 20_000, 'the first lead in HubSpot');
    expect(creates()).toEqual([1]);
    // Leads arriving one request after another while the first push is recent.
    for (let i = 0; i < 30; i++) await createLead(`s${i}@stream.example`);
    await eventually(() => hs.listContacts().length >= 31 || undefined, 30_000, 'the stream in HubSpot');
    expect(creates()).toEqual([1, 30]);
    const items = await eventually(async () => {
      const rows = await stack.db.prisma.outboxItem.findMany({ where: { lead: { email: { endsWith: '@stream.example' } } } });
      return rows.every((r) => r.status === 'done') ? rows : undefined;
    }, 30_000, 'the pushes recorded');
    expect(items.map((i) => [i.status, i.result])).toEqual(items.map(() => ['done', 'created']));
    const links = await stack.db.prisma.crmLink.findMany({ where: { lead: { email: { endsWith: '@stream.example' } } }, include: { lead: true } });
    expect(links).toHaveLength(31);
    for (const l of links) expect(l.externalId).toBe(contact(l.lead.email)!.id);
  });

  it('refuses a lead whose HubSpot contact is linked to another lead already, and still records the other new lead', async () => {
    // A rep changed the email of the contact linked to `owner` to the new lead's email; its
    // webhook has not been applied yet, so the push meets that contact as an existing email.
    await stack.gqlOk(`mutation { createLead(input: { email: "owner@stream.example", firstName: "Owner" }) { id } }`);
    const owned = await eventually(() => contact('owner@stream.example'), 20_000, "the owner's contact");
    hs.setWebhookBehavior({ delayMs: 60_000 });
    hs.updateContactAsUser(owned.id, { email: 'taken@stream.example' });
    await createLead('taken@stream.example', 'Second');
    await createLead('calm@stream.example', 'Calm');
    const items = await eventually(async () => {
      const rows = await stack.db.prisma.outboxItem.findMany({ where: { lead: { email: { in: ['taken@stream.example', 'calm@stream.example'] } } }, include: { lead: true } });
      return rows.length === 2 && rows.every((r) => r.status === 'done' || r.status === 'failed') ? rows : undefined;
    }, 30_000, 'both pushes settled');
    const taken = items.find((i) => i.lead.email === 'taken@stream.example')!;
    expect([taken.status, taken.errorCode]).toEqual(['failed', 'CONFLICT']);
    expect(taken.lastError).toContain(`CRM record ${owned.id} is already linked to another lead`);
    const calm = items.find((i) => i.lead.email === 'calm@stream.example')!;
    expect([calm.status, calm.result]).toEqual(['done', 'created']);
    // The owner keeps its link; the refused lead has none.
    const links = await stack.db.prisma.crmLink.findMany({ where: { externalId: owned.id } });
    expect(links.map((l) => l.leadId)).toEqual([(await stack.db.prisma.lead.findFirstOrThrow({ where: { email: 'owner@stream.example' } })).id]);
    expect(await stack.db.prisma.crmLink.count({ where: { leadId: taken.leadId } })).toBe(0);
    hs.setWebhookBehavior({});
  });
});
