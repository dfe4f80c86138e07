// Contact properties beyond the six, against the HubSpot sandbox over real HTTP through
// the real SDK: discovery (properties API), extra values written and read back.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CrmError, emptyFields, type ConnectionOptions, type CrmClient, type FieldValue, type LeadFields, type OutboundLead, type WriteResult } from '../../../adapters/contract.ts';
import { hubspotAdapter } from '../../../adapters/hubspot/index.ts';
import { startHubSpotSandbox, type HubSpotSandbox } from '../../../sandboxes/hubspot/index.ts';

const TAG = 'jazzaam';
let sandbox: HubSpotSandbox;

const EXTRA_NAMES = ['industry_notes', 'employee_count', 'newsletter_opt_in', 'renewal_date', 'lead_grade', 'interests', 'last_demo_at'];

/** A client, once the origin-tag property exists (provisioned like the service does). */
async function connected(over: Partial<ConnectionOptions> = {}): Promise<CrmClient> {
  const client = connect(over);
  await client.provision({ webhookUrl: 'https://sync.example.com/api/v1/webhooks/hubspot', tagValues: [TAG] });
  return client;
}

function connect(over: Partial<ConnectionOptions> = {}): CrmClient {
  return hubspotAdapter.connect({
    baseUrl: sandbox.url,
    accountId: String(sandbox.portalId),
    credentials: { accessToken: sandbox.accessToken },
    settings: {},
    network: { allowLocalHosts: true },
    ...over,
  });
}

function lead(localId: string, fields: Partial<LeadFields>, extra?: Record<string, FieldValue>, externalId: string | null = null): OutboundLead {
  return { localId, externalId, fields: { ...emptyFields(), lastName: 'Doe', ...fields }, ...(extra ? { extra } : {}) };
}

function ok(r: WriteResult | undefined) {
  if (!r?.ok) throw new Error(`expected success, got ${r ? `${r.error.code}: ${r.error.message}` : 'nothing'}`);
  return r;
}

function failed(r: WriteResult | undefined): CrmError {
  if (!r || r.ok) throw new Error(`expected a failure, got ${JSON.stringify(r)}`);
  return r.error;
}

beforeEach(async () => {
  sandbox = await startHubSpotSandbox({});
});

afterEach(async () => {
  await sandbox?.close();
});

describe('HubSpot listFields (properties API)', () => {
  it('lists custom properties of each type with their type, writability and options, and marks the six synced ones', async () => {
    const fields = await connect().listFields!();
    const by = new Map(fields.map((f) => [f.name, f]));
    expect(by.get('industry_notes')).toMatchObject({ type: 'text', writable: true, custom: true });
    expect(by.get('employee_count')).toMatchObject({ type: 'number', writable: true, custom: true });
    expect(by.get('newsletter_opt_in')).toMatchObject({ type: 'boolean', writable: true });
    expect(by.get('renewal_date')).toMatchObject({ type: 'date', writable: true });
    expect(by.get('last_demo_at')).toMatchObject({ type: 'datetime', writable: true });
    expect(by.get('lead_grade')).toMatchObject({ type: 'picklist', options: [{ value: 'a', label: 'A' }, { value: 'b', label: 'B' }, { value: 'c', label: 'C' }] });
    expect(by.get('interests')).toMatchObject({ type: 'multipicklist', options: [{ value: 'sports', label: 'Sports' }, { value: 'music', label: 'Music' }, { value: 'travel', label: 'Travel' }] });
    // A calculation property is computed by HubSpot: reported not writable.
    expect(by.get('engagement_score')).toMatchObject({ type: 'number', writable: false, custom: true });
    expect(by.get('createdate')).toMatchObject({ type: 'datetime', writable: false, custom: false });
    expect(by.get('lifecyclestage')).toMatchObject({ type: 'picklist', synced: 'status', custom: false });
    expect(by.get('email')).toMatchObject({ type: 'email', synced: 'email' });
    expect(by.get('phone')).toMatchObject({ type: 'phone', synced: 'phone' });
    expect(fields.filter((f) => f.synced).map((f) => f.synced).sort()).toEqual(['company', 'email', 'firstName', 'lastName', 'phone', 'status']);
  });

  it('lists a property created through the properties API afterwards', async () => {
    const res = await fetch(`${sandbox.url}/crm/v3/properties/contacts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${sandbox.accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'tier', label: 'Tier', type: 'enumeration', fieldType: 'radio', groupName: 'contactinformation', options: [{ label: 'Gold', value: 'gold' }] }),
    });
    expect(res.status).toBe(201);
    const tier = (await connect().listFields!()).find((f) => f.name === 'tier');
    expect(tier).toMatchObject({ type: 'picklist', writable: true, custom: true, options: [{ value: 'gold', label: 'Gold' }] });
  });
});

describe('HubSpot extra fields: writes and reads', () => {
  const values: Record<string, FieldValue> = {
    industry_notes: 'Ships worldwide',
    employee_count: 250,
    newsletter_opt_in: true,
    renewal_date: '2027-03-15',
    lead_grade: 'b',
    interests: ['music', 'travel'],
    last_demo_at: '2026-11-30T14:05:00.000Z',
  };

  it('round-trips text, number, boolean, date, date-time, picklist and multi-select values (pushLeads -> readRecords, listPage)', async () => {
    const client = await connected({ extraFields: EXTRA_NAMES });
    const [r] = await client.pushLeads([lead('l1', { email: 'x@example.com' }, values)], TAG);
    const created = ok(r);
    expect(created.writtenExtra).toEqual(values);
    // HubSpot's wire form: multi-select as "a;b", booleans as "true".
    const stored = sandbox.getContact(created.externalId)!.properties;
    expect(stored.interests).toBe('music;travel');
    expect(stored.newsletter_opt_in).toBe('true');

    const [read] = await client.readRecords([created.externalId]);
    expect(read!.extra).toEqual(values);
    expect(read!.fields.email).toBe('x@example.com');
    expect(Object.keys(read!.extraUpdatedAt ?? {}).sort()).toEqual([...EXTRA_NAMES].sort());
    const page = await client.listPage(null, 10);
    expect(page.records.find((x) => x.externalId === created.externalId)!.extra).toEqual(values);
    const changes = await client.changesSince(null, 10);
    expect(changes.records.find((x) => x.externalId === created.externalId)!.extra).toEqual(values);
  });

  it('updates and clears extra values on a linked contact; empty ones read as null', async () => {
    const client = await connected({ extraFields: EXTRA_NAMES });
    const id = sandbox.createContactAsUser({ email: 'y@example.com', lead_grade: 'a', interests: 'sports', industry_notes: 'old' });
    const [r] = await client.pushLeads([lead('l1', { email: 'y@example.com' }, { lead_grade: 'c', interests: ['sports', 'music'], industry_notes: null }, id)], TAG);
    expect(ok(r).writtenExtra).toEqual({ lead_grade: 'c', interests: ['sports', 'music'], industry_notes: null });
    const [read] = await client.readRecords([id]);
    expect(read!.extra).toMatchObject({ lead_grade: 'c', interests: ['sports', 'music'], industry_notes: null, employee_count: null, newsletter_opt_in: null });
  });

  it('fails only the lead with a value that is not one of the picklist options, with VALIDATION', async () => {
    const client = await connected({ extraFields: EXTRA_NAMES });
    const results = await client.pushLeads(
      [lead('good', { email: 'good@example.com' }, { lead_grade: 'a' }), lead('bad', { email: 'bad@example.com' }, { lead_grade: 'z' }), lead('bad2', { email: 'bad2@example.com' }, { interests: ['music', 'cooking'] })],
      TAG,
    );
    expect(ok(results[0]).writtenExtra).toEqual({ lead_grade: 'a' });
    expect(failed(results[1]).code).toBe('VALIDATION');
    expect(failed(results[2]).code).toBe('VALIDATION');
    expect(sandbox.findContactByEmail('bad@example.com')).toBeNull();
    expect(sandbox.findContactByEmail('good@example.com')!.properties.lead_grade).toBe('a');
  });

  it('fails only the linked contact with a bad option when HubSpot refuses the whole batch update (400): the others are updated one by one', async () => {
    const client = await connected({ extraFields: EXTRA_NAMES });
    const a = sandbox.createContactAsUser({ email: 'a@example.com' });
    const b = sandbox.createContactAsUser({ email: 'b@example.com' });
    const results = await client.pushLeads(
      [lead('a', { email: 'a@example.com' }, { lead_grade: 'c' }, a), lead('b', { email: 'b@example.com' }, { lead_grade: 'nope' }, b)],
      TAG,
    );
    expect(sandbox.controls.requests.filter((c) => c.path === '/crm/v3/objects/contacts/batch/update').map((c) => c.status)).toEqual([400]);
    expect(ok(results[0]).writtenExtra).toEqual({ lead_grade: 'c' });
    expect(failed(results[1]).code).toBe('VALIDATION');
    expect(sandbox.getContact(a)!.properties.lead_grade).toBe('c');
    expect(sandbox.getContact(b)!.properties.lead_grade).toBeNull();
  });

  it('fails only the lead with a value of the wrong type or a read-only property, with VALIDATION', async () => {
    const client = await connected({ extraFields: EXTRA_NAMES });
    const results = await client.pushLeads(
      [
        lead('n', { email: 'n@example.com' }, { employee_count: 'many' }),
        lead('ro', { email: 'ro@example.com' }, { engagement_score: 3 }),
        lead('d', { email: 'd@example.com' }, { renewal_date: '15/03/2027' }),
        lead('fine', { email: 'fine@example.com' }, { employee_count: 3 }),
      ],
      TAG,
    );
    expect(failed(results[0]).code).toBe('VALIDATION');
    expect(failed(results[1]).code).toBe('VALIDATION');
    expect(failed(results[2]).code).toBe('VALIDATION');
    expect(ok(results[3]).writtenExtra).toEqual({ employee_count: 3 });
    expect(sandbox.listContacts().map((c) => c.properties.email)).toEqual(['fine@example.com']);
  });

  it('never writes the origin tag or one of the six as an extra field, and fails a property the portal lacks: VALIDATION for that lead only', async () => {
    const client = await connected({ extraFields: EXTRA_NAMES });
    const id = sandbox.createContactAsUser({ email: 'mine@example.com', lead_source_system: 'manual', firstname: 'Ann' });
    const results = await client.pushLeads(
      [
        lead('tag', { email: 'mine@example.com', firstName: 'Ann' }, { lead_source_system: TAG }, id),
        lead('six', { email: 'six@example.com' }, { firstname: 'Other' }),
        lead('nf', { email: 'nf@example.com' }, { no_such_property: 'x' }),
        lead('fine', { email: 'fine@example.com' }, { lead_grade: 'a' }),
      ],
      TAG,
    );
    expect(failed(results[0]).code).toBe('VALIDATION');
    expect(failed(results[1]).code).toBe('VALIDATION');
    expect(failed(results[2]).code).toBe('VALIDATION');
    expect(ok(results[3]).action).toBe('created');
    expect(sandbox.getContact(id)!.properties.lead_source_system).toBe('manual');
    expect(sandbox.listContacts().map((c) => c.properties.email)).toEqual(['mine@example.com', 'fine@example.com']);
  });

  it('reads the six fields when an extra field name is one the portal does not have (absent from extra)', async () => {
    const client = connect({ extraFields: ['no_such_property', 'lead_grade'] });
    const id = sandbox.createContactAsUser({ email: 'z@example.com', firstname: 'Zed', lead_grade: 'b' });
    const [read] = await client.readRecords([id]);
    expect(read!.fields).toMatchObject({ email: 'z@example.com', firstName: 'Zed' });
    expect(read!.extra).toEqual({ lead_grade: 'b' });
    const page = await client.listPage(null, 10);
    expect(page.records[0]!.fields.firstName).toBe('Zed');
    expect(page.records[0]!.extra).toEqual({ lead_grade: 'b' });
    const changes = await client.changesSince(null, 10);
    expect(changes.records[0]!.extra).toEqual({ lead_grade: 'b' });
  });

  it('subscribes to property changes of the extra fields the portal has, so a change to one of them alone is notified', async () => {
    const app = connect({
      extraFields: ['lead_grade', 'interests', 'no_such_property'],
      credentials: { accessToken: sandbox.accessToken, appId: String(sandbox.appId), developerApiKey: sandbox.developerApiKey },
    });
    const report = await app.provision({ webhookUrl: 'https://sync.example.com/api/v1/webhooks/hubspot', tagValues: [TAG] });
    expect(report.events).toEqual(expect.arrayContaining(['contact.propertyChange:lead_grade', 'contact.propertyChange:interests']));
    const watched = sandbox.subscriptions().filter((s) => s.eventType === 'contact.propertyChange' && s.active).map((s) => s.propertyName).sort();
    expect(watched).toEqual(['company', 'email', 'firstname', 'interests', 'lastname', 'lead_grade', 'lifecyclestage', 'phone']);
  });

  it('reads no extra values and asks for no property list when no extra field is configured', async () => {
    const client = connect();
    const id = sandbox.createContactAsUser({ email: 'w@example.com', lead_grade: 'b' });
    const [read] = await client.readRecords([id]);
    expect(read!.extra).toBeUndefined();
    expect(sandbox.controls.requests.filter((c) => c.path.startsWith('/crm/v3/properties'))).toHaveLength(0);
  });
});
