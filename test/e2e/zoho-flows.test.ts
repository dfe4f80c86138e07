// The HubSpot reference flows, end to end for Zoho CRM: the real service (HTTP,
// GraphQL, engine, PGlite) and the Zoho adapter's fetch client talking to the Zoho
// sandbox (API and accounts host), whose channel notifications come back over HTTP.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ZohoSandbox } from '../../sandboxes/zoho/index.ts';
import { importTwiceScenario } from '../helpers/import-scenario.ts';
import { eventually, startProxy } from '../helpers/net.ts';
import { connectZoho, startStack, startZohoFor, type Connected, type Stack, zohoMoves, settle as settleAll } from '../helpers/stack.ts';

const LEAD_FIELDS = 'id email firstName lastName phone company status crmMetadata { sourceSystem lastSyncDirection lastSyncedAt syncVersion crmProvider } crmLinks { externalId provider }';
const WRITE_METHODS = new Set(['POST', 'PATCH', 'PUT', 'DELETE']);
const DAY = 24 * 3600_000;

/** Lets channel notifications and both queues run until nothing moves any more. */
const settle = (stack: Stack, zs: ZohoSandbox) => settleAll(stack, zohoMoves(zs));

async function leadsByEmail(stack: Stack, email: string) {
  const d = await stack.gqlOk(`query($e: String) { leads(email: $e, first: 10) { totalCount edges { node { ${LEAD_FIELDS} } } } }`, { e: email });
  return d.leads as { totalCount: number; edges: { node: any }[] };
}

async function theLead(stack: Stack, email: string) {
  const r = await leadsByEmail(stack, email);
  expect(r.totalCount).toBe(1);
  return r.edges[0].node;
}

const zohoLeadsWithEmail = (zs: ZohoSandbox, email: string) =>
  zs.controls.listLeads().filter((l) => String(l.Email ?? '').toLowerCase() === email.toLowerCase());

/** Record writes through the API (not settings, not the channel, not the token endpoint). */
const leadWrites = (zs: ZohoSandbox) => zs.controls.requests.filter((r) => WRITE_METHODS.has(r.method) && r.path.includes('/Leads'));

const webhookUrl = (stack: Stack) => `${stack.url}/api/v1/webhooks/zoho`;

function postNotification(stack: Stack, rawBody: string) {
  return fetch(webhookUrl(stack), { method: 'POST', headers: { 'content-type': 'application/json' }, body: rawBody });
}

async function integrationRow(stack: Stack, id: string) {
  return stack.db.prisma.integration.findUniqueOrThrow({ where: { id } });
}

describe('Zoho two-way sync', () => {
  let stack: Stack;
  let zs: ZohoSandbox;
  let conn: Connected;
  let integrationId: string;
  /** The origin picklist's API name, as Zoho assigned it and provision read it back. */
  let originField: string;
  let channelId: string;

  beforeAll(async () => {
    stack = await startStack({ RETRY_BASE_MS: '50' });
    // Zoho names new custom fields itself; the service must use whatever name it got.
    zs = await startZohoFor(stack, { customFieldApiName: (label) => `${label.replace(/\s+/g, '_')}_1` });
    conn = await connectZoho(stack, zs);
    integrationId = conn.integrationId;
    const settings = (await integrationRow(stack, integrationId)).settings as Record<string, string>;
    originField = settings.originField;
    channelId = settings.channelId;
  });
  afterAll(async () => {
    await zs?.close();
    await stack?.stop();
  });

  it('enableWebhooks creates the origin picklist and registers a channel aimed at the service, with its expiry', async () => {
    expect(originField).toBe('Lead_Source_System_1');
    const field = zs.controls.fields().find((f) => f.api_name === originField)!;
    expect(field.data_type).toBe('picklist');
    expect(field.pick_list_values).toEqual(expect.arrayContaining(['jazzaam', 'zoho', 'manual']));
    expect(conn.enabled.provision).toMatchObject({ originFieldReady: true, originFieldCreated: true, subscriptionId: channelId });

    const [channel] = zs.controls.channels();
    expect(channel).toMatchObject({ channel_id: channelId, notify_url: `${stack.config.PUBLIC_BASE_URL}/api/v1/webhooks/zoho`, live: true });
    expect(channel.events).toEqual(expect.arrayContaining(['Leads.create', 'Leads.edit', 'Leads.delete']));
    const status = await stack.gqlOk(`query($id: ID!) { webhookStatus(integrationId: $id) { enabled expiresAt subscriptionId } }`, { id: integrationId });
    expect(status.webhookStatus.enabled).toBe(true);
    expect(status.webhookStatus.subscriptionId).toBe(channelId);
    expect(new Date(status.webhookStatus.expiresAt).getTime()).toBe(channel.expiresAt.getTime());
    // Zoho channels live at most a week: the service asked for nearly all of it.
    expect(channel.expiresAt.getTime() - Date.now()).toBeGreaterThan(6 * DAY);
  });

  it('pushes a platform lead to Zoho with our tag, and skips the notification of that creation', async () => {
    const created = await stack.gqlOk(`mutation($i: CreateLeadInput!) { createLead(input: $i) { ${LEAD_FIELDS} } }`, {
      i: { email: 'Ada@Example.com', firstName: 'Ada', lastName: 'Lovelace', company: 'Engines Ltd' },
    });
    expect(created.createLead.crmMetadata.sourceSystem).toBe('jazzaam');
    await settle(stack, zs);

    const records = zohoLeadsWithEmail(zs, 'ada@example.com');
    expect(records).toHaveLength(1);
    const rec = records[0];
    expect(rec[originField]).toBe('jazzaam');
    expect(rec.First_Name).toBe('Ada');
    expect(rec.Last_Name).toBe('Lovelace');
    const id = String(rec.id);
    // Zoho notified the service of that insert, and the service accepted it.
    const inserts = zs.controls.deliveries.filter((d) => d.body.operation === 'insert' && (d.body.ids as string[]).includes(id));
    expect(inserts.length).toBeGreaterThan(0);
    expect(inserts.every((d) => d.status === 200)).toBe(true);

    const lead = await theLead(stack, 'ada@example.com');
    expect(lead.crmLinks).toEqual([{ externalId: id, provider: 'ZOHO' }]);
    expect(lead.crmMetadata).toMatchObject({ lastSyncDirection: 'TO_CRM', crmProvider: 'ZOHO' });
    expect(stack.logs().some((l) => String(l.msg).includes(`skipping lead ${id}, originated from our platform`))).toBe(true);
    expect(await stack.db.prisma.inboxEvent.count({ where: { integrationId, externalId: id, outcome: 'skipped_own_origin' } })).toBeGreaterThan(0);
    const status = await stack.gqlOk(`query($id: ID!) { webhookStatus(integrationId: $id) { created skipped failed } }`, { id: integrationId });
    expect(status.webhookStatus).toMatchObject({ created: 0, failed: 0 });
    expect(status.webhookStatus.skipped).toBeGreaterThan(0);
  });

  it('creates a lead for a Zoho lead a person creates, and writes nothing back', async () => {
    const writesBefore = leadWrites(zs).length;
    const id = zs.controls.createLeadAsUser({ Email: 'Grace@Navy.MIL', First_Name: 'Grace', Last_Name: 'Hopper', Company: 'US Navy', Phone: '+1 555 0100', Lead_Status: 'Contacted' });
    await settle(stack, zs);
    const lead = await theLead(stack, 'grace@navy.mil');
    expect(lead).toMatchObject({ firstName: 'Grace', lastName: 'Hopper', company: 'US Navy', phone: '+1 555 0100', status: 'Contacted' });
    expect(lead.crmMetadata).toMatchObject({ sourceSystem: 'zoho', lastSyncDirection: 'FROM_CRM', crmProvider: 'ZOHO', syncVersion: 1 });
    expect(lead.crmLinks).toEqual([{ externalId: id, provider: 'ZOHO' }]);
    expect(leadWrites(zs).length).toBe(writesBefore);
    expect(zohoLeadsWithEmail(zs, 'grace@navy.mil')).toHaveLength(1);
    expect(zs.controls.getLead(id)![originField] ?? null).toBeNull();
  });

  it('skips a Zoho lead without an email and counts it', async () => {
    const before = await stack.gqlOk(`query($id: ID!) { webhookStatus(integrationId: $id) { skipped } }`, { id: integrationId });
    const leadsBefore = await stack.db.prisma.lead.count({ where: { organizationId: stack.orgId } });
    const id = zs.controls.createLeadAsUser({ First_Name: 'Nameless', Last_Name: 'Person' });
    await settle(stack, zs);
    expect(await stack.db.prisma.lead.count({ where: { organizationId: stack.orgId } })).toBe(leadsBefore);
    expect(await stack.db.prisma.inboxEvent.count({ where: { integrationId, externalId: id, outcome: 'skipped_no_email' } })).toBe(1);
    expect(stack.logs().some((l) => l.level === 40 && String(l.msg).includes(`skipping lead ${id}: no email`))).toBe(true);
    const after = await stack.gqlOk(`query($id: ID!) { webhookStatus(integrationId: $id) { skipped } }`, { id: integrationId });
    expect(after.webhookStatus.skipped).toBe(before.webhookStatus.skipped + 1);
  });

  it('applies a Zoho edit to the lead, and pushes a platform edit to Zoho once, without ping-pong', async () => {
    const id = zs.controls.createLeadAsUser({ Email: 'linus@example.com', First_Name: 'Linus', Last_Name: 'Torvalds' });
    await settle(stack, zs);

    zs.controls.updateLeadAsUser(id, { First_Name: 'Linus B.', Company: 'Kernel' });
    await settle(stack, zs);
    let lead = await theLead(stack, 'linus@example.com');
    expect(lead.firstName).toBe('Linus B.');
    expect(lead.company).toBe('Kernel');
    expect(lead.crmMetadata.lastSyncDirection).toBe('FROM_CRM');
    const versionAfterCrmEdit = lead.crmMetadata.syncVersion;

    const writesBefore = leadWrites(zs).length;
    const deliveriesBefore = zs.controls.deliveries.length;
    await stack.gqlOk(`mutation($i: UpdateLeadInput!) { updateLead(input: $i) { id } }`, { i: { id: lead.id, phone: '+46 70 000 00 00' } });
    await settle(stack, zs);
    expect(zs.controls.getLead(id)!.Phone).toBe('+46 70 000 00 00');
    // Exactly one write went to Zoho; the notification it caused came back and was dropped.
    expect(leadWrites(zs).length - writesBefore).toBe(1);
    const echoes = zs.controls.deliveries.slice(deliveriesBefore).filter((d) => d.body.operation === 'update' && (d.body.ids as string[]).includes(id));
    expect(echoes.length).toBeGreaterThan(0);
    expect(echoes.every((d) => d.status === 200)).toBe(true);
    lead = await theLead(stack, 'linus@example.com');
    expect(lead.phone).toBe('+46 70 000 00 00');
    expect(lead.crmMetadata.syncVersion).toBe(versionAfterCrmEdit + 1);
    expect(lead.crmMetadata.lastSyncDirection).toBe('TO_CRM');
    expect(await stack.db.prisma.inboxEvent.count({ where: { integrationId, externalId: id, outcome: 'skipped_echo' } })).toBeGreaterThan(0);

    // A person then clears the phone in Zoho: a real change, applied.
    zs.controls.updateLeadAsUser(id, { Phone: null });
    await settle(stack, zs);
    lead = await theLead(stack, 'linus@example.com');
    expect(lead.phone).toBeNull();
    expect(lead.crmMetadata.syncVersion).toBe(versionAfterCrmEdit + 2);
  });

  it('pushes an edit of a lead created on the platform once, and drops its echo', async () => {
    const created = await stack.gqlOk(`mutation($i: CreateLeadInput!) { createLead(input: $i) { id } }`, { i: { email: 'bare@example.com' } });
    await settle(stack, zs);
    const [rec] = zohoLeadsWithEmail(zs, 'bare@example.com');
    const id = String(rec.id);
    let lead = await theLead(stack, 'bare@example.com');
    const version = lead.crmMetadata.syncVersion;

    const writesBefore = leadWrites(zs).length;
    await stack.gqlOk(`mutation($i: UpdateLeadInput!) { updateLead(input: $i) { id } }`, { i: { id: created.createLead.id, company: 'Bare Metal' } });
    await settle(stack, zs);
    expect(zs.controls.getLead(id)!.Company).toBe('Bare Metal');
    expect(leadWrites(zs).length - writesBefore).toBe(1);
    lead = await theLead(stack, 'bare@example.com');
    expect(lead.company).toBe('Bare Metal');
    expect(lead.crmMetadata.syncVersion).toBe(version + 1);
    expect(lead.crmMetadata.lastSyncDirection).toBe('TO_CRM');
    expect(await stack.db.prisma.inboxEvent.count({ where: { integrationId, externalId: id, outcome: 'skipped_echo' } })).toBeGreaterThan(0);
  });

  it('keeps the lead when its Zoho lead is deleted, and does not push it back', async () => {
    const id = zs.controls.createLeadAsUser({ Email: 'gone@example.com', First_Name: 'Gone', Last_Name: 'Away' });
    await settle(stack, zs);
    const lead = await theLead(stack, 'gone@example.com');
    zs.controls.deleteLead(id);
    await settle(stack, zs);
    const row = await stack.db.prisma.lead.findFirstOrThrow({ where: { organizationId: stack.orgId, email: 'gone@example.com' } });
    expect(row.crmDeletedAt).not.toBeNull();
    expect(await stack.db.prisma.inboxEvent.count({ where: { integrationId, externalId: id, outcome: 'deleted' } })).toBe(1);
    const writesBefore = leadWrites(zs).length;
    await stack.gqlOk(`mutation($i: UpdateLeadInput!) { updateLead(input: $i) { id } }`, { i: { id: lead.id, company: 'Still here' } });
    await settle(stack, zs);
    expect(leadWrites(zs).length).toBe(writesBefore);
    expect(zohoLeadsWithEmail(zs, 'gone@example.com')).toHaveLength(0);
    expect((await theLead(stack, 'gone@example.com')).company).toBe('Still here');
  });

  it('makes one lead of one notification delivered many times, concurrently and again later', async () => {
    zs.controls.holdNotifications();
    const id = zs.controls.createLeadAsUser({ Email: 'once@example.com', Last_Name: 'Once' });
    const { rawBody } = zs.controls.renderNotification(channelId, 'insert', [id]);
    const concurrent = await Promise.all(Array.from({ length: 8 }, () => postNotification(stack, rawBody)));
    expect(concurrent.map((r) => r.status)).toEqual(Array(8).fill(200));
    await stack.engine.drain();
    for (let i = 0; i < 3; i++) expect((await postNotification(stack, rawBody)).status).toBe(200);
    // Zoho's own notification of the insert arrives too, twice.
    zs.controls.duplicateNextNotifications(1);
    zs.controls.releaseNotifications();
    await settle(stack, zs);
    expect((await leadsByEmail(stack, 'once@example.com')).totalCount).toBe(1);
    const rows = await stack.db.prisma.inboxEvent.findMany({ where: { integrationId, externalId: id } });
    expect(new Set(rows.map((r) => r.dedupeKey)).size).toBe(rows.length);
    expect(rows.filter((r) => r.outcome === 'created')).toHaveLength(1);
  });

  it('makes one lead each of notifications Zoho sends twice', async () => {
    zs.controls.duplicateNextNotifications(3);
    const ids = [0, 1, 2].map((i) => zs.controls.createLeadAsUser({ Email: `twice${i}@example.com`, Last_Name: `T${i}` }));
    await settle(stack, zs);
    const copies = zs.controls.deliveries.filter((d) => d.attempt === 2 && (d.body.ids as string[]).some((x) => ids.includes(x)));
    expect(copies).toHaveLength(3);
    expect(copies.every((d) => d.status === 200)).toBe(true);
    for (let i = 0; i < 3; i++) expect((await leadsByEmail(stack, `twice${i}@example.com`)).totalCount).toBe(1);
  });

  it('rejects a notification with the wrong token or an unknown channel with 401 and stores nothing', async () => {
    zs.controls.holdNotifications();
    const id = zs.controls.createLeadAsUser({ Email: 'forged@example.com', Last_Name: 'Forged' });
    const genuine = zs.controls.renderNotification(channelId, 'insert', [id]);
    const body = JSON.parse(genuine.rawBody) as Record<string, unknown>;
    const before = await stack.db.prisma.inboxEvent.count();
    const received = (await integrationRow(stack, integrationId)).totalReceived;

    const wrongToken = await postNotification(stack, JSON.stringify({ ...body, token: 'not-the-channel-token' }));
    expect(wrongToken.status).toBe(401);
    const noToken = await postNotification(stack, JSON.stringify({ ...body, token: null }));
    expect(noToken.status).toBe(401);
    const otherChannel = await postNotification(stack, JSON.stringify({ ...body, channel_id: '4242424242424242' }));
    expect(otherChannel.status).toBe(401);
    const malformed = await postNotification(stack, '{"channel_id": 1, "ids": [');
    expect(malformed.status).toBe(400);
    expect(await stack.db.prisma.inboxEvent.count()).toBe(before);
    expect((await integrationRow(stack, integrationId)).totalReceived).toBe(received);
    expect((await leadsByEmail(stack, 'forged@example.com')).totalCount).toBe(0);

    // The genuine notification is accepted.
    zs.controls.releaseNotifications();
    await settle(stack, zs);
    expect((await leadsByEmail(stack, 'forged@example.com')).totalCount).toBe(1);
  });

  it('refreshes an expired access token at the accounts host and stores the new one', async () => {
    const old = stack.keyringCredentials(await integrationRow(stack, integrationId));
    const tokenCalls = zs.controls.tokenCalls;
    zs.controls.expireAccessTokens();
    await stack.gqlOk(`mutation($i: CreateLeadInput!) { createLead(input: $i) { id } }`, { i: { email: 'fresh@example.com', lastName: 'Fresh' } });
    await settle(stack, zs);
    expect(zohoLeadsWithEmail(zs, 'fresh@example.com')).toHaveLength(1);
    expect(zs.controls.tokenCalls).toBe(tokenCalls + 1);
    const stored = stack.keyringCredentials(await integrationRow(stack, integrationId));
    expect(stored.accessToken).not.toBe(old.accessToken);
    expect(stored.refreshToken).toBe(zs.controls.refreshToken);
    expect(Date.parse(stored.expiresAt)).toBeGreaterThan(Date.now());
  });
});

describe('Zoho token refresh naming another api domain', () => {
  let stack: Stack;
  let zs: ZohoSandbox;
  let integrationId: string;
  /** The api domain the integration was created with; the refresh names the one to use now. */
  let oldDomain: Awaited<ReturnType<typeof startProxy>>;

  beforeAll(async () => {
    stack = await startStack({ RETRY_BASE_MS: '50' });
    zs = await startZohoFor(stack);
    oldDomain = await startProxy(zs.url);
    ({ integrationId } = await connectZoho(stack, zs, { apiBaseUrl: oldDomain.url }));
  });
  afterAll(async () => {
    await oldDomain?.close();
    await zs?.close();
    await stack?.stop();
  });

  it('follows the api domain of the token answer, also after a restart', async () => {
    zs.controls.expireAccessTokens();
    await stack.gqlOk(`mutation($i: CreateLeadInput!) { createLead(input: $i) { id } }`, { i: { email: 'moved@example.com', lastName: 'Moved' } });
    await settle(stack, zs);
    expect(zohoLeadsWithEmail(zs, 'moved@example.com')).toHaveLength(1);
    const { integrations } = await stack.gqlOk(`{ integrations { id apiBaseUrl } }`);
    expect(integrations).toEqual([{ id: integrationId, apiBaseUrl: zs.url }]);

    await oldDomain.close();
    stack.engine.connections.forget(integrationId);
    await stack.gqlOk(`mutation($i: CreateLeadInput!) { createLead(input: $i) { id } }`, { i: { email: 'after.move@example.com', lastName: 'After' } });
    await settle(stack, zs);
    expect(zohoLeadsWithEmail(zs, 'after.move@example.com')).toHaveLength(1);
    const item = await stack.db.prisma.outboxItem.findFirstOrThrow({ where: { lead: { email: 'after.move@example.com' } } });
    expect(item).toMatchObject({ status: 'done', attempts: 1 });
  });
});

describe('Zoho channel renewal', () => {
  let stack: Stack;
  let zs: ZohoSandbox;
  let integrationId: string;

  beforeAll(async () => {
    stack = await startStack();
    zs = await startZohoFor(stack);
    ({ integrationId } = await connectZoho(stack, zs));
  });
  afterEach(() => {
    vi.useRealTimers();
  });
  afterAll(async () => {
    vi.useRealTimers();
    await zs?.close();
    await stack?.stop();
  });

  const expiresAt = async () => {
    const s = await stack.gqlOk(`query($id: ID!) { webhookStatus(integrationId: $id) { expiresAt } }`, { id: integrationId });
    return new Date(s.webhookStatus.expiresAt).getTime();
  };

  it('leaves a channel with days to live alone', async () => {
    const before = await expiresAt();
    expect(await stack.engine.renewWebhooksNow()).toBe(0);
    expect(await expiresAt()).toBe(before);
  });

  it('extends a channel close to expiry, so notifications keep arriving', async () => {
    const first = await expiresAt();
    // Six and a half days later (for the service and for Zoho alike): less than a day to live.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 6.5 * DAY });
    expect(first - Date.now()).toBeLessThan(DAY);
    expect(zs.controls.channels()[0].live).toBe(true);
    expect(await stack.engine.renewWebhooksNow()).toBe(1);
    const renewed = await expiresAt();
    expect(renewed - first).toBeGreaterThan(6 * DAY);
    const [channel] = zs.controls.channels();
    expect(channel.expiresAt.getTime()).toBe(renewed);
    expect(channel.channel_id).toBe(((await integrationRow(stack, integrationId)).settings as Record<string, string>).channelId);
    // Past the old expiry, the renewed channel still delivers.
    vi.setSystemTime(first + 3600_000);
    expect(zs.controls.channels()[0].live).toBe(true);
    vi.useRealTimers();
    const id = zs.controls.createLeadAsUser({ Email: 'after.renewal@example.com', Last_Name: 'Renewed' });
    await settle(stack, zs);
    const lead = await theLead(stack, 'after.renewal@example.com');
    expect(lead.crmLinks).toEqual([{ externalId: id, provider: 'ZOHO' }]);
  });
});

describe('import from Zoho', () => {
  let stack: Stack;
  let zs: ZohoSandbox;
  let integrationId: string;
  let originField: string;

  beforeAll(async () => {
    stack = await startStack();
    zs = await startZohoFor(stack);
    ({ integrationId } = await connectZoho(stack, zs, { autoSync: false }));
    originField = ((await integrationRow(stack, integrationId)).settings as Record<string, string>).originField;
    // Nobody listens to this channel during the import: it is about the import alone.
    await stack.gqlOk(`mutation($id: ID!) { disableWebhooks(integrationId: $id) { enabled } }`, { id: integrationId });
  });
  afterAll(async () => {
    await zs?.close();
    await stack?.stop();
  });

  it('creates or links a lead for every Zoho lead, and creates nothing the second time', () =>
    importTwiceScenario(stack, integrationId, {
      provider: 'ZOHO',
      createPerson: (p) =>
        zs.controls.createLeadAsUser({
          ...(p.email ? { Email: p.email } : {}),
          ...(p.firstName ? { First_Name: p.firstName } : {}),
          Last_Name: 'Imported',
          ...(p.company ? { Company: p.company } : {}),
          ...(p.originTag ? { [originField]: p.originTag } : {}),
        }),
      writes: () => leadWrites(zs).length,
    }));
});

describe('tenant isolation of Zoho channels', () => {
  let stack: Stack;
  let zsA: ZohoSandbox;
  let zsB: ZohoSandbox;
  let orgB: { orgId: string; apiKey: string };
  let channelA: string;

  beforeAll(async () => {
    stack = await startStack();
    zsA = await startZohoFor(stack, { orgId: '70000000001' });
    zsB = await startZohoFor(stack, { orgId: '70000000002' });
    orgB = await stack.newOrg('Globex');
    const a = await connectZoho(stack, zsA, { accountId: '70000000001' });
    await connectZoho(stack, zsB, { key: orgB.apiKey, accountId: '70000000002' });
    channelA = (await integrationRow(stack, a.integrationId)).channelId!;
  });
  afterAll(async () => {
    await zsA?.close();
    await zsB?.close();
    await stack?.stop();
  });

  it("routes each channel's notifications to its own organization only", async () => {
    zsA.controls.createLeadAsUser({ Email: 'same@example.com', First_Name: 'A', Last_Name: 'Alpha' });
    zsB.controls.createLeadAsUser({ Email: 'same@example.com', First_Name: 'B', Last_Name: 'Beta' });
    for (const zs of [zsA, zsB]) await settle(stack, zs);
    const a = await stack.db.prisma.lead.findMany({ where: { organizationId: stack.orgId } });
    const b = await stack.db.prisma.lead.findMany({ where: { organizationId: orgB.orgId } });
    expect(a.map((l) => l.firstName)).toEqual(['A']);
    expect(b.map((l) => l.firstName)).toEqual(['B']);
  });

  it("does not accept one channel's id with another channel's token", async () => {
    zsB.controls.holdNotifications();
    const id = zsB.controls.createLeadAsUser({ Email: 'crossed@example.com', Last_Name: 'Crossed' });
    const fromB = JSON.parse(zsB.controls.renderNotification(zsB.controls.channels()[0].channel_id, 'insert', [id]).rawBody) as Record<string, unknown>;
    const before = await stack.db.prisma.inboxEvent.count();
    const res = await postNotification(stack, JSON.stringify({ ...fromB, channel_id: channelA }));
    expect(res.status).toBe(401);
    expect(await stack.db.prisma.inboxEvent.count()).toBe(before);
    zsB.controls.releaseNotifications();
    await settle(stack, zsB);
    expect(await stack.db.prisma.lead.count({ where: { organizationId: stack.orgId, email: 'crossed@example.com' } })).toBe(0);
    expect(await stack.db.prisma.lead.count({ where: { organizationId: orgB.orgId, email: 'crossed@example.com' } })).toBe(1);
  });

  it("keeps routing A's notifications to A when another tenant connects a Zoho org whose id equals A's channel id", async () => {
    // Channel ids live in their own column and route alone: an account id, whatever its
    // digits, is never taken for one.
    const zsC = await startZohoFor(stack, { orgId: channelA });
    try {
      const orgC = await stack.newOrg('Initech');
      await connectZoho(stack, zsC, { key: orgC.apiKey, accountId: channelA });
      zsA.controls.createLeadAsUser({ Email: 'still-mine@example.com', First_Name: 'Mine', Last_Name: 'Alpha' });
      await settle(stack, zsA);
      expect(await stack.db.prisma.lead.count({ where: { organizationId: stack.orgId, email: 'still-mine@example.com' } })).toBe(1);
      expect(await stack.db.prisma.lead.count({ where: { organizationId: orgC.orgId } })).toBe(0);
      const accepted = zsA.controls.deliveries.filter((d) => d.status === 200).length;
      expect(accepted).toBeGreaterThan(0);
    } finally {
      await zsC.close();
    }
  });

  it('gives every integration a random numeric channel id of its own, not derived from the clock', async () => {
    const rows = await stack.db.prisma.integration.findMany({ where: { provider: 'ZOHO' }, select: { channelId: true, accountId: true } });
    const ids = rows.map((r) => r.channelId!);
    for (const id of ids) expect(id).toMatch(/^[1-9]\d{17}$/);
    expect(new Set(ids).size).toBe(ids.length);
    // Ids made seconds apart from the clock would be close; random ones are far apart
    // (two of them within 10^12 of each other: about one chance in 450,000).
    expect(ids.length).toBeGreaterThanOrEqual(2);
    for (const x of ids) for (const y of ids) if (x !== y) expect(BigInt(x) > BigInt(y) ? BigInt(x) - BigInt(y) : BigInt(y) - BigInt(x)).toBeGreaterThan(10n ** 12n);
  });
});
