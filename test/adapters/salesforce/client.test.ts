// The Salesforce client over real HTTP with real jsforce, against the sandbox org.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Credentials, CrmClient } from '../../../adapters/contract.ts';
import { NOT_PROVIDED } from '../../../adapters/salesforce/index.ts';
import { startSalesforceSandbox, type SalesforceSandbox } from '../../../sandboxes/salesforce/index.ts';
import { caught, connect, failed, lead, ok, TAG } from './helpers.ts';

let sb: SalesforceSandbox;
let client: CrmClient;

beforeEach(async () => {
  sb = await startSalesforceSandbox();
  client = connect(sb);
});

afterEach(async () => {
  await sb.close();
});

const apiCalls = (pathPart: string) => sb.controls.requests.filter((r) => r.path.includes(pathPart));

describe('pushLeads', () => {
  it('creates a tagged Lead carrying our lead id, and the same push again updates that Lead', async () => {
    const l = lead('lead-1', { email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace', company: 'Engines' });
    const first = ok((await client.pushLeads([l], TAG))[0]);
    expect(first.action).toBe('created');
    const second = ok((await client.pushLeads([{ ...l, fields: { ...l.fields, phone: '+44 1' } }], TAG))[0]);
    expect(second.externalId).toBe(first.externalId);
    expect(second.action).toBe('updated');

    const leads = sb.controls.listLeads();
    expect(leads).toHaveLength(1);
    expect(leads[0].values).toMatchObject({
      Id: first.externalId,
      Email: 'ada@example.com',
      Phone: '+44 1',
      Lead_Source_System__c: TAG,
      Platform_Lead_Id__c: 'lead-1',
    });
  });

  it('writes through sObject Collections with Sforce-Call-Options naming our client', async () => {
    await client.pushLeads([lead('c-1', { email: 'c1@example.com' }), lead('c-2', { email: 'c2@example.com' })], TAG);
    const writes = sb.controls.requests.filter((r) => r.method !== 'GET');
    expect(writes.map((w) => `${w.method} ${w.path}`)).toEqual(['PATCH /services/data/v62.0/composite/sobjects/Lead/Platform_Lead_Id__c']);
    expect(sb.controls.requests.every((r) => r.callOptions === 'client=crm-sync')).toBe(true);
    expect(sb.controls.listLeads().map((l) => l.lastModifiedByClient)).toEqual(['crm-sync', 'crm-sync']);

    const custom = connect(sb, { settings: { callOptionsClient: 'jazzaam-sync' } });
    const [r] = await custom.pushLeads([lead('c-1', { email: 'c1@example.com', firstName: 'Cee' })], TAG);
    expect(sb.controls.getLead(ok(r).externalId)?.lastModifiedByClient).toBe('jazzaam-sync');
  });

  it('fills the required LastName and Company with the documented default, read back as null', async () => {
    const [r] = await client.pushLeads([lead('bare', { email: 'bare@example.com' })], TAG);
    const id = ok(r).externalId;
    expect(sb.controls.getLead(id)?.values).toMatchObject({ LastName: NOT_PROVIDED, Company: NOT_PROVIDED, Status: 'Open - Not Contacted' });
    const [rec] = await client.readRecords([id]);
    expect(rec.fields.lastName).toBeNull();
    expect(rec.fields.company).toBeNull();
  });

  it('never overwrites a real name with the default, nor the origin tag, when updating a linked Lead', async () => {
    const id = sb.controls.createLeadAsUser({ LastName: 'Hopper', Company: 'Navy', Email: 'grace@example.com', Lead_Source_System__c: 'manual' });
    const [r] = await client.pushLeads([lead('grace', { email: 'grace@example.com', firstName: 'Grace' }, id)], TAG);
    expect(ok(r).action).toBe('updated');
    expect(sb.controls.getLead(id)?.values).toMatchObject({ LastName: 'Hopper', Company: 'Navy', FirstName: 'Grace', Lead_Source_System__c: 'manual' });
    expect(sb.controls.getLead(id)?.values.Platform_Lead_Id__c).toBeNull();
  });

  it('links a Lead found by email (oldest first) and writes our fields without claiming it', async () => {
    sb.controls.setClock(new Date('2024-01-01T00:00:00Z'));
    const older = sb.controls.createLeadAsUser({ LastName: 'Old', Company: 'A', Email: 'Dup@Example.com' });
    sb.controls.setClock(new Date('2024-02-01T00:00:00Z'));
    sb.controls.createLeadAsUser({ LastName: 'New', Company: 'B', Email: 'dup@example.com' });
    sb.controls.setClock(null);
    const [r] = await client.pushLeads([lead('dup', { email: ' DUP@example.com', firstName: 'Linked' })], TAG);
    expect(ok(r)).toMatchObject({ externalId: older, action: 'linked' });
    expect(sb.controls.getLead(older)?.values).toMatchObject({ FirstName: 'Linked', Lead_Source_System__c: null });
    expect(sb.controls.listLeads()).toHaveLength(2);
  });

  it('surfaces a composite partial failure per record, in input order, without losing the others', async () => {
    const results = await client.pushLeads(
      [
        lead('p-1', { email: 'p1@example.com' }),
        lead('p-2', { email: 'not-an-email' }),
        lead('p-3', { email: 'p3@example.com', lastName: 'x'.repeat(81) }),
        lead('p-4', { email: 'p4@example.com' }),
      ],
      TAG,
    );
    expect(results.map((r) => r.localId)).toEqual(['p-1', 'p-2', 'p-3', 'p-4']);
    expect(ok(results[0]).action).toBe('created');
    expect(failed(results[1]).error).toMatchObject({ code: 'VALIDATION', retryable: false });
    expect(failed(results[1]).error.message).toContain('INVALID_EMAIL_ADDRESS');
    expect(failed(results[2]).error.message).toContain('STRING_TOO_LONG');
    expect(ok(results[3]).action).toBe('created');
    expect(sb.controls.listLeads().map((l) => l.values.Platform_Lead_Id__c).sort()).toEqual(['p-1', 'p-4']);
  });

  it('detects success:false inside a 2xx answer, and a retry then creates exactly one Lead', async () => {
    sb.controls.failNextRecordWrites(1, 'UNABLE_TO_LOCK_ROW');
    const l = lead('locked', { email: 'locked@example.com' });
    const [r] = await client.pushLeads([l], TAG);
    const status = sb.controls.requests.at(-1)!.status;
    expect(status).toBe(200);
    expect(failed(r).error).toMatchObject({ code: 'UPSTREAM', retryable: true });
    expect(sb.controls.listLeads()).toHaveLength(0);
    ok((await client.pushLeads([l], TAG))[0]);
    ok((await client.pushLeads([l], TAG))[0]);
    expect(sb.controls.listLeads()).toHaveLength(1);
  });

  it('links the record named by DUPLICATES_DETECTED instead of creating a second one', async () => {
    // The org's rule matches on name + phone, which our e-mail look-up cannot see.
    sb.controls.setDuplicateRule({ fields: ['LastName', 'Phone'] });
    const existing = sb.controls.createLeadAsUser({ LastName: 'Curie', Company: 'Lab', Phone: '+33 1 00', Email: 'marie@lab.example' });
    const [r] = await client.pushLeads([lead('marie', { email: 'marie.curie@example.com', lastName: 'Curie', phone: '+33 1 00', firstName: 'Marie' })], TAG);
    expect(ok(r)).toMatchObject({ externalId: existing, action: 'linked' });
    expect(sb.controls.listLeads()).toHaveLength(1);
    expect(sb.controls.getLead(existing)?.values).toMatchObject({ FirstName: 'Marie', Lead_Source_System__c: null });
  });

  it('reports a duplicate caused by an update of a linked Lead as CONFLICT with the existing id', async () => {
    sb.controls.setDuplicateRule(true);
    const a = sb.controls.createLeadAsUser({ LastName: 'A', Company: 'X', Email: 'a@example.com' });
    const b = sb.controls.createLeadAsUser({ LastName: 'B', Company: 'X', Email: 'b@example.com' });
    const [r] = await client.pushLeads([lead('b', { email: 'a@example.com', lastName: 'B' }, b)], TAG);
    expect(failed(r).error).toMatchObject({ code: 'CONFLICT', existingId: a });
  });

  it('reports a linked Lead that was deleted in Salesforce as NOT_FOUND for that lead only', async () => {
    const gone = sb.controls.createLeadAsUser({ LastName: 'Gone', Company: 'X' });
    const here = sb.controls.createLeadAsUser({ LastName: 'Here', Company: 'X' });
    sb.controls.deleteLead(gone);
    const results = await client.pushLeads([lead('g', { lastName: 'G' }, gone), lead('h', { lastName: 'H' }, here), lead('bad', {}, 'not-an-id')], TAG);
    expect(failed(results[0]).error.code).toBe('NOT_FOUND');
    expect(ok(results[1]).action).toBe('updated');
    expect(failed(results[2]).error.code).toBe('NOT_FOUND');
  });

  it('splits large pushes into collections of at most 200 records and keeps one result per input', async () => {
    const leads = Array.from({ length: 450 }, (_, i) => lead(`bulk-${i}`, { email: `bulk${i}@example.com` }));
    const results = await client.pushLeads(leads, TAG);
    expect(results.map((r) => r.localId)).toEqual(leads.map((l) => l.localId));
    expect(results.every((r) => r.ok && r.action === 'created')).toBe(true);
    const upserts = apiCalls('/composite/sobjects/Lead/');
    expect(upserts).toHaveLength(3);
    expect(sb.controls.listLeads()).toHaveLength(450);
  });
});

describe('session refresh', () => {
  it('refreshes an expired session, replays the call and hands the new token to onCredentialsChanged first', async () => {
    const seen: Credentials[] = [];
    const c = connect(sb, { onCredentialsChanged: (creds) => void seen.push(creds) });
    const id = sb.controls.createLeadAsUser({ LastName: 'Turing', Company: 'Bletchley' });
    const before = sb.controls.credentials().accessToken;
    sb.controls.expireAccessTokens();

    const [rec] = await c.readRecords([id]);
    expect(rec.externalId).toBe(id);
    expect(sb.controls.tokenRefreshes()).toBe(1);
    expect(seen).toHaveLength(1);
    expect(seen[0].accessToken).toBe(sb.controls.credentials().accessToken);
    expect(seen[0].accessToken).not.toBe(before);
    expect(seen[0].instanceUrl).toBe(sb.url);

    // What was persisted is enough for a new connection.
    const fresh = connect(sb, { credentials: seen[0] });
    expect((await fresh.readRecords([id])).map((r) => r.externalId)).toEqual([id]);
  });

  it('keeps a rotated refresh token, so the next expiry refreshes again', async () => {
    await sb.close();
    sb = await startSalesforceSandbox({ rotateRefreshTokens: true });
    const seen: Credentials[] = [];
    const c = connect(sb, { onCredentialsChanged: (creds) => void seen.push(creds) });
    const firstRefresh = sb.controls.credentials().refreshToken;
    sb.controls.expireAccessTokens();
    await c.listPage(null, 10);
    expect(seen[0].refreshToken).not.toBe(firstRefresh);
    expect(seen[0].refreshToken).toBe(sb.controls.credentials().refreshToken);
    sb.controls.expireAccessTokens();
    await c.listPage(null, 10);
    expect(sb.controls.tokenRefreshes()).toBe(2);
  });

  it('a write refused with 401 is replayed once refreshed and creates a single Lead', async () => {
    sb.controls.injectFault('auth_expired', 1, { method: 'PATCH' });
    const [r] = await client.pushLeads([lead('w401', { email: 'w401@example.com' }, null)], TAG);
    expect(ok(r).action).toBe('created');
    expect(sb.controls.tokenRefreshes()).toBe(1);
    expect(sb.controls.requests.filter((q) => q.method === 'PATCH').map((q) => q.status)).toEqual([401, 200]);
    expect(sb.controls.listLeads()).toHaveLength(1);
  });

  it('ends in AUTH_REVOKED, not retryable, when the refresh token is revoked (invalid_grant)', async () => {
    sb.controls.expireAccessTokens();
    sb.controls.revokeRefreshToken();
    const err = await caught(client.listPage(null, 10));
    expect(err).toMatchObject({ code: 'AUTH_REVOKED', retryable: false });
  });

  it('gives up with AUTH_EXPIRED instead of refreshing forever when every fresh token is refused', async () => {
    sb.controls.injectFault('auth_expired', 50);
    const err = await caught(client.listPage(null, 10));
    expect(err.code).toBe('AUTH_EXPIRED');
    expect(sb.controls.tokenRefreshes()).toBeLessThanOrEqual(3);
  });

  it('without a refresh token a 401 is AUTH_EXPIRED', async () => {
    const c = connect(sb, { credentials: { accessToken: sb.controls.credentials().accessToken } });
    sb.controls.expireAccessTokens();
    expect((await caught(c.readRecords(['00Q5g0000000001EAA']))).code).toBe('AUTH_EXPIRED');
  });
});

describe('pushLeads: whose failure is it', () => {
  it("charges a failed upsert call to its new leads; the linked lead it stopped is reported not attempted", async () => {
    const linked = ok((await client.pushLeads([lead('known', { email: 'known@example.com' })], TAG))[0]).externalId;
    // The collection upsert (PATCH .../composite/sobjects/Lead/<external id field>) answers 503.
    sb.controls.injectFault('server_error', 1, { method: 'PATCH', pathIncludes: 'Platform_Lead_Id__c' });
    const [fresh, known] = await client.pushLeads([lead('fresh', { email: 'fresh@example.com' }), lead('known', { email: 'known@example.com', firstName: 'K' }, linked)], TAG);
    expect(failed(fresh).error.code).toBe('UPSTREAM');
    expect(failed(fresh).attempted).toBeUndefined();
    expect(failed(known)).toMatchObject({ attempted: false });
    expect(sb.controls.getLead(linked)?.values.FirstName ?? null).toBeNull();
  });

  it('answers per lead when a collection update fails as a whole, and sends no later chunk after it', async () => {
    const created = await client.pushLeads(Array.from({ length: 250 }, (_, i) => lead(`u-${i}`, { email: `u${i}@example.com` })), TAG);
    const ids = created.map((r) => ok(r).externalId);
    // The first collection update (PATCH .../composite/sobjects, Ids in the body) answers 503.
    sb.controls.injectFault('server_error', 1, { method: 'PATCH', pathIncludes: 'composite/sobjects' });
    const before = apiCalls('composite/sobjects').length;
    const results = await client.pushLeads(ids.map((id, i) => lead(`u-${i}`, { email: `u${i}@example.com`, firstName: 'U' }, id)), TAG);
    expect(results.map((r) => r.localId)).toEqual(ids.map((_, i) => `u-${i}`));
    // The 200 leads of the failed call carry its error; the 50 of the next chunk were not sent.
    expect(results.slice(0, 200).every((r) => !r.ok && r.error.code === 'UPSTREAM' && r.attempted === undefined)).toBe(true);
    expect(results.slice(200).every((r) => !r.ok && r.attempted === false)).toBe(true);
    expect(apiCalls('composite/sobjects').length - before).toBe(1);
    expect(sb.controls.getLead(ids[249]!)?.values.FirstName ?? null).toBeNull();
  });

  it('attributes composite per-record results (allOrNone=false) to their own leads', async () => {
    const a = ok((await client.pushLeads([lead('a', { email: 'a@example.com' })], TAG))[0]).externalId;
    const [good, missing] = await client.pushLeads([lead('a', { email: 'a@example.com', firstName: 'A' }, a), lead('b', { email: 'b@example.com' }, '00Q5g0000000009EAA')], TAG);
    expect(ok(good).externalId).toBe(a);
    expect(failed(missing).error.code).toBe('NOT_FOUND');
    expect(failed(missing).attempted).toBeUndefined();
  });
});

describe('error translation', () => {
  it('REQUEST_LIMIT_EXCEEDED becomes RATE_LIMITED with a back-off hint', async () => {
    sb.controls.injectFault('rate_limit', 1);
    const err = await caught(client.listPage(null, 10));
    expect(err).toMatchObject({ code: 'RATE_LIMITED', retryable: true, provider: 'SALESFORCE' });
    expect(err.retryAfterMs).toBeGreaterThan(0);
    expect((await client.listPage(null, 10)).records).toEqual([]);
  });

  it('an org out of daily API requests is RATE_LIMITED', async () => {
    sb.controls.setApiLimit(1);
    await client.listPage(null, 10);
    expect((await caught(client.listPage(null, 10))).code).toBe('RATE_LIMITED');
  });

  it('a 5xx on a read fails at once as UPSTREAM (one request: the engine owns retries)', async () => {
    sb.controls.injectFault('server_error', 1);
    const before = sb.controls.requests.length;
    const err = await caught(client.readRecords(['00Q5g0000000001EAA']));
    expect(err).toMatchObject({ code: 'UPSTREAM', retryable: true });
    expect(sb.controls.requests.length - before).toBe(1);
  });

  it('a dropped connection is NETWORK', async () => {
    sb.controls.injectFault('network', 1);
    expect((await caught(client.changesSince(null, 10))).code).toBe('NETWORK');
  });

  it('an unreachable org is NETWORK', async () => {
    const url = sb.url;
    await sb.close();
    const c = connect({ ...sb, url });
    expect((await caught(c.listPage(null, 1))).code).toBe('NETWORK');
    sb = await startSalesforceSandbox();
  });

  it('a cursor that is not ours is VALIDATION', async () => {
    expect((await caught(client.changesSince('garbage', 10))).code).toBe('VALIDATION');
    expect((await caught(client.listPage('garbage', 10))).code).toBe('VALIDATION');
  });
});

describe('reads', () => {
  it('readRecords returns existing Leads only: unknown, malformed and deleted ids are absent', async () => {
    const a = sb.controls.createLeadAsUser({ LastName: 'A', Company: 'X', Lead_Source_System__c: TAG });
    const b = sb.controls.createLeadAsUser({ LastName: 'B', Company: 'X' });
    sb.controls.deleteLead(b);
    const recs = await client.readRecords([a, b, '00Q5g000000zzzzEAA', 'nope', a.slice(0, 15)]);
    expect(recs.map((r) => r.externalId)).toEqual([a]);
    expect(recs[0].originTag).toBe(TAG);
  });

  it('listPage follows queryMore when Salesforce answers in small batches, to the end, in Id order', async () => {
    const ids = Array.from({ length: 10 }, (_, i) => sb.controls.createLeadAsUser({ LastName: `L${i}`, Company: 'X' }));
    sb.controls.setQueryBatchSize(3);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await client.listPage(cursor, 4);
      expect(page.records.length).toBeLessThanOrEqual(4);
      seen.push(...page.records.map((r) => r.externalId));
      cursor = page.nextCursor;
      pages++;
    } while (cursor && pages < 10);
    expect(seen).toEqual(ids);
    expect(pages).toBe(3);
    expect(apiCalls('/query/01g').length).toBeGreaterThan(0);
  });

  it('changesSince never loses Leads that share one SystemModstamp, and resumes from the saved cursor', async () => {
    sb.controls.setClock(new Date('2024-03-01T12:00:00.400Z'));
    const tied = Array.from({ length: 5 }, (_, i) => sb.controls.createLeadAsUser({ LastName: `T${i}`, Company: 'X' }));
    sb.controls.setClock(new Date('2024-03-01T12:00:01Z'));
    const later = sb.controls.createLeadAsUser({ LastName: 'Later', Company: 'X' });

    const seen: string[] = [];
    let cursor: string | null = null;
    for (let i = 0; i < 10; i++) {
      const page = await client.changesSince(cursor, 2);
      if (page.records.length === 0) {
        expect(page.nextCursor).toBe(cursor);
        break;
      }
      seen.push(...page.records.map((r) => r.externalId));
      cursor = page.nextCursor;
    }
    expect(seen).toEqual([...tied, later]);

    sb.controls.setClock(new Date('2024-03-01T12:00:05Z'));
    sb.controls.updateLeadAsUser(tied[2], { FirstName: 'Edited' });
    const next = await client.changesSince(cursor, 10);
    expect(next.records.map((r) => r.externalId)).toEqual([tied[2]]);
    expect(next.records[0].fields.firstName).toBe('Edited');
    expect(next.records[0].updatedAt?.toISOString()).toBe('2024-03-01T12:00:05.000Z');
  });

  it('cursorAt starts the changes at a time, including Leads stamped in that very second', async () => {
    sb.controls.setClock(new Date('2024-03-01T09:00:00Z'));
    sb.controls.createLeadAsUser({ LastName: 'Before', Company: 'X' });
    sb.controls.setClock(new Date('2024-03-01T10:00:00Z'));
    const atStart = sb.controls.createLeadAsUser({ LastName: 'AtStart', Company: 'X' });
    sb.controls.setClock(new Date('2024-03-01T11:00:00Z'));
    const after = sb.controls.createLeadAsUser({ LastName: 'After', Company: 'X' });
    const cursor = client.cursorAt!(new Date('2024-03-01T10:00:00.700Z'));
    const page = await client.changesSince(cursor, 10);
    expect(page.records.map((r) => r.externalId)).toEqual([atStart, after]);
  });
});

describe('provision', () => {
  const opts = { webhookUrl: 'https://sync.example.com/api/v1/webhooks/salesforce', tagValues: [TAG, 'manual'] };

  it('reports ready fields and tells the admin how to set up the outbound message', async () => {
    const report = await client.provision(opts);
    expect(report).toMatchObject({ originFieldReady: true, originFieldCreated: false, subscriptionId: null });
    const steps = report.manualSteps.join('\n');
    expect(steps).toContain(opts.webhookUrl);
    expect(steps).toContain('Outbound Message on Lead');
    expect(steps).toContain('Lead_Source_System__c');
    expect(steps).toContain('LastModifiedDate');
    expect(report.settings).toMatchObject({ originField: 'Lead_Source_System__c', externalIdField: 'Platform_Lead_Id__c' });
  });

  it('is not ready when the custom fields are missing, and says which to create', async () => {
    await sb.close();
    sb = await startSalesforceSandbox({ originField: null, externalIdField: null });
    const report = await connect(sb).provision(opts);
    expect(report.originFieldReady).toBe(false);
    const steps = report.manualSteps.join('\n');
    expect(steps).toContain('Create the custom field Lead.Lead_Source_System__c');
    expect(steps).toMatch(/Create the custom field Lead\.Platform_Lead_Id__c.*External ID/);
  });

  it('is not ready when the id field is not an External ID or the tag is not an allowed picklist value', async () => {
    await sb.close();
    sb = await startSalesforceSandbox({ originField: null, externalIdField: null });
    sb.controls.addField({ name: 'Lead_Source_System__c', label: 'Origin', type: 'picklist', picklistValues: ['manual'], restrictedPicklist: true, custom: true });
    sb.controls.addField({ name: 'Platform_Lead_Id__c', label: 'Platform id', type: 'string', length: 255, custom: true });
    const report = await connect(sb).provision(opts);
    expect(report.originFieldReady).toBe(false);
    const steps = report.manualSteps.join('\n');
    expect(steps).toContain(`Add the values ${TAG} to the restricted picklist`);
    expect(steps).toContain('Mark Lead.Platform_Lead_Id__c as "External ID"');
  });
});
