// Durable intake under load: the events of concurrent requests are written together
// (group commit, inbox-store.ts) yet each request is answered for its own events, a
// redelivery is stored once, one bad request fails alone, and the cached webhook routes
// (webhook-routes.ts) follow this instance's own changes at once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HubSpotSandbox } from '../../sandboxes/hubspot/server.ts';
import { isAck, type SalesforceSandbox } from '../../sandboxes/salesforce/index.ts';
import { IntakeWriter, type IntakeRow } from '../../src/engine/inbox-store.ts';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';
import { connectHubSpot, connectSalesforce, startHubSpotFor, startSalesforceFor, startStack, type Connected, type Stack } from '../helpers/stack.ts';
import { eventually } from '../helpers/net.ts';

describe('group commit of webhook events', () => {
  let db: TestDatabase;
  let integrationId: string;
  beforeAll(async () => {
    db = await freshDatabase();
    const org = await db.prisma.organization.create({ data: { name: 'Acme' } });
    integrationId = (await db.prisma.integration.create({ data: { organizationId: org.id, provider: 'HUBSPOT', name: 'hs', accountId: '1', apiBaseUrl: 'http://127.0.0.1:9', credentials: '{}' } })).id;
  });
  afterAll(() => db.destroy());

  const row = (key: string, to = integrationId): IntakeRow => ({
    integrationId: to,
    dedupeKey: key,
    kind: 'created',
    externalId: key,
    occurredAt: new Date('2026-11-30T10:00:00.123Z'),
    payload: JSON.stringify({ externalId: key }),
    disabled: false,
  });

  it('answers each of many concurrent requests with how many of ITS events were new, a redelivery stored once', async () => {
    const writer = new IntakeWriter(db.prisma);
    const requests = Array.from({ length: 12 }, (_, i) => [row(`e${i}`), row(`e${i}-b`)]);
    // Six of them are redelivered while the first delivery is still being written.
    const redelivered = requests.slice(0, 6).map((rows) => rows.map((r) => ({ ...r })));
    const counts = await Promise.all([...requests, ...redelivered].map((rows) => writer.store(rows)));
    expect(counts.reduce((a, b) => a + b, 0)).toBe(24);
    expect(counts.every((n) => n === 0 || n === 2)).toBe(true);
    expect(await db.prisma.inboxEvent.count({ where: { integrationId } })).toBe(24);
    const stored = await db.prisma.inboxEvent.findFirstOrThrow({ where: { dedupeKey: 'e3' } });
    expect(stored).toMatchObject({ status: 'pending', kind: 'created', externalId: 'e3', payload: { externalId: 'e3' }, occurredAt: new Date('2026-11-30T10:00:00.123Z') });
    // Every event received counts, redeliveries included.
    expect((await db.prisma.integration.findUniqueOrThrow({ where: { id: integrationId } })).totalReceived).toBe(36);
  });

  it('a request that cannot be stored fails alone: the others written with it are stored', async () => {
    const writer = new IntakeWriter(db.prisma);
    const results = await Promise.allSettled([
      writer.store([row('ok-1')]),
      writer.store([row('ok-2')]),
      writer.store([row('orphan', 'no-such-integration')]),
      writer.store([row('ok-3')]),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect(await db.prisma.inboxEvent.count({ where: { dedupeKey: { in: ['ok-1', 'ok-2', 'ok-3'] } } })).toBe(3);
    expect(await db.prisma.inboxEvent.count({ where: { dedupeKey: 'orphan' } })).toBe(0);
  });

  it('events of a disabled integration are recorded done, never pending', async () => {
    const writer = new IntakeWriter(db.prisma);
    expect(await writer.store([{ ...row('braked'), disabled: true }])).toBe(1);
    expect(await db.prisma.inboxEvent.findFirstOrThrow({ where: { dedupeKey: 'braked' } })).toMatchObject({ status: 'done', outcome: 'skipped_disabled' });
  });
});

describe('webhook routes follow this instance’s changes at once', () => {
  let stack: Stack;
  let hs: HubSpotSandbox;
  // A long cache: only invalidation can make these tests pass.
  beforeAll(async () => {
    stack = await startStack({ WEBHOOK_ROUTE_CACHE_MS: '60000', WORKERS: 'false' });
    hs = await startHubSpotFor(stack);
  });
  afterAll(async () => {
    await hs?.close();
    await stack?.stop();
  });

  const url = () => `${stack.url}/api/v1/webhooks/hubspot`;
  let n = 0;
  const deliver = async () => {
    n++;
    const req = hs.signedWebhook([hs.makeEvent('contact.creation', String(900 + n), { eventId: 90_000 + n })], { url: url() });
    const res = await fetch(url(), { method: 'POST', headers: req.headers, body: req.body });
    expect(res.status).toBe(200);
    return stack.db.prisma.inboxEvent.findMany({ where: { externalId: String(900 + n) } });
  };

  it('a portal connected after a webhook for it was ignored is routed on its next webhook', async () => {
    expect(await deliver()).toEqual([]); // nobody here owns the portal yet: acknowledged, not stored
    const integrationId = await connectHubSpot(stack, hs);
    const [stored] = await deliver();
    expect(stored).toMatchObject({ integrationId, status: 'pending' });
  });

  it('disabling webhooks (the emergency brake) holds from the very next webhook', async () => {
    const [before] = await deliver();
    expect(before.status).toBe('pending');
    await stack.gqlOk(`mutation($id: ID!) { disableWebhooks(integrationId: $id) { enabled } }`, { id: before.integrationId });
    const [after] = await deliver();
    expect(after).toMatchObject({ status: 'done', outcome: 'skipped_disabled' });
  });

  it('a disconnected integration’s next webhook is acknowledged and dropped, as one for a portal nobody connected', async () => {
    const [before] = await deliver();
    expect(before).toBeDefined();
    await stack.gqlOk(`mutation($id: ID!) { disconnectCrm(integrationId: $id) { id } }`, { id: before.integrationId });
    expect(await deliver()).toEqual([]);
  });
});

describe('a rotated webhook secret is honoured by the very next request, routes cached or not', () => {
  let stack: Stack;
  let sf: SalesforceSandbox;
  let conn: Connected;
  const path = (url: string) => new URL(url).pathname;
  beforeAll(async () => {
    stack = await startStack({ WEBHOOK_ROUTE_CACHE_MS: '60000', WORKERS: 'false' });
    sf = await startSalesforceFor(stack);
    conn = await connectSalesforce(stack, sf, { autoSync: false });
  });
  afterAll(async () => {
    await sf?.close();
    await stack?.stop();
  });

  // Salesforce outbound messages carry no signature: the endpoint URL's last segment is the
  // integration's secret (src/engine/webhook-secrets.ts); a SOAP fault (HTTP 500) refuses one.
  it('after rotateWebhookEndpoint with revokePrevious, the old URL is refused and the new one taken at once', async () => {
    const id = sf.controls.createLeadAsUser({ Email: 'cached@example.com', LastName: 'Cached', Company: 'Acme' });
    const post = (p: string) => fetch(`${stack.url}${p}`, { method: 'POST', headers: { 'content-type': 'text/xml; charset=utf-8', soapaction: '""' }, body: sf.controls.outbound.envelopeFor([id]).body });
    const old = path(conn.enabled.webhookUrl);
    const first = await post(old);
    expect(isAck(first.status, await first.text())).toBe(true); // the route and its secrets are cached now
    const { rotateWebhookEndpoint } = await stack.gqlOk<{ rotateWebhookEndpoint: { webhookUrl: string } }>(
      `mutation($id: ID!) { rotateWebhookEndpoint(integrationId: $id, revokePrevious: true) { webhookUrl } }`,
      { id: conn.integrationId },
    );
    const stored = await stack.db.prisma.inboxEvent.count();
    expect((await post(old)).status).toBe(500);
    expect(await stack.db.prisma.inboxEvent.count()).toBe(stored);
    const taken = await post(path(rotateWebhookEndpoint.webhookUrl));
    expect(isAck(taken.status, await taken.text())).toBe(true);
  });
});

describe('events wait for the CRM call budget instead of spending it a few at a time', () => {
  let stack: Stack;
  let hs: HubSpotSandbox;
  beforeAll(async () => {
    stack = await startStack();
    hs = await startHubSpotFor(stack, { webhookTargetUrl: null, rateLimit: null });
  });
  afterAll(async () => {
    await hs?.close();
    await stack?.stop();
  });

  // HubSpot's documented burst limit for a private app on a Free or Starter account is
  // 100 requests per 10 seconds (developers.hubspot.com, "API usage guidelines and
  // limits"); the adapter's client-side window keeps to it.
  it('a webhook arriving while the 100-per-10-s window is spent is held, then read and applied once it frees', async () => {
    const integrationId = await connectHubSpot(stack, hs, { autoSync: false });
    const row = await stack.db.prisma.integration.findUniqueOrThrow({ where: { id: integrationId } });
    const client = stack.engine.connections.client(row);
    const reads = () => hs.controls.requests.filter((r) => r.path.startsWith('/crm/v3/objects/contacts/batch/read')).length;
    const spentAt = Date.now();
    // Every call of the window spent (reads of a record that does not exist).
    while (client.budgetWaitMs!() < 1_000) await client.readRecords(['1']);
    const readsBefore = reads();
    const contactId = hs.createContactAsUser({ email: 'held@example.com', firstname: 'Held' });
    const url = `${stack.url}/api/v1/webhooks/hubspot`;
    const req = hs.signedWebhook([hs.makeEvent('contact.creation', contactId, { eventId: 777_001 })], { url });
    expect((await fetch(url, { method: 'POST', headers: req.headers, body: req.body })).status).toBe(200);
    // Held: put back, due when the window frees, and no read spent on it meanwhile.
    await eventually(async () => {
      const ev = await stack.db.prisma.inboxEvent.findFirst({ where: { externalId: contactId } });
      return ev?.status === 'pending' && ev.nextAttemptAt.getTime() > Date.now() ? ev : undefined;
    }, 5_000, 'the event held until the window frees');
    expect(reads()).toBe(readsBefore);
    const lead = await eventually(async () => (await stack.db.prisma.lead.findFirst({ where: { email: 'held@example.com' } })) ?? undefined, 15_000, 'the lead, once the window freed');
    expect(lead!.firstName).toBe('Held');
    // Applied after the window of the spent calls, with one more read.
    expect(Date.now() - spentAt).toBeGreaterThanOrEqual(5_000);
    expect(reads()).toBe(readsBefore + 1);
    expect(await stack.db.prisma.inboxEvent.findFirst({ where: { externalId: contactId } })).toMatchObject({ status: 'done', outcome: 'created' });
  });
});

describe('reading the records of webhook events', () => {
  let stack: Stack;
  let hs: HubSpotSandbox;
  beforeAll(async () => {
    stack = await startStack();
    hs = await startHubSpotFor(stack, { webhookTargetUrl: null, rateLimit: null });
  });
  afterAll(async () => {
    await hs?.close();
    await stack?.stop();
  });

  // HubSpot's batch read answers at most 50 records when it is asked for property
  // histories ("The maximum number of inputs supported in a batch request for property
  // histories is 50"), 100 without. Only records a lead is linked to need the history.
  it('a burst of 100 new people is read in ONE call, without histories; a linked contact is read with its history', async () => {
    await connectHubSpot(stack, hs, { autoSync: false });
    const reads = () => hs.controls.requests.filter((r) => r.path.startsWith('/crm/v3/objects/contacts/batch/read'));
    const ids = Array.from({ length: 100 }, (_, n) => hs.createContactAsUser({ email: `burst${n}@example.com`, firstname: 'Burst' }));
    const url = `${stack.url}/api/v1/webhooks/hubspot`;
    const before = reads().length;
    const req = hs.signedWebhook(ids.map((id, n) => hs.makeEvent('contact.creation', id, { eventId: 880_000 + n })), { url });
    expect((await fetch(url, { method: 'POST', headers: req.headers, body: req.body })).status).toBe(200);
    await eventually(async () => ((await stack.db.prisma.lead.count({ where: { email: { startsWith: 'burst' } } })) === 100 ? true : undefined), 15_000, '100 leads');
    const burst = reads().slice(before);
    expect(burst).toHaveLength(1);
    expect((burst[0].body as { inputs: unknown[]; propertiesWithHistory?: unknown[] }).inputs).toHaveLength(100);
    expect((burst[0].body as { propertiesWithHistory?: unknown[] }).propertiesWithHistory ?? []).toEqual([]);

    // A person edits one of them: the contact is linked now, so it is read with its history.
    hs.updateContactAsUser(ids[0], { firstname: 'Edited' });
    const edit = hs.signedWebhook([hs.makeEvent('contact.propertyChange', ids[0], { eventId: 881_000, propertyName: 'firstname', propertyValue: 'Edited' })], { url });
    expect((await fetch(url, { method: 'POST', headers: edit.headers, body: edit.body })).status).toBe(200);
    await eventually(async () => ((await stack.db.prisma.lead.findFirst({ where: { email: 'burst0@example.com' } }))?.firstName === 'Edited' ? true : undefined), 15_000, 'the edit applied');
    const last = reads().at(-1)!;
    expect((last.body as { propertiesWithHistory?: unknown[] }).propertiesWithHistory).toContain('firstname');
  });
});
