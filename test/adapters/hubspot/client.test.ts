// The HubSpot client against the HubSpot sandbox, over real HTTP, through the real SDK.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CrmError, emptyFields, type ConnectionOptions, type CrmClient, type LeadFields, type OutboundLead, type WriteResult } from '../../../adapters/contract.ts';
import { hubspotAdapter } from '../../../adapters/hubspot/index.ts';
import { ORIGIN_PROPERTY } from '../../../adapters/hubspot/mappers.ts';
import { startHubSpotSandbox, type HubSpotSandbox, type HubSpotSandboxOptions } from '../../../sandboxes/hubspot/index.ts';

const TAG = 'jazzaam';
const WEBHOOK_URL = 'https://sync.example.com/api/v1/webhooks/hubspot';

let sandbox: HubSpotSandbox;
let client: CrmClient;

function connect(over: Partial<ConnectionOptions> = {}): CrmClient {
  return hubspotAdapter.connect({
    baseUrl: sandbox.url,
    accountId: String(sandbox.portalId),
    credentials: { accessToken: sandbox.accessToken },
    settings: {},
    network: { allowLocalHosts: true }, // the sandbox listens on loopback over http
    ...over,
  });
}

async function start(opts: HubSpotSandboxOptions = {}): Promise<void> {
  sandbox = await startHubSpotSandbox(opts);
  client = connect();
  await client.provision({ webhookUrl: WEBHOOK_URL, tagValues: [TAG, 'manual'] });
}

function lead(localId: string, fields: Partial<LeadFields>, externalId: string | null = null): OutboundLead {
  return { localId, externalId, fields: { ...emptyFields(), lastName: 'Doe', ...fields } };
}

function ok(r: WriteResult | undefined) {
  if (!r?.ok) throw new Error(`expected success, got ${r ? `${r.error.code}: ${r.error.message}` : 'nothing'}`);
  return r;
}

function failed(r: WriteResult | undefined): CrmError {
  if (!r || r.ok) throw new Error(`expected a failure, got ${JSON.stringify(r)}`);
  return r.error;
}

async function rejection(p: Promise<unknown>): Promise<CrmError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof CrmError) return e;
    throw e;
  }
  throw new Error('expected the call to fail');
}

const calls = (path: string) => sandbox.controls.requests.filter((c) => c.path === path);
const BATCH = '/crm/v3/objects/contacts/batch';

afterEach(async () => {
  await sandbox?.close();
});

describe('HubSpot client: pushLeads', () => {
  beforeEach(() => start());

  it('creates new contacts (201) carrying our origin tag', async () => {
    const [r] = await client.pushLeads([lead('l1', { email: 'New.Person@Example.com', firstName: 'New', status: 'lead' })], TAG);
    const created = ok(r);
    expect(created.action).toBe('created');
    expect(calls(`${BATCH}/create`).map((c) => c.status)).toEqual([201]);
    const c = sandbox.getContact(created.externalId)!;
    expect(c.properties.email).toBe('new.person@example.com');
    expect(c.properties.firstname).toBe('New');
    expect(c.properties.lifecyclestage).toBe('lead');
    expect(c.properties[ORIGIN_PROPERTY]).toBe(TAG);
  });

  it('creates 100 new leads in ONE HubSpot call: a batch create, no read by email first', async () => {
    const leads = Array.from({ length: 100 }, (_, i) => lead(`n${i}`, { email: `new${i}@example.com`, firstName: 'New' }));
    const before = sandbox.controls.requests.length;
    const results = await client.pushLeads(leads, TAG);
    expect(results.every((r) => r.ok && r.action === 'created')).toBe(true);
    expect(sandbox.controls.requests.slice(before).map((c) => `${c.method} ${c.path} ${c.status}`)).toEqual([`POST ${BATCH}/create 201`]);
    expect(sandbox.listContacts().filter((c) => c.properties[ORIGIN_PROPERTY] === TAG)).toHaveLength(100);
  });

  // HubSpot refuses a whole batch create (no objectWriteTraceId: no multi-status) when one
  // email exists: 409 CONFLICT naming the first existing id only (HubSpot/hubspot-api-python#51).
  it('a create batch meeting an existing email (409 for the whole batch) links it without a duplicate and without tagging it', async () => {
    const human = sandbox.createContactAsUser({ email: 'human@example.com', firstname: 'Human' });
    const leads = Array.from({ length: 99 }, (_, i) => lead(`n${i}`, { email: `new${i}@example.com` }));
    leads.splice(40, 0, lead('h', { email: 'Human@Example.com', firstName: 'Platform' }));
    const before = sandbox.controls.requests.length;
    const results = await client.pushLeads(leads, TAG);
    expect(sandbox.controls.requests.slice(before).map((c) => `${c.path} ${c.status}`)).toEqual([
      `${BATCH}/create 409`,
      `${BATCH}/read 207`, // the new emails are reported not found
      `${BATCH}/update 200`,
      `${BATCH}/create 201`,
    ]);
    const linked = ok(results[40]);
    expect([linked.action, linked.externalId]).toEqual(['linked', human]);
    expect(results.filter((r) => r.ok && r.action === 'created')).toHaveLength(99);
    expect(sandbox.listContacts().filter((c) => c.properties.email === 'human@example.com')).toHaveLength(1);
    expect(sandbox.listContacts()).toHaveLength(100);
    // Linked, so updated with our fields; not created by us, so the tag stays unset.
    expect(sandbox.getContact(human)!.properties.firstname).toBe('Platform');
    expect(sandbox.getContact(human)!.properties[ORIGIN_PROPERTY]).toBeNull();
  });

  it('links the existing contact when its email is created between our read and our next create (409 again: one by one)', async () => {
    sandbox.createContactAsUser({ email: 'human@example.com' });
    let racedId = '';
    sandbox.controls.afterRequest({ method: 'POST', path: `${BATCH}/read` }, () => {
      racedId = sandbox.createContactAsUser({ email: 'race@example.com', firstname: 'Human' });
    });
    const results = await client.pushLeads(
      [lead('human', { email: 'human@example.com' }), lead('race', { email: 'race@example.com', firstName: 'Platform' }), lead('calm', { email: 'calm@example.com' })],
      TAG,
    );
    expect(calls(`${BATCH}/create`).map((c) => c.status)).toEqual([409, 409]);
    expect(ok(results[0]).action).toBe('linked');
    const raced = ok(results[1]);
    expect(raced.externalId).toBe(racedId);
    expect(raced.action).toBe('linked');
    expect(ok(results[2]).action).toBe('created');
    expect(sandbox.listContacts().filter((c) => c.properties.email === 'race@example.com')).toHaveLength(1);
    // Linked, so updated with our fields; not created by us, so the tag stays unset.
    expect(sandbox.getContact(racedId)!.properties.firstname).toBe('Platform');
    expect(sandbox.getContact(racedId)!.properties[ORIGIN_PROPERTY]).toBeNull();
  });

  it('reports a 207 partial failure per input and updates the others', async () => {
    const a = sandbox.createContactAsUser({ email: 'a@example.com', firstname: 'A' });
    const results = await client.pushLeads(
      [lead('a', { email: 'a@example.com', firstName: 'A2' }, a), lead('gone', { email: 'gone@example.com' }, '987654')],
      TAG,
    );
    expect(calls(`${BATCH}/update`).map((c) => c.status)).toEqual([207]);
    expect(ok(results[0]).action).toBe('updated');
    expect(failed(results[1]).code).toBe('NOT_FOUND');
    expect(sandbox.getContact(a)!.properties.firstname).toBe('A2');
  });

  it('isolates an invalid lead: the batch is refused (400), the others are still created', async () => {
    const results = await client.pushLeads(
      [lead('good1', { email: 'good1@example.com' }), lead('bad', { email: 'not-an-email' }), lead('good2', { email: 'good2@example.com' })],
      TAG,
    );
    expect(calls(`${BATCH}/create`).map((c) => c.status)).toEqual([400]);
    expect(ok(results[0]).action).toBe('created');
    expect(failed(results[1]).code).toBe('VALIDATION');
    expect(ok(results[2]).action).toBe('created');
    expect(sandbox.listContacts()).toHaveLength(2);
  });

  it('refuses an unlinked lead without email without calling HubSpot', async () => {
    const before = sandbox.controls.requests.length;
    const results = await client.pushLeads([lead('e', { email: '  ' })], TAG);
    expect(failed(results[0]).code).toBe('VALIDATION');
    expect(sandbox.controls.requests.slice(before).filter((c) => c.path.endsWith('/create'))).toEqual([]);
  });

  it('writes a lead whose status HubSpot has no lifecycle stage for, leaving the stage alone and saying so', async () => {
    const results = await client.pushLeads([lead('s', { email: 's@example.com', firstName: 'Stat', status: 'Open - Not Contacted' })], TAG);
    const r = ok(results[0]);
    expect(r.action).toBe('created');
    const contact = sandbox.getContact(r.externalId)!;
    expect(contact.properties.firstname).toBe('Stat');
    expect(contact.properties.lifecyclestage ?? null).toBeNull();
    expect(r.written).toMatchObject({ email: 's@example.com', firstName: 'Stat' });
    expect(r.written && 'status' in r.written).toBe(false);
  });

  it('never duplicates when the answer to a create is lost', async () => {
    sandbox.controls.injectFault('lost_response', 1, { path: `${BATCH}/create` });
    const l = lead('lost', { email: 'lost@example.com' });
    const [first] = await client.pushLeads([l], TAG);
    expect(failed(first).code).toBe('NETWORK');
    expect(sandbox.listContacts()).toHaveLength(1); // HubSpot did create it
    const [retry] = await client.pushLeads([l], TAG);
    expect(ok(retry).action).toBe('linked');
    expect(ok(retry).externalId).toBe(sandbox.listContacts()[0]!.id);
    expect(sandbox.listContacts()).toHaveLength(1);
  });

  it('creates one contact for two leads sharing an email in one push', async () => {
    const results = await client.pushLeads([lead('x1', { email: 'twin@example.com' }), lead('x2', { email: 'TWIN@example.com ' })], TAG);
    expect(ok(results[0]).action).toBe('created');
    expect(ok(results[1]).action).toBe('linked');
    expect(ok(results[1]).externalId).toBe(ok(results[0]).externalId);
    expect(sandbox.listContacts()).toHaveLength(1);
  });

  it('clears a value with null on a linked update and leaves the origin tag alone', async () => {
    const id = sandbox.createContactAsUser({ email: 'clear@example.com', phone: '+1 555 0100', company: 'Old Co', [ORIGIN_PROPERTY]: 'manual' });
    const [r] = await client.pushLeads([lead('c', { email: 'clear@example.com', phone: null, company: 'New Co' }, id)], TAG);
    expect(ok(r).action).toBe('updated');
    const c = sandbox.getContact(id)!;
    expect(c.properties.phone).toBeNull();
    expect(c.properties.company).toBe('New Co');
    expect(c.properties[ORIGIN_PROPERTY]).toBe('manual');
  });

  it('splits large pushes into calls of at most 100 inputs', async () => {
    const leads = Array.from({ length: 230 }, (_, i) => lead(`b${i}`, { email: `bulk${i}@example.com` }));
    const results = await client.pushLeads(leads, TAG);
    expect(results.every((r) => r.ok)).toBe(true);
    expect(results.map((r) => r.localId)).toEqual(leads.map((l) => l.localId));
    expect(calls(`${BATCH}/create`)).toHaveLength(3);
    expect(sandbox.listContacts()).toHaveLength(230);
    const again = await client.pushLeads(
      leads.map((l, i) => ({ ...l, externalId: (results[i] as { externalId: string }).externalId, fields: { ...l.fields, firstName: 'Bulk' } })),
      TAG,
    );
    expect(again.every((r) => r.ok && r.action === 'updated')).toBe(true);
    expect(calls(`${BATCH}/update`)).toHaveLength(3);
  });

  it('stops a push at a rate limit instead of hammering, failing the rest as RATE_LIMITED', async () => {
    const leads = Array.from({ length: 150 }, (_, i) => lead(`r${i}`, { email: `rl${i}@example.com` }));
    sandbox.controls.injectFault({ kind: 'rate_limit', retryAfterSeconds: 4 }, 1, { path: `${BATCH}/create` });
    const results = await client.pushLeads(leads, TAG);
    expect(results.every((r) => !r.ok && r.error.code === 'RATE_LIMITED' && r.error.retryAfterMs === 4000)).toBe(true);
    expect(calls(`${BATCH}/create`)).toHaveLength(1);
  });
});

describe('HubSpot client: pushLeads attribution', () => {
  beforeEach(() => start());

  it("charges a failed batch update to its own lead; the create it stopped is reported not attempted", async () => {
    const id = sandbox.createContactAsUser({ email: 'linked@example.com' });
    sandbox.controls.injectFault({ kind: 'server_error', status: 502 }, 1, { method: 'POST', path: `${BATCH}/update` });
    const [linked, fresh] = await client.pushLeads([lead('y', { email: 'linked@example.com', firstName: 'Y' }, id), lead('x', { email: 'x@example.com' })], TAG);
    expect(failed(linked).code).toBe('UPSTREAM');
    expect(linked.ok === false && linked.attempted).toBeUndefined();
    expect(fresh).toMatchObject({ ok: false, attempted: false });
    expect(calls(`${BATCH}/create`)).toEqual([]);
  });

  it('matches the 207 multi-status errors of a batch update to their inputs only', async () => {
    const id = sandbox.createContactAsUser({ email: 'there@example.com' });
    const [there, gone] = await client.pushLeads([lead('a', { email: 'there@example.com', firstName: 'A' }, id), lead('b', { email: 'gone@example.com' }, '999999')], TAG);
    expect(ok(there).externalId).toBe(id);
    expect(failed(gone).code).toBe('NOT_FOUND');
    expect(calls(`${BATCH}/update`).map((c) => c.status)).toEqual([207]);
  });
});

describe('HubSpot client: reads', () => {
  beforeEach(() => start());

  // HubSpot answers at most 50 records per batch read that asks for property histories
  // ("The maximum number of inputs supported in a batch request for property histories is 50").
  it('reads 120 ids in batches of 50 (the limit with property histories) and leaves missing ids out', async () => {
    const ids = Array.from({ length: 120 }, (_, i) => sandbox.createContactAsUser({ email: `r${i}@example.com` }));
    const recs = await client.readRecords([...ids, '999999']);
    expect(recs.map((r) => r.externalId)).toEqual(ids);
    expect(calls(`${BATCH}/read`).map((c) => (c.body as { inputs: unknown[] }).inputs.length)).toEqual([50, 50, 21]);
  });

  // propertiesWithHistory: each property's versions with the time each was set. A record
  // changed later in another property still tells when this one changed.
  it('reports when each synced field last changed, from the property histories', async () => {
    sandbox.controls.setClock(new Date('2026-03-01T10:00:00.000Z'));
    const id = sandbox.createContactAsUser({ email: 'times@example.com', firstname: 'Tia', phone: '+15550000001' });
    sandbox.controls.setClock(new Date('2026-03-01T10:05:00.000Z'));
    sandbox.updateContactAsUser(id, { phone: '+15550000002' });
    sandbox.controls.setClock(new Date('2026-03-01T10:09:00.000Z'));
    sandbox.updateContactAsUser(id, { firstname: 'Tina' });
    sandbox.controls.setClock(null);
    const [rec] = await client.readRecords([id]);
    expect(rec!.updatedAt).toEqual(new Date('2026-03-01T10:09:00.000Z'));
    expect(rec!.fieldUpdatedAt).toEqual({
      email: new Date('2026-03-01T10:00:00.000Z'),
      firstName: new Date('2026-03-01T10:09:00.000Z'),
      phone: new Date('2026-03-01T10:05:00.000Z'),
    });
    expect((calls(`${BATCH}/read`)[0]!.body as { propertiesWithHistory: string[] }).propertiesWithHistory).toEqual(
      expect.arrayContaining(['email', 'firstname', 'lastname', 'phone', 'company', 'lifecyclestage']),
    );
  });

  it('does not return archived contacts', async () => {
    const id = sandbox.createContactAsUser({ email: 'arch@example.com' });
    sandbox.deleteContact(id);
    expect(await client.readRecords([id])).toEqual([]);
  });

  it('loses no record when more records share one time than fit in a search page', async () => {
    sandbox.controls.setClock(new Date('2025-01-01T00:00:00.000Z'));
    const ids = Array.from({ length: 250 }, (_, i) => sandbox.createContactAsUser({ email: `tie${i}@example.com` }));
    sandbox.controls.setClock(new Date('2025-01-01T00:00:01.000Z'));
    const later = sandbox.createContactAsUser({ email: 'later@example.com' });
    sandbox.controls.setClock(null);
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let i = 0; i < 10; i++) {
      const page = await client.changesSince(cursor, 200);
      if (page.records.length === 0) break;
      seen.push(...page.records.map((r) => r.externalId));
      cursor = page.nextCursor;
    }
    expect(seen).toEqual([...ids, later]);
  });

  it('reads past the 10,000-result search window by moving the time window', async () => {
    await sandbox.close();
    await start({ searchRateLimit: null, rateLimit: null });
    client = connect({ settings: { searchRateLimit: { requests: 1000, perMs: 1000 } }, rateLimit: { requests: 1000, perMs: 1000 } });
    const base = Date.parse('2025-02-01T00:00:00.000Z');
    const n = 10_050;
    for (let i = 0; i < n; i++) {
      sandbox.controls.setClock(new Date(base + i * 1000));
      sandbox.createContactAsUser({ email: `w${i}@example.com` });
    }
    sandbox.controls.setClock(null);
    let total = 0;
    let cursor: string | null = null;
    for (let i = 0; i < 100; i++) {
      const page = await client.changesSince(cursor, 200);
      if (page.records.length === 0) break;
      total += page.records.length;
      cursor = page.nextCursor;
    }
    expect(total).toBe(n);
    expect(calls('/crm/v3/objects/contacts/search').every((c) => c.status === 200)).toBe(true);
  });

  it('starts a changes cursor at a given time, inclusive', async () => {
    const t = Date.parse('2025-03-01T00:00:00.000Z');
    const ids = [-1, 0, 1].map((d, i) => {
      sandbox.controls.setClock(new Date(t + d));
      return sandbox.createContactAsUser({ email: `at${i}@example.com` });
    });
    sandbox.controls.setClock(null);
    const page = await client.changesSince(client.cursorAt!(new Date(t)), 10);
    expect(page.records.map((r) => r.externalId)).toEqual([ids[1], ids[2]]);
  });

  it('refuses a cursor it did not make', async () => {
    expect((await rejection(client.changesSince('garbage', 10))).code).toBe('VALIDATION');
    expect((await rejection(client.listPage('not-a-cursor', 10))).code).toBe('VALIDATION');
  });
});

describe('HubSpot client: error translation', () => {
  beforeEach(() => start());

  it('429 ten-secondly -> RATE_LIMITED with Retry-After in ms', async () => {
    sandbox.controls.injectFault({ kind: 'rate_limit', retryAfterSeconds: 3 });
    const e = await rejection(client.listPage(null, 10));
    expect(e.code).toBe('RATE_LIMITED');
    expect(e.retryAfterMs).toBe(3000);
    expect(e.retryable).toBe(true);
  });

  it('429 DAILY -> RATE_LIMITED with a wait of at least a minute (until the daily reset)', async () => {
    sandbox.controls.injectFault({ kind: 'rate_limit', policy: 'DAILY' });
    const e = await rejection(client.listPage(null, 10));
    expect(e.code).toBe('RATE_LIMITED');
    expect(e.retryAfterMs!).toBeGreaterThanOrEqual(60_000);
    expect(e.retryAfterMs!).toBeLessThanOrEqual(24 * 3600_000 + 10_000);
  });

  it('429 on search (secondly limit) -> RATE_LIMITED with about a second', async () => {
    sandbox.controls.injectFault({ kind: 'rate_limit', policy: 'SECONDLY' }, 1, { path: '/crm/v3/objects/contacts/search' });
    const e = await rejection(client.changesSince(null, 10));
    expect(e.code).toBe('RATE_LIMITED');
    expect(e.retryAfterMs).toBe(1000);
  });

  it('5xx -> UPSTREAM, 401 -> AUTH_EXPIRED, 403 -> PERMISSION', async () => {
    sandbox.controls.injectFault({ kind: 'server_error', status: 503 });
    expect((await rejection(client.listPage(null, 10))).code).toBe('UPSTREAM');
    sandbox.expireAccessToken(sandbox.accessToken);
    const auth = await rejection(client.listPage(null, 10));
    expect(auth.code).toBe('AUTH_EXPIRED');
    expect(auth.status).toBe(401);
    sandbox.addAccessToken(sandbox.accessToken);
    sandbox.controls.injectFault('forbidden');
    expect((await rejection(client.readRecords(['1']))).code).toBe('PERMISSION');
  });

  it('a connection refused -> NETWORK', async () => {
    await sandbox.close();
    const e = await rejection(client.listPage(null, 10));
    expect(e.code).toBe('NETWORK');
    expect(e.retryable).toBe(true);
  });
});

describe('HubSpot client: rate limiter', () => {
  beforeEach(() => start({ rateLimit: { requests: 5, perMs: 1000 } }));

  it('spaces requests so a burst stays inside the CRM limit', async () => {
    // A token of its own: the CRM counts requests per token.
    sandbox.addAccessToken('burst-token');
    const limited = connect({ credentials: { accessToken: 'burst-token' }, rateLimit: { requests: 5, perMs: 1000 } });
    const results = await Promise.allSettled(Array.from({ length: 12 }, () => limited.listPage(null, 5)));
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    expect(sandbox.controls.requests.filter((c) => c.status === 429)).toEqual([]);
  });

  it('without spacing the same burst is refused by the CRM (429 -> RATE_LIMITED)', async () => {
    sandbox.addAccessToken('burst-token');
    const unlimited = connect({ credentials: { accessToken: 'burst-token' }, rateLimit: { requests: 1000, perMs: 1000 } });
    const results = await Promise.allSettled(Array.from({ length: 12 }, () => unlimited.listPage(null, 5)));
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(rejected.length).toBeGreaterThan(0);
    expect(rejected.every((r) => (r.reason as CrmError).code === 'RATE_LIMITED')).toBe(true);
  });

  it("spends the account's own budget when the integration's settings name one (rateLimit)", async () => {
    // A Professional account allows 190 per 10 s (developer changelog, "Increasing our API
    // limits"); here the sandbox's 5 / s stands for it, and the default budget (100 / 10 s)
    // would run into it.
    sandbox.addAccessToken('burst-token');
    const own = connect({ credentials: { accessToken: 'burst-token' }, settings: { rateLimit: { requests: 5, perMs: 1000 } } });
    const results = await Promise.allSettled(Array.from({ length: 12 }, () => own.listPage(null, 5)));
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    expect(sandbox.controls.requests.filter((c) => c.status === 429)).toEqual([]);
    expect(hubspotAdapter.settings.safeParse({ rateLimit: { requests: 0, perMs: 1000 } }).success).toBe(false);
  });
});

describe('HubSpot client: provision', () => {
  beforeEach(async () => {
    sandbox = await startHubSpotSandbox();
    client = connect();
  });

  const opts = { webhookUrl: WEBHOOK_URL, tagValues: [TAG] };

  it('without app credentials: creates the origin property and lists the manual webhook steps', async () => {
    const report = await client.provision(opts);
    expect(report.originFieldReady).toBe(true);
    expect(report.originFieldCreated).toBe(true);
    expect(report.subscriptionId).toBeNull();
    expect(report.manualSteps.join('\n')).toContain(WEBHOOK_URL);
    for (const e of ['contact.creation', 'contact.deletion', 'contact.merge', 'contact.restore', 'contact.propertyChange']) {
      expect(report.manualSteps.join('\n')).toContain(e);
    }
    const prop = sandbox.getProperty(ORIGIN_PROPERTY)!;
    expect(prop.type).toBe('enumeration');
    expect(prop.options.map((o) => o.value).sort()).toEqual(['hubspot', 'jazzaam', 'manual']);
    expect(sandbox.subscriptions()).toEqual([]);

    const again = await client.provision(opts);
    expect(again.originFieldCreated).toBe(false);
    expect(again.originFieldReady).toBe(true);
  });

  it('adds our tag to an existing origin property, keeping its options', async () => {
    await client.provision({ ...opts, tagValues: ['legacy-app'] });
    expect(sandbox.getProperty(ORIGIN_PROPERTY)!.options.map((o) => o.value)).not.toContain(TAG);
    const report = await client.provision(opts);
    expect(report.originFieldCreated).toBe(false);
    expect(sandbox.getProperty(ORIGIN_PROPERTY)!.options.map((o) => o.value).sort()).toEqual(['hubspot', 'jazzaam', 'legacy-app', 'manual']);
    expect(sandbox.controls.requests.some((c) => c.method === 'PATCH' && c.path === `/crm/v3/properties/contacts/${ORIGIN_PROPERTY}`)).toBe(true);
  });

  it('with appId and developerApiKey: sets the target URL and subscribes; unprovision removes only what it made', async () => {
    const operatorMade = sandbox.subscriptions().length; // none yet
    expect(operatorMade).toBe(0);
    // An operator already subscribed to creations by hand.
    await fetch(`${sandbox.url}/webhooks/v3/${sandbox.appId}/subscriptions?hapikey=${sandbox.developerApiKey}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ eventType: 'contact.creation', active: true }),
    });
    const app = connect({ credentials: { accessToken: sandbox.accessToken, appId: String(sandbox.appId), developerApiKey: sandbox.developerApiKey } });
    const report = await app.provision(opts);
    expect(report.manualSteps).toEqual([]);
    expect(report.subscriptionId!.split(',')).toHaveLength(10);
    const subs = sandbox.subscriptions();
    expect(subs.filter((s) => s.active)).toHaveLength(10);
    expect(subs.filter((s) => s.eventType === 'contact.propertyChange').map((s) => s.propertyName).sort()).toEqual(
      ['company', 'email', 'firstname', 'lastname', 'lifecyclestage', 'phone'],
    );
    const webhookSettings = await (await fetch(`${sandbox.url}/webhooks/v3/${sandbox.appId}/settings?hapikey=${sandbox.developerApiKey}`)).json();
    expect(webhookSettings.targetUrl).toBe(WEBHOOK_URL);

    // Running it again creates nothing new.
    await app.provision(opts);
    expect(sandbox.subscriptions()).toHaveLength(10);

    // A later connection, given the saved settings, removes exactly what provision created.
    const later = connect({
      credentials: { accessToken: sandbox.accessToken, appId: String(sandbox.appId), developerApiKey: sandbox.developerApiKey },
      settings: report.settings,
    });
    await later.unprovision!();
    expect(sandbox.subscriptions().map((s) => s.eventType)).toEqual(['contact.creation']);
  });

  it('a wrong developer API key fails provisioning with AUTH_EXPIRED', async () => {
    const app = connect({ credentials: { accessToken: sandbox.accessToken, appId: String(sandbox.appId), developerApiKey: 'wrong' } });
    expect((await rejection(app.provision(opts))).code).toBe('AUTH_EXPIRED');
  });
});
