// Leads fields beyond the six, against the Zoho sandbox over real HTTP: discovery (fields
// metadata), extra values written (insert, update) and read back (by ids, pages, changes).
import { afterEach, describe, expect, it } from 'vitest';
import type { CrmError, FieldValue, WriteResult } from '../../../adapters/contract.ts';
import { lead, provisionOptions, setup, TAG, type Setup, type SetupOptions } from './helpers.ts';

const EXTRA = ['Industry_Notes', 'Employee_Count', 'Newsletter_Opt_In', 'Renewal_Date', 'Last_Demo_At', 'Lead_Grade', 'Interests'];

let s: Setup | undefined;

async function provisioned(opts: SetupOptions = {}): Promise<Setup> {
  s = await setup(opts);
  await s.client.provision(provisionOptions());
  return s;
}

afterEach(async () => {
  await s?.close();
  s = undefined;
});

function ok(r: WriteResult | undefined): Extract<WriteResult, { ok: true }> {
  if (!r?.ok) throw new Error(`expected success, got ${r ? `${r.error.code}: ${r.error.message}` : 'nothing'}`);
  return r;
}

function failed(r: WriteResult | undefined): CrmError {
  if (!r || r.ok) throw new Error(`expected a failure, got ${JSON.stringify(r)}`);
  return r.error;
}

describe('Zoho listFields (fields metadata)', () => {
  it('lists custom fields of each type with their type, writability and options, and marks the six synced ones', async () => {
    const x = await provisioned();
    const fields = await x.client.listFields();
    const by = new Map(fields.map((f) => [f.name, f]));
    expect(by.get('Industry_Notes')).toMatchObject({ type: 'text', writable: true, custom: true });
    expect(by.get('Employee_Count')).toMatchObject({ type: 'number', writable: true, custom: true });
    expect(by.get('Newsletter_Opt_In')).toMatchObject({ type: 'boolean', writable: true });
    expect(by.get('Renewal_Date')).toMatchObject({ type: 'date', writable: true });
    expect(by.get('Last_Demo_At')).toMatchObject({ type: 'datetime', writable: true });
    // "-None-" is the empty choice, not an option; options are the display values records carry.
    expect(by.get('Lead_Grade')).toMatchObject({ type: 'picklist', options: [{ value: 'A', label: 'A' }, { value: 'B', label: 'B' }, { value: 'C', label: 'C' }] });
    expect(by.get('Interests')).toMatchObject({ type: 'multipicklist', options: [{ value: 'Sports', label: 'Sports' }, { value: 'Music', label: 'Music' }, { value: 'Travel', label: 'Travel' }] });
    // A formula field is computed by Zoho: reported not writable.
    expect(by.get('Engagement_Score')).toMatchObject({ type: 'number', writable: false, custom: true });
    expect(by.get('Created_Time')).toMatchObject({ type: 'datetime', writable: false, custom: false });
    expect(by.get('Lead_Status')).toMatchObject({ type: 'picklist', synced: 'status', custom: false });
    expect(by.get(x.client.originField)).toMatchObject({ type: 'picklist', custom: true });
    expect(fields.filter((f) => f.synced).map((f) => f.synced).sort()).toEqual(['company', 'email', 'firstName', 'lastName', 'phone', 'status']);
  });

  it('lists a field created through the fields API afterwards', async () => {
    const x = await provisioned();
    const token = x.sandbox.controls.issueAccessToken().accessToken;
    const res = await fetch(`${x.sandbox.url}/crm/v7/settings/fields?module=Leads`, {
      method: 'POST',
      headers: { authorization: `Zoho-oauthtoken ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ fields: [{ field_label: 'Regions', data_type: 'multiselectpicklist', pick_list_values: [{ display_value: 'EMEA', actual_value: 'EMEA' }] }] }),
    });
    expect(res.status).toBe(201);
    const regions = (await x.client.listFields()).find((f) => f.name === 'Regions');
    expect(regions).toMatchObject({ type: 'multipicklist', writable: true, custom: true, options: [{ value: 'EMEA', label: 'EMEA' }] });
  });
});

describe('Zoho extra fields: writes and reads', () => {
  const values: Record<string, FieldValue> = {
    Industry_Notes: 'Ships worldwide',
    Employee_Count: 250,
    Newsletter_Opt_In: true,
    Renewal_Date: '2027-03-15',
    Last_Demo_At: '2026-11-30T14:05:00.000Z',
    Lead_Grade: 'B',
    Interests: ['Music', 'Travel'],
  };

  it('round-trips text, number, boolean, date, date-time, picklist and multi-select values (pushLeads -> readRecords, listPage, changesSince)', async () => {
    const x = await provisioned({ extraFields: EXTRA });
    const created = ok((await x.client.pushLeads([{ ...lead('l1', { email: 'x@example.com', lastName: 'X' }), extra: values }], TAG))[0]);
    expect(created.action).toBe('created');
    expect(created.writtenExtra).toEqual(values);
    // Zoho's JSON forms: a multi-select as an array; date-times in the org's time zone.
    const stored = x.sandbox.controls.getLead(created.externalId)!;
    expect(stored).toMatchObject({ Employee_Count: 250, Newsletter_Opt_In: true, Interests: ['Music', 'Travel'], Last_Demo_At: '2026-11-30T19:35:00+05:30' });

    const [read] = await x.client.readRecords([created.externalId]);
    expect(read!.extra).toEqual(values);
    expect((await x.client.listPage(null, 10)).records[0]!.extra).toEqual(values);
    expect((await x.client.changesSince(null, 10)).records[0]!.extra).toEqual(values);
  });

  it('updates and clears extra values of a linked lead', async () => {
    const x = await provisioned({ extraFields: EXTRA });
    const id = x.sandbox.controls.createLeadAsUser({ Last_Name: 'Y', Email: 'y@example.com', Lead_Grade: 'A', Industry_Notes: 'old', Interests: ['Sports'], Newsletter_Opt_In: true });
    const extra = { Lead_Grade: 'C', Industry_Notes: null, Interests: null, Newsletter_Opt_In: null };
    const r = ok((await x.client.pushLeads([{ ...lead('y', { email: 'y@example.com', lastName: 'Y' }, id), extra }], TAG))[0]);
    // Zoho renders an empty boolean as false: reported as a read returns it.
    expect(r.writtenExtra).toEqual({ Lead_Grade: 'C', Industry_Notes: null, Interests: null, Newsletter_Opt_In: false });
    const [read] = await x.client.readRecords([id]);
    expect(read!.extra).toMatchObject({ Lead_Grade: 'C', Industry_Notes: null, Interests: null, Employee_Count: null, Newsletter_Opt_In: false });
  });

  it('fails only the lead with a value that is not one of the picklist options, with VALIDATION, before sending it', async () => {
    const x = await provisioned({ extraFields: EXTRA });
    const results = await x.client.pushLeads(
      [
        { ...lead('good', { email: 'good@example.com' }), extra: { Lead_Grade: 'A' } },
        { ...lead('bad', { email: 'bad@example.com' }), extra: { Lead_Grade: 'Z' } },
        { ...lead('bad2', { email: 'bad2@example.com' }), extra: { Interests: ['Music', 'Cooking'] } },
      ],
      TAG,
    );
    expect(ok(results[0]).writtenExtra).toEqual({ Lead_Grade: 'A' });
    expect(failed(results[1]).code).toBe('VALIDATION');
    expect(failed(results[2]).code).toBe('VALIDATION');
    expect(x.sandbox.controls.listLeads().map((l) => l.Email)).toEqual(['good@example.com']);
    // No stray option was added to the org's picklist.
    expect(x.sandbox.controls.fields().find((f) => f.api_name === 'Lead_Grade')!.pick_list_values).toEqual(['-None-', 'Grade_A', 'Grade_B', 'Grade_C']);
  });

  it('fails only the lead Zoho refuses with a per-record INVALID_DATA (a field deleted after the adapter read the metadata), through the error translator', async () => {
    const x = await provisioned({ extraFields: EXTRA });
    await x.client.listFields(); // the adapter now knows Lead_Grade
    x.sandbox.controls.removeField('Lead_Grade');
    const results = await x.client.pushLeads(
      [{ ...lead('gone', { email: 'gone@example.com' }), extra: { Lead_Grade: 'C' } }, { ...lead('fine', { email: 'fine@example.com' }), extra: { Employee_Count: 3 } }],
      TAG,
    );
    expect(failed(results[0]).code).toBe('VALIDATION');
    expect(ok(results[1]).writtenExtra).toEqual({ Employee_Count: 3 });
    expect(x.sandbox.controls.listLeads().map((l) => l.Email)).toEqual(['fine@example.com']);
    // Reads go on, without the deleted field.
    const [read] = await x.client.readRecords([ok(results[1]).externalId]);
    expect(read!.fields.email).toBe('fine@example.com');
  });

  it('fails only the lead with a value of the wrong type, a read-only field or a field the module lacks, with VALIDATION', async () => {
    const x = await provisioned({ extraFields: EXTRA });
    const results = await x.client.pushLeads(
      [
        { ...lead('n', { email: 'n@example.com' }), extra: { Employee_Count: 'many' } },
        { ...lead('ro', { email: 'ro@example.com' }), extra: { Engagement_Score: 3 } },
        { ...lead('nf', { email: 'nf@example.com' }), extra: { No_Such_Field: 'x' } },
        { ...lead('fine', { email: 'fine@example.com' }), extra: { Employee_Count: 3 } },
      ],
      TAG,
    );
    expect(failed(results[0]).code).toBe('VALIDATION');
    expect(failed(results[1]).code).toBe('VALIDATION');
    expect(failed(results[2]).code).toBe('VALIDATION');
    expect(ok(results[3]).writtenExtra).toEqual({ Employee_Count: 3 });
    expect(x.sandbox.controls.listLeads().map((l) => l.Email)).toEqual(['fine@example.com']);
  });

  it('never writes the origin tag or one of the six as an extra field: VALIDATION for that lead only', async () => {
    const x = await provisioned({ extraFields: EXTRA });
    const origin = x.client.originField;
    const id = x.sandbox.controls.createLeadAsUser({ Last_Name: 'Mine', Email: 'mine@example.com', [origin]: 'manual' });
    const results = await x.client.pushLeads(
      [
        { ...lead('tag', { email: 'mine@example.com', lastName: 'Mine' }, id), extra: { [origin]: TAG } },
        { ...lead('six', { email: 'six@example.com' }), extra: { Lead_Status: 'Contacted' } },
        { ...lead('fine', { email: 'fine@example.com' }), extra: { Lead_Grade: 'A' } },
      ],
      TAG,
    );
    expect(failed(results[0]).code).toBe('VALIDATION');
    expect(failed(results[1]).code).toBe('VALIDATION');
    expect(ok(results[2]).action).toBe('created');
    expect(x.sandbox.controls.getLead(id)![origin]).toBe('manual');
  });

  it('reads the six fields when an extra field name is one the module lacks (absent from extra)', async () => {
    const x = await provisioned({ extraFields: ['No_Such_Field', 'Lead_Grade'] });
    const id = x.sandbox.controls.createLeadAsUser({ Last_Name: 'Zed', Email: 'z@example.com', Lead_Grade: 'B' });
    const [read] = await x.client.readRecords([id]);
    expect(read!.fields).toMatchObject({ email: 'z@example.com', lastName: 'Zed' });
    expect(read!.extra).toEqual({ Lead_Grade: 'B' });
    expect((await x.client.listPage(null, 10)).records[0]!.extra).toEqual({ Lead_Grade: 'B' });
    expect((await x.client.changesSince(null, 10)).records[0]!.extra).toEqual({ Lead_Grade: 'B' });
  });
});
