// The reference design, end to end: the real service (HTTP, GraphQL, engine, PGlite)
// and the real @hubspot/api-client talking to the HubSpot sandbox, whose signed
// webhooks come back to the service over HTTP.
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HubSpotSandbox } from '../../sandboxes/hubspot/server.ts';
import { eventually } from '../helpers/net.ts';
import { connectHubSpot, startHubSpotFor, startStack, type Stack, hubspotMoves, settle as settleAll } from '../helpers/stack.ts';

const LEAD_FIELDS = 'id email firstName lastName phone company status crmMetadata { sourceSystem lastSyncDirection lastSyncedAt syncVersion crmProvider } crmLinks { externalId provider }';

const settle = (stack: Stack, hs: HubSpotSandbox) => settleAll(stack, hubspotMoves(hs));

async function leadsByEmail(stack: Stack, email: string) {
  const d = await stack.gqlOk(`query($e: String) { leads(email: $e, first: 10) { totalCount edges { node { ${LEAD_FIELDS} } } } }`, { e: email });
  return d.leads as { totalCount: number; edges: { node: any }[] };
}

function contactsWithEmail(hs: HubSpotSandbox, email: string) {
  return hs.listContacts().filter((c) => (c.properties.email ?? '').toLowerCase() === email.toLowerCase());
}

describe('HubSpot two-way sync', () => {
  let stack: Stack;
  let hs: HubSpotSandbox;
  let integrationId: string;
  let ws: Client;

  beforeAll(async () => {
    stack = await startStack();
    hs = await startHubSpotFor(stack);
    integrationId = await connectHubSpot(stack, hs);
    ws = createClient({ url: stack.url.replace('http', 'ws') + '/graphql', webSocketImpl: WebSocket, connectionParams: { Authorization: `Bearer ${stack.apiKey}` } });
  });
  afterAll(async () => {
    await ws?.dispose();
    await hs?.close();
    await stack?.stop();
  });

  it('enabling webhooks provisioned the origin property with our tag, hubspot and manual', () => {
    const prop = hs.getProperty('lead_source_system');
    expect(prop).not.toBeNull();
    expect(prop!.type).toBe('enumeration');
    expect(prop!.options.map((o) => o.value).sort()).toEqual(['hubspot', 'jazzaam', 'manual']);
  });

  it('pushes a platform lead to HubSpot with our tag, and skips the creation webhook that comes back', async () => {
    const created = await stack.gqlOk(`mutation($i: CreateLeadInput!) { createLead(input: $i) { ${LEAD_FIELDS} } }`, {
      i: { email: 'Ada@Example.com', firstName: 'Ada', lastName: 'Lovelace', company: 'Engines Ltd' },
    });
    expect(created.createLead.crmMetadata.sourceSystem).toBe('jazzaam');
    await settle(stack, hs);

    const contacts = contactsWithEmail(hs, 'ada@example.com');
    expect(contacts).toHaveLength(1);
    expect(contacts[0].properties.lead_source_system).toBe('jazzaam');
    expect(contacts[0].properties.firstname).toBe('Ada');
    // HubSpot did fire contact.creation for it, and it reached the service.
    const creationEvents = hs.deliveries.flatMap((d) => d.events).filter((e) => e.subscriptionType === 'contact.creation' && String(e.objectId) === contacts[0].id);
    expect(creationEvents.length).toBeGreaterThan(0);
    expect(hs.deliveries.every((d) => d.status === 200)).toBe(true);

    const leads = await leadsByEmail(stack, 'ada@example.com');
    expect(leads.totalCount).toBe(1);
    const lead = leads.edges[0].node;
    expect(lead.crmLinks).toEqual([{ externalId: contacts[0].id, provider: 'HUBSPOT' }]);
    expect(lead.crmMetadata.lastSyncDirection).toBe('TO_CRM');
    expect(stack.logs().some((l) => String(l.msg).includes(`skipping contact ${contacts[0].id}, originated from our platform`))).toBe(true);
    const status = await stack.gqlOk(`query($id: ID!) { webhookStatus(integrationId: $id) { created skipped failed totalReceived } }`, { id: integrationId });
    expect(status.webhookStatus.created).toBe(0);
    expect(status.webhookStatus.failed).toBe(0);
    expect(status.webhookStatus.skipped).toBeGreaterThan(0);
  });

  it('creates a lead in real time for a contact a person creates in HubSpot, and tells subscribers', async () => {
    const received: any[] = [];
    const unsubscribe = ws.subscribe(
      { query: `subscription { leadCreated { ${LEAD_FIELDS} } }` },
      { next: (v) => received.push(v), error: (e) => received.push({ error: e }), complete: () => {} },
    );
    await new Promise((r) => setTimeout(r, 200)); // let the subscription register
    const id = hs.createContactAsUser({ email: ' Grace@Navy.mil ', firstname: 'Grace', lastname: 'Hopper', phone: '+1 555 0100', lifecyclestage: 'lead' });
    const event = await eventually(() => received.find((r) => r.data?.leadCreated?.email === 'grace@navy.mil'), 15_000, 'leadCreated over graphql-ws');
    unsubscribe();
    const lead = event.data.leadCreated;
    expect(lead.firstName).toBe('Grace');
    expect(lead.status).toBe('lead');
    expect(lead.crmMetadata).toMatchObject({ sourceSystem: 'hubspot', lastSyncDirection: 'FROM_CRM', crmProvider: 'HUBSPOT', syncVersion: 1 });
    expect(lead.crmLinks).toEqual([{ externalId: id, provider: 'HUBSPOT' }]);
    await settle(stack, hs);
    // Nothing was written back to HubSpot for a lead that came from it.
    expect(contactsWithEmail(hs, 'grace@navy.mil')).toHaveLength(1);
    expect(hs.getContact(id)!.properties.lead_source_system ?? null).toBeNull();
    expect((await leadsByEmail(stack, 'grace@navy.mil')).totalCount).toBe(1);
  });

  it('takes a contact whose values hold NUL bytes (PostgreSQL text cannot) without failing: the NULs are dropped', async () => {
    hs.createContactAsUser({ email: 'nul@example.com', firstname: 'Nu\u0000ll', company: '\u0000Acme\u0000' });
    await settle(stack, hs);
    const lead = await stack.db.prisma.lead.findFirstOrThrow({ where: { organizationId: stack.orgId, email: 'nul@example.com' } });
    expect(lead).toMatchObject({ firstName: 'Null', company: 'Acme' });
    expect(await stack.db.prisma.inboxEvent.count({ where: { status: 'failed' } })).toBe(0);
  });

  it('treats a contact tagged manual or hubspot as a person\'s, and one without an email as skipped', async () => {
    hs.createContactAsUser({ email: 'manual@example.com', lead_source_system: 'manual' });
    const noEmail = hs.createContactAsUser({ firstname: 'Nameless' });
    await settle(stack, hs);
    expect((await leadsByEmail(stack, 'manual@example.com')).totalCount).toBe(1);
    expect(stack.logs().some((l) => l.level === 40 && String(l.msg).includes(`skipping contact ${noEmail}: no email`))).toBe(true);
    const skippedNoEmail = await stack.db.prisma.inboxEvent.count({ where: { integrationId, outcome: 'skipped_no_email' } });
    expect(skippedNoEmail).toBeGreaterThan(0);
  });

  it('applies a HubSpot edit to the lead, and pushes a platform edit to HubSpot without ping-pong', async () => {
    const id = hs.createContactAsUser({ email: 'linus@example.com', firstname: 'Linus' });
    await settle(stack, hs);
    let lead = (await leadsByEmail(stack, 'linus@example.com')).edges[0].node;

    hs.updateContactAsUser(id, { firstname: 'Linus B.', company: 'Kernel' });
    await settle(stack, hs);
    lead = (await leadsByEmail(stack, 'linus@example.com')).edges[0].node;
    expect(lead.firstName).toBe('Linus B.');
    expect(lead.company).toBe('Kernel');
    const versionAfterCrmEdit = lead.crmMetadata.syncVersion;

    const writesBefore = hs.apiCalls.filter((c) => c.method !== 'GET' && !c.path.includes('/read') && !c.path.includes('/search')).length;
    await stack.gqlOk(`mutation($i: UpdateLeadInput!) { updateLead(input: $i) { id } }`, { i: { id: lead.id, phone: '+46 70 000 00 00' } });
    await settle(stack, hs);
    expect(hs.getContact(id)!.properties.phone).toBe('+46 70 000 00 00');
    // Exactly one write went to HubSpot, and its propertyChange echo was dropped.
    const writes = hs.apiCalls.filter((c) => c.method !== 'GET' && !c.path.includes('/read') && !c.path.includes('/search'));
    expect(writes.length - writesBefore).toBe(1);
    const phoneEcho = hs.deliveries.flatMap((d) => d.events).filter((e) => e.subscriptionType === 'contact.propertyChange' && e.propertyName === 'phone' && String(e.objectId) === id);
    expect(phoneEcho.length).toBeGreaterThan(0);
    lead = (await leadsByEmail(stack, 'linus@example.com')).edges[0].node;
    expect(lead.crmMetadata.syncVersion).toBe(versionAfterCrmEdit + 1);
    expect(lead.phone).toBe('+46 70 000 00 00');
    expect(await stack.db.prisma.inboxEvent.count({ where: { integrationId, outcome: 'skipped_echo' } })).toBeGreaterThan(0);

    // A person then sets the old value back in HubSpot: a real change, applied.
    hs.updateContactAsUser(id, { phone: '' });
    await settle(stack, hs);
    lead = (await leadsByEmail(stack, 'linus@example.com')).edges[0].node;
    expect(lead.phone).toBeNull();
  });

  it('keeps the lead when its contact is deleted in HubSpot, and does not push it back', async () => {
    const id = hs.createContactAsUser({ email: 'gone@example.com', firstname: 'Gone' });
    await settle(stack, hs);
    const lead = (await leadsByEmail(stack, 'gone@example.com')).edges[0].node;
    hs.deleteContact(id);
    await settle(stack, hs);
    const row = await stack.db.prisma.lead.findFirstOrThrow({ where: { organizationId: stack.orgId, email: 'gone@example.com' } });
    expect(row.crmDeletedAt).not.toBeNull();
    await stack.gqlOk(`mutation($i: UpdateLeadInput!) { updateLead(input: $i) { id } }`, { i: { id: lead.id, company: 'Still here' } });
    await settle(stack, hs);
    expect(contactsWithEmail(hs, 'gone@example.com')).toHaveLength(0);
  });

  it('leaves one lead for one person when two contacts are merged in HubSpot', async () => {
    const a = hs.createContactAsUser({ email: 'merge-a@example.com', firstname: 'Marge' });
    const b = hs.createContactAsUser({ email: 'merge-b@example.com', phone: '+1 555 0199' });
    await settle(stack, hs);
    expect((await leadsByEmail(stack, 'merge-a@example.com')).totalCount).toBe(1);
    expect((await leadsByEmail(stack, 'merge-b@example.com')).totalCount).toBe(1);
    const survivor = hs.mergeContacts(a, b);
    await settle(stack, hs);
    const leftA = await stack.db.prisma.lead.findMany({ where: { organizationId: stack.orgId, email: { in: ['merge-a@example.com', 'merge-b@example.com'] } }, include: { links: true } });
    expect(leftA).toHaveLength(1);
    expect(leftA[0].links.map((l) => l.externalId)).toEqual([survivor]);
    expect(leftA[0].phone).toBe('+1 555 0199');
  });
});

describe('HubSpot integration with auto-sync and webhooks never enabled', () => {
  let stack: Stack;
  let hs: HubSpotSandbox;

  beforeAll(async () => {
    stack = await startStack();
    hs = await startHubSpotFor(stack, { webhookTargetUrl: null });
  });
  afterAll(async () => {
    await hs?.close();
    await stack?.stop();
  });

  it('creates the origin property before its first push, then pushes with our tag', async () => {
    await stack.gqlOk(`mutation($i: CreateIntegrationInput!) { createIntegration(input: $i) { id } }`, {
      i: { provider: 'HUBSPOT', name: 'push only', accountId: String(hs.portalId), apiBaseUrl: hs.url, accessToken: hs.accessToken },
    });
    expect(hs.getProperty('lead_source_system')).toBeNull();
    await stack.gqlOk(`mutation { createLead(input: { email: "first@example.com" }) { id } }`);
    await stack.engine.drain();
    expect(hs.getProperty('lead_source_system')!.options.map((o) => o.value)).toContain('jazzaam');
    expect(contactsWithEmail(hs, 'first@example.com').map((c) => c.properties.lead_source_system)).toEqual(['jazzaam']);
  });
});
