// The HubSpot sandbox itself: its wire format, and its webhooks arriving signed at a real
// local HTTP receiver (checked with the adapter's codec, the code production runs).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { emptyFields } from '../../../adapters/contract.ts';
import { hubspotAdapter } from '../../../adapters/hubspot/index.ts';
import { startHubSpotSandbox, type HubSpotEvent, type HubSpotSandbox, type HubSpotSandboxOptions } from '../../../sandboxes/hubspot/index.ts';

interface Received {
  url: string;
  headers: Record<string, string>;
  body: string;
  events: HubSpotEvent[];
}

interface Receiver {
  url: string;
  received: Received[];
  maxInFlight: number;
  close(): Promise<void>;
}

/** A webhook endpoint: `answer(n)` picks the status (and an optional delay) of the n-th request. */
async function startReceiver(answer: (n: number) => { status: number; delayMs?: number; holdUntil?: Promise<void> } = () => ({ status: 200 })): Promise<Receiver> {
  const received: Received[] = [];
  let inFlight = 0;
  const r: Receiver = { url: '', received, maxInFlight: 0, close: async () => {} };
  const server = http.createServer(async (req, res) => {
    inFlight++;
    r.maxInFlight = Math.max(r.maxInFlight, inFlight);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const n = received.length;
    received.push({ url: req.url ?? '', headers: req.headers as Record<string, string>, body, events: JSON.parse(body) as HubSpotEvent[] });
    const a = answer(n);
    if (a.holdUntil) await a.holdUntil;
    if (a.delayMs) await new Promise((d) => setTimeout(d, a.delayMs));
    inFlight--;
    if (!res.destroyed) res.writeHead(a.status, { 'content-type': 'application/json' }).end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  r.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return r;
}

let sandbox: HubSpotSandbox | undefined;
let receiver: Receiver | undefined;

afterEach(async () => {
  await sandbox?.close();
  await receiver?.close();
  sandbox = undefined;
  receiver = undefined;
});

const PATH = '/api/v1/webhooks/hubspot?tenant=acme%3Aeu';

async function setup(opts: HubSpotSandboxOptions = {}, answer?: Parameters<typeof startReceiver>[0]) {
  receiver = await startReceiver(answer);
  sandbox = await startHubSpotSandbox({ webhookTargetUrl: receiver.url + PATH, subscriptions: 'default', webhookRetryDelaysMs: [20], ...opts });
  return { sandbox, receiver, target: receiver.url + PATH };
}

function verifyAndParse(r: Received, target: string, clientSecret: string) {
  const req = { method: 'POST', url: target, headers: r.headers, rawBody: Buffer.from(r.body) };
  hubspotAdapter.codec.verify(req, { clientSecret });
  return hubspotAdapter.codec.parse(req);
}

const allEvents = (r: Receiver) => r.received.flatMap((x) => x.events);

describe('HubSpot sandbox webhooks at a real receiver', () => {
  it('delivers signed v3 (and v1) webhooks for a change made in the CRM UI', async () => {
    const { sandbox, receiver, target } = await setup();
    const id = sandbox.createContactAsUser({ email: 'ui@example.com', firstname: 'Ui' });
    await sandbox.flushWebhooks();
    expect(receiver.received.length).toBeGreaterThan(0);
    const parsed = receiver.received.map((r) => verifyAndParse(r, target, sandbox.clientSecret));
    const events = parsed.flatMap((p) => p.events);
    expect(events.map((e) => [e.kind, e.externalId, e.property ?? null]).sort()).toEqual(
      [
        ['created', id, null],
        ['updated', id, 'email'],
        ['updated', id, 'firstname'],
      ].sort(),
    );
    expect(events.every((e) => e.changeSource === 'CRM_UI' && e.accountId === String(sandbox.portalId))).toBe(true);
    // The legacy v1 header is correct too (for receivers that allow it).
    const r0 = receiver.received[0]!;
    const legacy = { method: 'POST', url: target, headers: { 'x-hubspot-signature': r0.headers['x-hubspot-signature'], 'x-hubspot-signature-version': 'v1' }, rawBody: Buffer.from(r0.body) };
    expect(() => hubspotAdapter.codec.verify(legacy, { clientSecret: sandbox.clientSecret, allowLegacySignatures: true })).not.toThrow();
    expect(sandbox.deliveries.map((d) => d.status)).toEqual(receiver.received.map(() => 200));
  });

  it('marks API writes as INTEGRATION and sends one propertyChange per changed subscribed property', async () => {
    const { sandbox, receiver } = await setup({ propertyChangeOnCreate: false });
    const client = hubspotAdapter.connect({ baseUrl: sandbox.url, accountId: '1', credentials: { accessToken: sandbox.accessToken }, settings: {}, network: { allowLocalHosts: true } });
    await client.provision({ webhookUrl: 'http://unused', tagValues: ['jazzaam'] });
    const [r] = await client.pushLeads([{ localId: 'l', externalId: null, fields: { ...emptyFields(), email: 'api@example.com', lastName: 'Api' } }], 'jazzaam');
    if (!r?.ok) throw new Error('push failed');
    await sandbox.flushWebhooks();
    expect(allEvents(receiver).map((e) => [e.subscriptionType, e.changeSource])).toEqual([['contact.creation', 'INTEGRATION']]);

    receiver.received.length = 0;
    sandbox.updateContactAsUser(r.externalId, { firstname: 'Changed', phone: '+1 555', lastname: 'Api' /* unchanged */, lead_source_system: 'manual' /* not subscribed */ });
    await sandbox.flushWebhooks();
    const changes = allEvents(receiver);
    expect(changes.map((e) => [e.subscriptionType, e.propertyName, e.propertyValue, e.changeSource]).sort()).toEqual([
      ['contact.propertyChange', 'firstname', 'Changed', 'CRM_UI'],
      ['contact.propertyChange', 'phone', '+1 555', 'CRM_UI'],
    ]);
    expect(changes.every((e) => e.objectId === Number(r.externalId) && e.attemptNumber === 0)).toBe(true);
    expect(new Set(changes.map((e) => e.subscriptionId)).size).toBe(2);
  });

  it('sends merge, deletion and restore events with their fields', async () => {
    const { sandbox, receiver, target } = await setup({ propertyChangeOnCreate: false });
    const a = sandbox.createContactAsUser({ email: 'a@example.com' });
    const b = sandbox.createContactAsUser({ email: 'b@example.com', phone: '+1 1' });
    const c = sandbox.createContactAsUser({ email: 'c@example.com' });
    await sandbox.flushWebhooks();
    receiver.received.length = 0;
    expect(sandbox.mergeContacts(a, b)).toBe(a);
    sandbox.deleteContact(c);
    sandbox.restoreContact(c);
    await sandbox.flushWebhooks();
    const merge = allEvents(receiver).find((e) => e.subscriptionType === 'contact.merge')!;
    expect(merge).toMatchObject({ primaryObjectId: Number(a), mergedObjectIds: [Number(b)], newObjectId: Number(a), numberOfPropertiesMoved: 1, objectId: Number(a) });
    expect(sandbox.getContact(b)!.archived).toBe(true);
    expect(sandbox.getContact(a)!.properties.phone).toBe('+1 1');
    const kinds = receiver.received.flatMap((r) => verifyAndParse(r, target, sandbox.clientSecret).events.map((e) => [e.kind, e.externalId]));
    expect(kinds).toEqual(expect.arrayContaining([['merged', a], ['deleted', c], ['restored', c]]));
  });

  it('retries a failed delivery with attemptNumber + 1, same dedupe keys', async () => {
    const { sandbox, receiver, target } = await setup({}, (n) => ({ status: n < 2 ? 500 : 200 }));
    sandbox.createContactAsUser({ email: 'retry@example.com' });
    await sandbox.flushWebhooks();
    expect(sandbox.deliveries.map((d) => [d.attemptNumber, d.status])).toEqual([
      [0, 500],
      [1, 500],
      [2, 200],
    ]);
    expect(receiver.received.map((r) => [...new Set(r.events.map((e) => e.attemptNumber))])).toEqual([[0], [1], [2]]);
    const keys = receiver.received.map((r) => verifyAndParse(r, target, sandbox.clientSecret).events.map((e) => e.dedupeKey).sort().join());
    expect(new Set(keys).size).toBe(1);
  });

  it('treats a 4xx answer as a failure too', async () => {
    const { sandbox } = await setup({}, (n) => ({ status: n === 0 ? 400 : 204 }));
    sandbox.createContactAsUser({ email: 'four@example.com' });
    await sandbox.flushWebhooks();
    expect(sandbox.deliveries.map((d) => d.status)).toEqual([400, 204]);
  });

  it('retries a receiver slower than the timeout', async () => {
    const { sandbox, receiver } = await setup({ webhookTimeoutMs: 150 }, (n) => ({ status: 200, delayMs: n === 0 ? 600 : 0 }));
    sandbox.createContactAsUser({ email: 'slow@example.com' });
    await sandbox.flushWebhooks();
    expect(sandbox.deliveries[0]!.status).toBeNull();
    expect(sandbox.deliveries[0]!.error).toMatch(/no answer/);
    expect(sandbox.deliveries.at(-1)!).toMatchObject({ attemptNumber: 1, status: 200 });
    expect(receiver.received.length).toBe(2);
  });

  it('gives up after the configured number of attempts', async () => {
    const { sandbox } = await setup({ webhookMaxAttempts: 3 }, () => ({ status: 503 }));
    sandbox.createContactAsUser({ email: 'never@example.com' });
    await sandbox.flushWebhooks();
    expect(sandbox.deliveries.map((d) => d.attemptNumber)).toEqual([0, 1, 2]);
  });

  it('duplicates deliveries on demand (same events, same dedupe keys)', async () => {
    const { sandbox, receiver, target } = await setup({ propertyChangeOnCreate: false });
    sandbox.setWebhookBehavior({ duplicates: 2 });
    sandbox.createContactAsUser({ email: 'dup@example.com' });
    await sandbox.flushWebhooks();
    expect(receiver.received).toHaveLength(3);
    const keys = receiver.received.map((r) => verifyAndParse(r, target, sandbox.clientSecret).events[0]!.dedupeKey);
    expect(new Set(keys).size).toBe(1);
  });

  it('reorders events on demand (newest first)', async () => {
    const { sandbox, receiver } = await setup({ propertyChangeOnCreate: false });
    sandbox.setWebhookBehavior({ reorder: true });
    for (let i = 0; i < 3; i++) {
      sandbox.controls.setClock(new Date(Date.UTC(2025, 0, 1, 0, 0, i)));
      sandbox.createContactAsUser({ email: `order${i}@example.com` });
    }
    await sandbox.flushWebhooks();
    const times = allEvents(receiver).map((e) => e.occurredAt);
    expect(times).toEqual([...times].sort((a, b) => b - a));
    expect(new Set(times).size).toBe(3);
  });

  it('redelivers concurrently on demand', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { sandbox, receiver } = await setup({ propertyChangeOnCreate: false }, (n) => {
      if (n === 2) release();
      return { status: 200, holdUntil: gate };
    });
    sandbox.setWebhookBehavior({ concurrentCopies: 2 });
    sandbox.createContactAsUser({ email: 'race@example.com' });
    await sandbox.flushWebhooks();
    expect(receiver.received).toHaveLength(3);
    expect(receiver.maxInFlight).toBe(3);
    expect(new Set(sandbox.deliveries.map((d) => d.batchId)).size).toBe(1);
  });

  it('batches at most 100 events per request', async () => {
    const { sandbox, receiver } = await setup({ propertyChangeOnCreate: false });
    const client = hubspotAdapter.connect({ baseUrl: sandbox.url, accountId: '1', credentials: { accessToken: sandbox.accessToken }, settings: {}, network: { allowLocalHosts: true } });
    await client.provision({ webhookUrl: 'http://unused', tagValues: ['jazzaam'] });
    const leads = Array.from({ length: 150 }, (_, i) => ({ localId: `b${i}`, externalId: null, fields: { ...emptyFields(), email: `batch${i}@example.com` } }));
    await client.pushLeads(leads, 'jazzaam');
    await sandbox.flushWebhooks();
    const sizes = receiver.received.map((r) => r.events.length);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(100);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(150);
    expect(sizes.length).toBeGreaterThanOrEqual(2);
  });

  it('keeps events without a target URL out of the network', async () => {
    sandbox = await startHubSpotSandbox({ subscriptions: 'default' });
    sandbox.createContactAsUser({ email: 'nowhere@example.com' });
    await sandbox.flushWebhooks();
    expect(sandbox.deliveries).toEqual([]);
    expect(sandbox.undeliverable.length).toBeGreaterThan(0);
  });
});

describe('HubSpot sandbox wire format', () => {
  async function api(path: string, init: RequestInit & { token?: string | null } = {}) {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    const token = init.token === undefined ? sandbox!.accessToken : init.token;
    if (token) headers.authorization = `Bearer ${token}`;
    const res = await fetch(sandbox!.url + path, { ...init, headers });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
  }

  it('answers a duplicate email (any case) with 409 and the existing id, single or batch', async () => {
    sandbox = await startHubSpotSandbox();
    const first = await api('/crm/v3/objects/contacts', { method: 'POST', body: JSON.stringify({ properties: { email: 'Dup@Example.com' } }) });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ id: expect.any(String), archived: false, properties: { email: 'dup@example.com', hs_object_id: first.body.id } });
    const again = await api('/crm/v3/objects/contacts', { method: 'POST', body: JSON.stringify({ properties: { email: ' DUP@example.COM' } }) });
    expect(again.status).toBe(409);
    expect(again.body).toEqual({
      status: 'error',
      message: `Contact already exists. Existing ID: ${first.body.id}`,
      category: 'CONFLICT',
      correlationId: expect.any(String),
    });
    const batch = await api('/crm/v3/objects/contacts/batch/create', {
      method: 'POST',
      body: JSON.stringify({ inputs: [{ properties: { email: 'fresh@example.com' } }, { properties: { email: 'dup@example.com' } }] }),
    });
    expect(batch.status).toBe(409);
    expect(batch.body.message).toBe(`Contact already exists. Existing ID: ${first.body.id}`);
    expect(sandbox.listContacts()).toHaveLength(1);
  });

  // Without objectWriteTraceId HubSpot's batch create has no multi-status: one existing email
  // refuses the whole batch, and the 409 names the first existing contact only
  // (HubSpot/hubspot-api-python#51).
  it('refuses a whole batch create meeting existing emails with ONE 409 CONFLICT naming the first existing id, creating nothing', async () => {
    sandbox = await startHubSpotSandbox();
    const one = sandbox.createContactAsUser({ email: 'one@example.com' });
    sandbox.createContactAsUser({ email: 'two@example.com' });
    const batch = await api('/crm/v3/objects/contacts/batch/create', {
      method: 'POST',
      body: JSON.stringify({ inputs: ['fresh@example.com', 'one@example.com', 'two@example.com'].map((email) => ({ properties: { email } })) }),
    });
    expect(batch.status).toBe(409);
    expect(batch.body).toMatchObject({ status: 'error', category: 'CONFLICT', message: `Contact already exists. Existing ID: ${one}` });
    expect(sandbox.listContacts().map((c) => c.properties.email).sort()).toEqual(['one@example.com', 'two@example.com']);
  });

  it('requires a valid bearer token', async () => {
    sandbox = await startHubSpotSandbox();
    expect((await api('/crm/v3/objects/contacts', { token: null })).status).toBe(401);
    expect((await api('/crm/v3/objects/contacts', { token: 'wrong' })).status).toBe(401);
    sandbox.expireAccessToken(sandbox.accessToken);
    const expired = await api('/crm/v3/objects/contacts');
    expect(expired.status).toBe(401);
    expect(expired.body.category).toBe('EXPIRED_AUTHENTICATION');
  });

  it('enforces its rolling rate limit with HubSpot 429 bodies and headers', async () => {
    sandbox = await startHubSpotSandbox({ rateLimit: { requests: 3, perMs: 10_000 } });
    const statuses: number[] = [];
    let last: Awaited<ReturnType<typeof api>> | undefined;
    for (let i = 0; i < 4; i++) {
      last = await api('/crm/v3/objects/contacts');
      statuses.push(last.status);
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
    expect(last!.body).toMatchObject({ status: 'error', policyName: 'TEN_SECONDLY_ROLLING', errorType: 'RATE_LIMIT' });
    expect(Number(last!.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(last!.headers.get('x-hubspot-ratelimit-max')).toBe('3');
    expect(last!.headers.get('x-hubspot-ratelimit-remaining')).toBe('0');
    expect(last!.headers.get('x-hubspot-ratelimit-interval-milliseconds')).toBe('10000');
  });

  it('lists contacts in pages in id order (GET /crm/v3/objects/contacts: limit 1-100, `after` cursor from paging.next), archived ones only with archived=true', async () => {
    sandbox = await startHubSpotSandbox();
    const ids = [1, 2, 3, 4, 5].map((n) => sandbox!.createContactAsUser({ email: `p${n}@example.com` }));
    sandbox.deleteContact(ids[1]);
    const list = async (q: string) => (await api(`/crm/v3/objects/contacts?${q}`)).body as { results: { id: string }[]; paging?: { next: { after: string } } };
    const first = await list('limit=2');
    expect(first.results.map((r) => r.id)).toEqual([ids[0], ids[2]]);
    // A contact created meanwhile has a higher id: it comes on a later page.
    const late = sandbox.createContactAsUser({ email: 'late@example.com' });
    const second = await list(`limit=2&after=${first.paging!.next.after}`);
    expect(second.results.map((r) => r.id)).toEqual([ids[3], ids[4]]);
    const third = await list(`limit=2&after=${second.paging!.next.after}`);
    expect(third.results.map((r) => r.id)).toEqual([late]);
    expect(third.paging).toBeUndefined();
    expect((await list('archived=true')).results.map((r) => r.id)).toEqual([ids[1]]);
    expect((await api('/crm/v3/objects/contacts?limit=101')).status).toBe(400);
  });

  it('searches with filters and sorts, within its limits', async () => {
    sandbox = await startHubSpotSandbox();
    const ids = ['a', 'b', 'c'].map((x) => sandbox!.createContactAsUser({ email: `${x}@example.com`, firstname: x.toUpperCase() }));
    const search = (body: unknown) => api('/crm/v3/objects/contacts/search', { method: 'POST', body: JSON.stringify(body) });
    const byEmail = await search({ filterGroups: [{ filters: [{ propertyName: 'email', operator: 'EQ', value: 'B@EXAMPLE.COM' }] }] });
    expect(byEmail.body.results.map((r: { id: string }) => r.id)).toEqual([ids[1]]);
    const inList = await search({
      filterGroups: [{ filters: [{ propertyName: 'email', operator: 'IN', values: ['a@example.com', 'c@example.com'] }] }],
      sorts: [{ propertyName: 'hs_object_id', direction: 'DESCENDING' }],
    });
    expect(inList.body.results.map((r: { id: string }) => r.id)).toEqual([ids[2], ids[0]]);
    const gt = await search({ filterGroups: [{ filters: [{ propertyName: 'hs_object_id', operator: 'GT', value: ids[0] }] }], limit: 1 });
    expect(gt.body.total).toBe(2);
    expect(gt.body.paging.next.after).toBe('1');
    expect((await search({ limit: 201 })).status).toBe(400);
    expect((await search({ limit: 100, after: '9950' })).status).toBe(400);
  });

  it('creates properties (201), refuses an existing name (409) and replaces options on PATCH', async () => {
    sandbox = await startHubSpotSandbox();
    const body = { name: 'lead_source_system', label: 'Src', type: 'enumeration', fieldType: 'select', groupName: 'contactinformation', options: [{ label: 'x', value: 'x' }] };
    expect((await api('/crm/v3/properties/contacts', { method: 'POST', body: JSON.stringify(body) })).status).toBe(201);
    expect((await api('/crm/v3/properties/contacts', { method: 'POST', body: JSON.stringify(body) })).status).toBe(409);
    const patched = await api('/crm/v3/properties/contacts/lead_source_system', { method: 'PATCH', body: JSON.stringify({ options: [{ label: 'y', value: 'y' }] }) });
    expect(patched.body.options.map((o: { value: string }) => o.value)).toEqual(['y']);
    const badOption = await api('/crm/v3/objects/contacts', { method: 'POST', body: JSON.stringify({ properties: { email: 'o@example.com', lead_source_system: 'x' } }) });
    expect(badOption.status).toBe(400);
    expect(badOption.body.category).toBe('VALIDATION_ERROR');
  });

  it('guards the webhooks API with the developer hapikey', async () => {
    sandbox = await startHubSpotSandbox();
    expect((await api(`/webhooks/v3/${sandbox.appId}/subscriptions?hapikey=nope`, { token: null })).status).toBe(401);
    const ok = await api(`/webhooks/v3/${sandbox.appId}/subscriptions?hapikey=${sandbox.developerApiKey}`, { token: null });
    expect(ok.status).toBe(200);
    expect(ok.body.results).toEqual([]);
  });
});
