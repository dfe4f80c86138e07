// The HubSpot reference flows, end to end for Salesforce: the real service (HTTP,
// GraphQL, engine, PGlite) and the real jsforce talking to the Salesforce sandbox org,
// whose Outbound Messages (SOAP) come back to the service over HTTP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAck, type SalesforceSandbox } from '../../sandboxes/salesforce/index.ts';
import { importTwiceScenario } from '../helpers/import-scenario.ts';
import { eventually, startProxy } from '../helpers/net.ts';
import { connectSalesforce, startSalesforceFor, startStack, type Connected, type Stack, salesforceMoves, settle as settleAll } from '../helpers/stack.ts';

const LEAD_FIELDS = 'id email firstName lastName phone company status crmMetadata { sourceSystem lastSyncDirection lastSyncedAt syncVersion crmProvider } crmLinks { externalId provider }';
const WRITE_METHODS = new Set(['POST', 'PATCH', 'PUT', 'DELETE']);

/** Lets outbound messages and both queues run until nothing moves any more. */
const settle = (stack: Stack, sf: SalesforceSandbox) => settleAll(stack, salesforceMoves(sf));

async function leadsByEmail(stack: Stack, email: string) {
  const d = await stack.gqlOk(`query($e: String) { leads(email: $e, first: 10) { totalCount edges { node { ${LEAD_FIELDS} } } } }`, { e: email });
  return d.leads as { totalCount: number; edges: { node: any }[] };
}

async function theLead(stack: Stack, email: string) {
  const r = await leadsByEmail(stack, email);
  expect(r.totalCount).toBe(1);
  return r.edges[0].node;
}

const sfLeadsWithEmail = (sf: SalesforceSandbox, email: string) =>
  sf.controls.listLeads().filter((l) => String(l.values.Email ?? '').toLowerCase() === email.toLowerCase());

const writes = (sf: SalesforceSandbox) => sf.controls.requests.filter((r) => WRITE_METHODS.has(r.method));

/** The integration's endpoint URL (it ends with the integration's secret), on the stack's own address. */
const webhookUrl = (stack: Stack, conn: Connected) => `${stack.url}${new URL(conn.enabled.webhookUrl).pathname}`;

function postOutbound(stack: Stack, conn: Connected, body: string) {
  return fetch(webhookUrl(stack, conn), { method: 'POST', headers: { 'content-type': 'text/xml; charset=utf-8', soapaction: '""' }, body });
}

describe('Salesforce two-way sync', () => {
  let stack: Stack;
  let sf: SalesforceSandbox;
  let conn: Connected;
  let integrationId: string;

  beforeAll(async () => {
    stack = await startStack({ RETRY_BASE_MS: '50' });
    sf = await startSalesforceFor(stack);
    conn = await connectSalesforce(stack, sf);
    integrationId = conn.integrationId;
  });
  afterAll(async () => {
    await sf?.close();
    await stack?.stop();
  });

  it('enableWebhooks finds the origin and external id fields and tells the administrator which endpoint to call', () => {
    expect(conn.enabled.status.enabled).toBe(true);
    expect(conn.enabled.provision.originFieldReady).toBe(true);
    // The endpoint URL ends with the integration's secret: 256 random bits, base64url.
    expect(conn.enabled.webhookUrl).toMatch(new RegExp(`^${stack.config.PUBLIC_BASE_URL}/api/v1/webhooks/salesforce/[A-Za-z0-9_-]{43}$`));
    const outboundStep = conn.enabled.provision.manualSteps.find((s) => s.includes('Outbound Message'));
    expect(outboundStep).toBeDefined();
    expect(outboundStep).toContain(`Endpoint URL ${conn.enabled.webhookUrl}`);
    expect(outboundStep).toContain('Lead_Source_System__c');
  });

  it('pushes a platform lead to Salesforce with our tag, and skips the outbound message of that creation', async () => {
    const created = await stack.gqlOk(`mutation($i: CreateLeadInput!) { createLead(input: $i) { ${LEAD_FIELDS} } }`, {
      i: { email: 'Ada@Example.com', firstName: 'Ada', lastName: 'Lovelace', company: 'Engines Ltd' },
    });
    expect(created.createLead.crmMetadata.sourceSystem).toBe('jazzaam');
    await settle(stack, sf);

    const records = sfLeadsWithEmail(sf, 'ada@example.com');
    expect(records).toHaveLength(1);
    const rec = records[0];
    expect(rec.values.Lead_Source_System__c).toBe('jazzaam');
    expect(rec.values.FirstName).toBe('Ada');
    expect(rec.values.Company).toBe('Engines Ltd');
    const row = await stack.db.prisma.lead.findFirstOrThrow({ where: { organizationId: stack.orgId, email: 'ada@example.com' } });
    expect(rec.values.Platform_Lead_Id__c).toBe(row.id);
    expect(rec.createdByClient).toBe('crm-sync');
    // Salesforce did send the outbound message for it, and the service acknowledged it.
    const sent = sf.controls.outbound.deliveries.filter((d) => d.leadIds.includes(String(rec.values.Id)));
    expect(sent.length).toBeGreaterThan(0);
    expect(sent.every((d) => d.status === 200 && d.acked)).toBe(true);

    const lead = await theLead(stack, 'ada@example.com');
    expect(lead.crmLinks).toEqual([{ externalId: rec.values.Id, provider: 'SALESFORCE' }]);
    expect(lead.crmMetadata.lastSyncDirection).toBe('TO_CRM');
    expect(lead.crmMetadata.crmProvider).toBe('SALESFORCE');
    expect(stack.logs().some((l) => String(l.msg).includes(`skipping lead ${rec.values.Id}, originated from our platform`))).toBe(true);
    const ownOrigin = await stack.db.prisma.inboxEvent.count({ where: { integrationId, externalId: String(rec.values.Id), outcome: 'skipped_own_origin' } });
    expect(ownOrigin).toBeGreaterThan(0);
    const status = await stack.gqlOk(`query($id: ID!) { webhookStatus(integrationId: $id) { created skipped failed totalReceived } }`, { id: integrationId });
    expect(status.webhookStatus).toMatchObject({ created: 0, failed: 0 });
    expect(status.webhookStatus.skipped).toBeGreaterThan(0);
  });

  it('creates a lead for a Lead a person creates in Salesforce, and writes nothing back', async () => {
    const writesBefore = writes(sf).length;
    const id = sf.controls.createLeadAsUser({ Email: 'Grace@Navy.MIL', FirstName: 'Grace', LastName: 'Hopper', Company: 'US Navy', Phone: '+1 555 0100' });
    await settle(stack, sf);
    const lead = await theLead(stack, 'grace@navy.mil');
    expect(lead).toMatchObject({ firstName: 'Grace', lastName: 'Hopper', company: 'US Navy', phone: '+1 555 0100', status: 'Open - Not Contacted' });
    expect(lead.crmMetadata).toMatchObject({ sourceSystem: 'salesforce', lastSyncDirection: 'FROM_CRM', crmProvider: 'SALESFORCE', syncVersion: 1 });
    expect(lead.crmLinks).toEqual([{ externalId: id, provider: 'SALESFORCE' }]);
    // Nothing was written back to Salesforce for a lead that came from it.
    expect(writes(sf).length).toBe(writesBefore);
    expect(sfLeadsWithEmail(sf, 'grace@navy.mil')).toHaveLength(1);
    expect(sf.controls.getLead(id)!.values.Lead_Source_System__c ?? null).toBeNull();
    expect(sf.controls.getLead(id)!.lastModifiedByClient).toBeNull();
  });

  it('skips a Lead without an email and counts it', async () => {
    const before = await stack.gqlOk(`query($id: ID!) { webhookStatus(integrationId: $id) { skipped } }`, { id: integrationId });
    const leadsBefore = await stack.db.prisma.lead.count({ where: { organizationId: stack.orgId } });
    const id = sf.controls.createLeadAsUser({ FirstName: 'Nameless', LastName: 'Person', Company: 'Nowhere' });
    await settle(stack, sf);
    expect(await stack.db.prisma.lead.count({ where: { organizationId: stack.orgId } })).toBe(leadsBefore);
    expect(await stack.db.prisma.inboxEvent.count({ where: { integrationId, externalId: id, outcome: 'skipped_no_email' } })).toBe(1);
    expect(stack.logs().some((l) => l.level === 40 && String(l.msg).includes(`skipping lead ${id}: no email`))).toBe(true);
    const after = await stack.gqlOk(`query($id: ID!) { webhookStatus(integrationId: $id) { skipped } }`, { id: integrationId });
    expect(after.webhookStatus.skipped).toBe(before.webhookStatus.skipped + 1);
  });

  it('applies a Salesforce edit to the lead, and pushes a platform edit to Salesforce once, without ping-pong', async () => {
    const id = sf.controls.createLeadAsUser({ Email: 'linus@example.com', FirstName: 'Linus', LastName: 'Torvalds', Company: 'Helsinki' });
    await settle(stack, sf);

    sf.controls.updateLeadAsUser(id, { FirstName: 'Linus B.', Company: 'Kernel' });
    await settle(stack, sf);
    let lead = await theLead(stack, 'linus@example.com');
    expect(lead.firstName).toBe('Linus B.');
    expect(lead.company).toBe('Kernel');
    expect(lead.crmMetadata.lastSyncDirection).toBe('FROM_CRM');
    const versionAfterCrmEdit = lead.crmMetadata.syncVersion;

    const writesBefore = writes(sf).length;
    const deliveriesBefore = sf.controls.outbound.deliveries.length;
    await stack.gqlOk(`mutation($i: UpdateLeadInput!) { updateLead(input: $i) { id } }`, { i: { id: lead.id, phone: '+46 70 000 00 00' } });
    await settle(stack, sf);
    expect(sf.controls.getLead(id)!.values.Phone).toBe('+46 70 000 00 00');
    expect(sf.controls.getLead(id)!.lastModifiedByClient).toBe('crm-sync');
    // Exactly one write went to Salesforce; the outbound message it caused came back and was dropped.
    expect(writes(sf).length - writesBefore).toBe(1);
    const echoes = sf.controls.outbound.deliveries.slice(deliveriesBefore).filter((d) => d.leadIds.includes(id));
    expect(echoes.length).toBeGreaterThan(0);
    expect(echoes.every((d) => d.acked)).toBe(true);
    lead = await theLead(stack, 'linus@example.com');
    expect(lead.phone).toBe('+46 70 000 00 00');
    expect(lead.crmMetadata.syncVersion).toBe(versionAfterCrmEdit + 1);
    expect(lead.crmMetadata.lastSyncDirection).toBe('TO_CRM');
    expect(await stack.db.prisma.inboxEvent.count({ where: { integrationId, externalId: id, outcome: 'skipped_echo' } })).toBeGreaterThan(0);

    // A person then clears the phone in Salesforce: a real change, applied.
    sf.controls.updateLeadAsUser(id, { Phone: null });
    await settle(stack, sf);
    lead = await theLead(stack, 'linus@example.com');
    expect(lead.phone).toBeNull();
    expect(lead.crmMetadata.syncVersion).toBe(versionAfterCrmEdit + 2);
  });

  it('pushes an edit of a lead created on the platform once, and drops its echo', async () => {
    const created = await stack.gqlOk(`mutation($i: CreateLeadInput!) { createLead(input: $i) { id } }`, { i: { email: 'bare@example.com' } });
    await settle(stack, sf);
    const [rec] = sfLeadsWithEmail(sf, 'bare@example.com');
    const id = String(rec.values.Id);
    // Salesforce filled in what it requires; none of it came back as a change of the lead.
    expect(rec.values.Status).toBe('Open - Not Contacted');
    let lead = await theLead(stack, 'bare@example.com');
    expect(lead).toMatchObject({ lastName: null, company: null, status: null });
    const version = lead.crmMetadata.syncVersion;

    const writesBefore = writes(sf).length;
    const deliveriesBefore = sf.controls.outbound.deliveries.length;
    await stack.gqlOk(`mutation($i: UpdateLeadInput!) { updateLead(input: $i) { id } }`, { i: { id: created.createLead.id, company: 'Bare Metal' } });
    await settle(stack, sf);
    expect(sf.controls.getLead(id)!.values.Company).toBe('Bare Metal');
    expect(writes(sf).length - writesBefore).toBe(1);
    const echo = sf.controls.outbound.deliveries.slice(deliveriesBefore).filter((d) => d.leadIds.includes(id));
    expect(echo.length).toBeGreaterThan(0);
    lead = await theLead(stack, 'bare@example.com');
    expect(lead).toMatchObject({ company: 'Bare Metal', lastName: null, status: null });
    expect(lead.crmMetadata.syncVersion).toBe(version + 1);
    expect(lead.crmMetadata.lastSyncDirection).toBe('TO_CRM');
    // Every notification of this Lead was recognised as ours (an update made in the second
    // of the creation still reads as a creation: Salesforce stamps whole seconds).
    const outcomes = (await stack.db.prisma.inboxEvent.findMany({ where: { integrationId, externalId: id } })).map((r) => r.outcome);
    expect(outcomes.length).toBe(sf.controls.outbound.deliveries.filter((d) => d.leadIds.includes(id)).length);
    expect(outcomes.every((o) => o === 'skipped_echo' || o === 'skipped_own_origin')).toBe(true);
  });

  it('applies a change Salesforce made to a Lead we created within the second of its creation', async () => {
    // One clock second for our create and the change after it: the outbound messages say
    // CreatedDate = LastModifiedDate, as for a Flow that edits a Lead when it is created.
    sf.controls.setClock(new Date());
    sf.controls.outbound.configure({ auto: false });
    try {
      await stack.gqlOk(`mutation($i: CreateLeadInput!) { createLead(input: $i) { id } }`, { i: { email: 'flowed@example.com', lastName: 'Flowed' } });
      await stack.engine.drain();
      const [rec] = sfLeadsWithEmail(sf, 'flowed@example.com');
      const id = String(rec.values.Id);
      sf.controls.updateLeadAsUser(id, { Company: 'Assigned Co', Phone: '+1 555 0142' });
      await settle(stack, sf);
      const sent = sf.controls.outbound.deliveries.filter((d) => d.leadIds.includes(id));
      expect(sent.length).toBeGreaterThan(0);
      const lead = await theLead(stack, 'flowed@example.com');
      expect(lead).toMatchObject({ company: 'Assigned Co', phone: '+1 555 0142', lastName: 'Flowed' });
      expect(lead.crmMetadata.lastSyncDirection).toBe('FROM_CRM');
    } finally {
      sf.controls.setClock(null);
      sf.controls.outbound.configure({ auto: true });
    }
  });

  it('keeps the lead when its Lead is deleted in Salesforce, and does not push it back', async () => {
    const id = sf.controls.createLeadAsUser({ Email: 'gone@example.com', FirstName: 'Gone', LastName: 'Away', Company: 'Acme' });
    await settle(stack, sf);
    const lead = await theLead(stack, 'gone@example.com');
    // Salesforce sends no outbound message for a deletion: the next push finds out.
    sf.controls.deleteLead(id);
    await stack.gqlOk(`mutation($i: UpdateLeadInput!) { updateLead(input: $i) { id } }`, { i: { id: lead.id, company: 'Still here' } });
    await settle(stack, sf);
    expect(sfLeadsWithEmail(sf, 'gone@example.com')).toHaveLength(0);
    const row = await stack.db.prisma.lead.findFirstOrThrow({ where: { organizationId: stack.orgId, email: 'gone@example.com' }, include: { links: true } });
    expect(row.company).toBe('Still here');
    expect(row.crmDeletedAt).not.toBeNull();
    const items = await stack.db.prisma.outboxItem.findMany({ where: { leadId: row.id } });
    expect(items.every((i) => i.status === 'done')).toBe(true);
    // Later edits are not pushed to the deleted Lead, nor do they create a new one.
    const writesBefore = writes(sf).length;
    await stack.gqlOk(`mutation($i: UpdateLeadInput!) { updateLead(input: $i) { id } }`, { i: { id: lead.id, phone: '+1 555 0177' } });
    await settle(stack, sf);
    expect(writes(sf).length).toBe(writesBefore);
    expect(sfLeadsWithEmail(sf, 'gone@example.com')).toHaveLength(0);
  });

  it('makes one lead of one notification delivered many times, concurrently and again later', async () => {
    // The Lead is created while the outbound message is off, so the only deliveries are these.
    const target = sf.controls.outbound.config.targetUrl;
    sf.controls.outbound.configure({ targetUrl: null });
    const id = sf.controls.createLeadAsUser({ Email: 'once@example.com', LastName: 'Once', Company: 'Acme' });
    sf.controls.outbound.configure({ targetUrl: target });
    const { body, notificationIds } = sf.controls.outbound.envelopeFor([id]);

    const concurrent = await Promise.all(Array.from({ length: 8 }, () => postOutbound(stack, conn, body)));
    for (const res of concurrent) {
      expect(res.status).toBe(200);
      expect(isAck(res.status, await res.text())).toBe(true);
    }
    await stack.engine.drain();
    for (let i = 0; i < 3; i++) {
      const res = await postOutbound(stack, conn, body);
      expect(isAck(res.status, await res.text())).toBe(true);
    }
    await settle(stack, sf);
    expect((await leadsByEmail(stack, 'once@example.com')).totalCount).toBe(1);
    const rows = await stack.db.prisma.inboxEvent.findMany({ where: { integrationId, externalId: id } });
    expect(rows.map((r) => r.dedupeKey)).toEqual(notificationIds);
    expect(rows[0].outcome).toBe('created');
  });

  it('makes one lead each of outbound messages Salesforce sends twice', async () => {
    sf.controls.outbound.duplicateNext(3);
    const ids = [0, 1, 2].map((i) => sf.controls.createLeadAsUser({ Email: `twice${i}@example.com`, LastName: `T${i}`, Company: 'Acme' }));
    await settle(stack, sf);
    const copies = sf.controls.outbound.deliveries.filter((d) => d.duplicate && d.leadIds.some((x) => ids.includes(x)));
    expect(copies.length).toBeGreaterThan(0);
    expect(copies.every((d) => d.acked)).toBe(true);
    for (let i = 0; i < 3; i++) expect((await leadsByEmail(stack, `twice${i}@example.com`)).totalCount).toBe(1);
  });

  it('rejects an outbound message from another organization with a SOAP fault (HTTP 500, as SOAP 1.1 requires), acknowledging nothing and storing nothing', async () => {
    const id = sf.controls.createLeadAsUser({ Email: 'intruder@example.com', LastName: 'Intruder', Company: 'Evil' });
    await settle(stack, sf);
    const before = await stack.db.prisma.inboxEvent.count();
    const received = (await stack.db.prisma.integration.findUniqueOrThrow({ where: { id: integrationId } })).totalReceived;
    const { body } = sf.controls.outbound.envelopeFor([id], { organizationId: '00D5g000009Forg' });
    const res = await postOutbound(stack, conn, body);
    const text = await res.text();
    expect(res.status).toBe(500);
    expect(isAck(res.status, text)).toBe(false);
    // Refused in Salesforce's own protocol: a SOAP fault naming the stable code.
    expect(res.headers.get('content-type')).toMatch(/text\/xml/);
    expect(text).toMatch(/<soapenv:Fault><faultcode>soapenv:Client<\/faultcode><faultstring>UNAUTHENTICATED: /);
    expect(await stack.db.prisma.inboxEvent.count()).toBe(before);
    expect((await stack.db.prisma.integration.findUniqueOrThrow({ where: { id: integrationId } })).totalReceived).toBe(received);
  });

  it('answers malformed XML and a SOAP body that is not an outbound message with a SOAP fault (HTTP 500), storing nothing', async () => {
    const before = await stack.db.prisma.inboxEvent.count();
    const broken = await postOutbound(stack, conn, '<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><notifications');
    expect(broken.status).toBe(500);
    const brokenText = await broken.text();
    expect(isAck(broken.status, brokenText)).toBe(false);
    expect(brokenText).toMatch(/<soapenv:Fault><faultcode>soapenv:Client<\/faultcode><faultstring>BAD_REQUEST: /);
    const notOutbound = await postOutbound(
      stack,
      conn,
      '<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><hello/></soapenv:Body></soapenv:Envelope>',
    );
    expect(notOutbound.status).toBe(500);
    const dtd = await postOutbound(stack, conn, '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>');
    expect(dtd.status).toBe(500);
    expect(await stack.db.prisma.inboxEvent.count()).toBe(before);
  });

  it('heals changes made while no outbound message was configured with the reconciling poll', async () => {
    const target = sf.controls.outbound.config.targetUrl;
    sf.controls.outbound.configure({ targetUrl: null });
    const deliveries = sf.controls.outbound.deliveries.length;
    const grace = (await theLead(stack, 'grace@navy.mil')).crmLinks[0].externalId as string;
    const polled = sf.controls.createLeadAsUser({ Email: 'polled@example.com', FirstName: 'Polly', LastName: 'Poll', Company: 'Quiet Ltd' });
    sf.controls.updateLeadAsUser(grace, { Company: 'Yale' });
    await settle(stack, sf);
    expect(sf.controls.outbound.deliveries.length).toBe(deliveries);
    expect((await leadsByEmail(stack, 'polled@example.com')).totalCount).toBe(0);
    expect((await theLead(stack, 'grace@navy.mil')).company).toBe('US Navy');

    expect(await stack.engine.pollNow()).toBeGreaterThan(0);
    await settle(stack, sf);
    const lead = await theLead(stack, 'polled@example.com');
    expect(lead).toMatchObject({ firstName: 'Polly', company: 'Quiet Ltd' });
    expect(lead.crmMetadata).toMatchObject({ sourceSystem: 'salesforce', lastSyncDirection: 'FROM_CRM', crmProvider: 'SALESFORCE' });
    expect(lead.crmLinks).toEqual([{ externalId: polled, provider: 'SALESFORCE' }]);
    expect((await theLead(stack, 'grace@navy.mil')).company).toBe('Yale');
    // Polling again finds nothing new to change.
    const leads = await stack.db.prisma.lead.findMany({ where: { organizationId: stack.orgId }, orderBy: { id: 'asc' } });
    await stack.engine.pollNow();
    await settle(stack, sf);
    const again = await stack.db.prisma.lead.findMany({ where: { organizationId: stack.orgId }, orderBy: { id: 'asc' } });
    expect(again.map((l) => [l.id, l.syncVersion])).toEqual(leads.map((l) => [l.id, l.syncVersion]));
    sf.controls.outbound.configure({ targetUrl: target });
  });
});

describe('Salesforce session refresh', () => {
  let stack: Stack;
  let sf: SalesforceSandbox;
  let integrationId: string;
  /** The instance the org was on when it was connected; the refresh names the one it is on now. */
  let oldInstance: Awaited<ReturnType<typeof startProxy>>;

  beforeAll(async () => {
    stack = await startStack({ RETRY_BASE_MS: '50' });
    sf = await startSalesforceFor(stack, { rotateRefreshTokens: true });
    oldInstance = await startProxy(sf.url);
    ({ integrationId } = await connectSalesforce(stack, sf, { apiBaseUrl: oldInstance.url }));
  });
  afterAll(async () => {
    await oldInstance?.close();
    await sf?.close();
    await stack?.stop();
  });

  const storedCredentials = async () =>
    stack.keyringCredentials(await stack.db.prisma.integration.findUniqueOrThrow({ where: { id: integrationId } }));

  it('refreshes an expired access token during a push, pushes once, and stores the new tokens and instance', async () => {
    const old = await storedCredentials();
    sf.controls.expireAccessTokens();
    await stack.gqlOk(`mutation($i: CreateLeadInput!) { createLead(input: $i) { id } }`, { i: { email: 'fresh@example.com', lastName: 'Fresh' } });
    await settle(stack, sf);
    expect(sfLeadsWithEmail(sf, 'fresh@example.com')).toHaveLength(1);
    expect(sf.controls.tokenRefreshes()).toBe(1);
    const stored = await storedCredentials();
    expect(stored.accessToken).toBe(sf.controls.credentials().accessToken);
    expect(stored.accessToken).not.toBe(old.accessToken);
    // The refresh token rotated: the stored one is the new one.
    expect(stored.refreshToken).toBe(sf.controls.credentials().refreshToken);
    expect(stored.refreshToken).not.toBe(old.refreshToken);
    const item = await stack.db.prisma.outboxItem.findFirstOrThrow({ where: { lead: { email: 'fresh@example.com' } } });
    expect(item.status).toBe('done');
    // The token answer named the org's instance URL: the integration follows it.
    const { integrations } = await stack.gqlOk(`{ integrations { id apiBaseUrl } }`);
    expect(integrations).toEqual([{ id: expect.any(String), apiBaseUrl: sf.url }]);
  });

  it('keeps working after a restart with the stored tokens, on the instance the org moved to', async () => {
    await oldInstance.close();
    // A fresh connection is built from the database row alone.
    stack.engine.connections.forget(integrationId);
    sf.controls.expireAccessTokens();
    await stack.gqlOk(`mutation($i: CreateLeadInput!) { createLead(input: $i) { id } }`, { i: { email: 'again@example.com', lastName: 'Again' } });
    await settle(stack, sf);
    expect(sfLeadsWithEmail(sf, 'again@example.com')).toHaveLength(1);
    expect(sf.controls.tokenRefreshes()).toBe(2);
    expect((await storedCredentials()).refreshToken).toBe(sf.controls.credentials().refreshToken);
    const item = await stack.db.prisma.outboxItem.findFirstOrThrow({ where: { lead: { email: 'again@example.com' } } });
    expect(item).toMatchObject({ status: 'done', attempts: 1 });
  });
});

describe('Salesforce connected with the organization id as Setup shows it', () => {
  let stack: Stack;
  let sf: SalesforceSandbox;
  let conn: Connected;

  beforeAll(async () => {
    stack = await startStack();
    sf = await startSalesforceFor(stack);
    // Setup > Company Information shows the 15-character id; outbound messages carry the 18-character one.
    conn = await connectSalesforce(stack, sf, { accountId: sf.controls.organizationId.slice(0, 15) });
  });
  afterAll(async () => {
    await sf?.close();
    await stack?.stop();
  });

  it('accepts the outbound messages of that organization and syncs its Leads', async () => {
    const id = sf.controls.createLeadAsUser({ Email: 'setup@example.com', LastName: 'Setup', Company: 'Acme' });
    await settle(stack, sf);
    const sent = sf.controls.outbound.deliveries.filter((d) => d.leadIds.includes(id));
    expect(sent.length).toBeGreaterThan(0);
    expect(sent.every((d) => d.status === 200 && d.acked)).toBe(true);
    const lead = await theLead(stack, 'setup@example.com');
    expect(lead.crmLinks).toEqual([{ externalId: id, provider: 'SALESFORCE' }]);
  });

  it('refuses to connect the same organization again under its other id', async () => {
    const c = sf.controls.credentials();
    const r = await stack.gql(`mutation($input: CreateIntegrationInput!) { createIntegration(input: $input) { id } }`, {
      input: { provider: 'SALESFORCE', name: 'again', accountId: sf.controls.organizationId, apiBaseUrl: sf.url, accessToken: c.accessToken },
    });
    expect(r.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    expect(await stack.db.prisma.integration.count()).toBe(1);
    expect(conn.integrationId).toBeTruthy();
  });
});

describe('import from Salesforce', () => {
  let stack: Stack;
  let sf: SalesforceSandbox;
  let integrationId: string;

  beforeAll(async () => {
    stack = await startStack();
    sf = await startSalesforceFor(stack, { outbound: { targetUrl: null } });
    ({ integrationId } = await connectSalesforce(stack, sf, { autoSync: false }));
  });
  afterAll(async () => {
    await sf?.close();
    await stack?.stop();
  });

  it('creates or links a lead for every Lead, and creates nothing the second time', () =>
    importTwiceScenario(stack, integrationId, {
      provider: 'SALESFORCE',
      createPerson: (p) =>
        sf.controls.createLeadAsUser({
          ...(p.email ? { Email: p.email } : {}),
          ...(p.firstName ? { FirstName: p.firstName } : {}),
          LastName: 'Imported',
          Company: p.company ?? 'Acme',
          ...(p.originTag ? { Lead_Source_System__c: p.originTag } : {}),
        }),
      writes: () => writes(sf).length,
    }));
});
