// Lead fields beyond the six, against the sandbox org over real HTTP with real jsforce:
// discovery (describe), extra values written (sObject Collections) and read back (SOQL).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FieldValue } from '../../../adapters/contract.ts';
import { startSalesforceSandbox, type SalesforceSandbox } from '../../../sandboxes/salesforce/index.ts';
import { connect, failed, lead, ok, TAG } from './helpers.ts';

let sb: SalesforceSandbox;

const EXTRA = ['Industry_Notes__c', 'Employee_Count__c', 'Newsletter_Opt_In__c', 'Renewal_Date__c', 'Last_Demo_At__c', 'Lead_Grade__c', 'Interests__c'];

beforeEach(async () => {
  sb = await startSalesforceSandbox();
});

afterEach(async () => {
  await sb.close();
});

describe('Salesforce listFields (describe)', () => {
  it('lists custom fields of each type with their type, writability and active picklist values, and marks the six synced ones', async () => {
    const fields = await connect(sb).listFields!();
    const by = new Map(fields.map((f) => [f.name, f]));
    expect(by.get('Industry_Notes__c')).toMatchObject({ type: 'text', writable: true, custom: true });
    expect(by.get('Employee_Count__c')).toMatchObject({ type: 'number', writable: true, custom: true });
    expect(by.get('Newsletter_Opt_In__c')).toMatchObject({ type: 'boolean', writable: true });
    expect(by.get('Renewal_Date__c')).toMatchObject({ type: 'date', writable: true });
    expect(by.get('Last_Demo_At__c')).toMatchObject({ type: 'datetime', writable: true });
    expect(by.get('Lead_Grade__c')).toMatchObject({ type: 'picklist', options: [{ value: 'A', label: 'A' }, { value: 'B', label: 'B' }, { value: 'C', label: 'C' }] });
    expect(by.get('Interests__c')).toMatchObject({ type: 'multipicklist', options: [{ value: 'Sports', label: 'Sports' }, { value: 'Music', label: 'Music' }, { value: 'Travel', label: 'Travel' }] });
    // A formula field is calculated, neither createable nor updateable: not writable.
    expect(by.get('Engagement_Score__c')).toMatchObject({ type: 'number', writable: false, custom: true });
    expect(by.get('CreatedDate')).toMatchObject({ type: 'datetime', writable: false, custom: false });
    expect(by.get('Status')).toMatchObject({ type: 'picklist', synced: 'status', custom: false });
    expect(by.get('Email')).toMatchObject({ type: 'email', synced: 'email' });
    expect(fields.filter((f) => f.synced).map((f) => f.synced).sort()).toEqual(['company', 'email', 'firstName', 'lastName', 'phone', 'status']);
  });

  it('lists a field an administrator adds later', async () => {
    sb.controls.addField({ name: 'Tier__c', label: 'Tier', type: 'picklist', picklistValues: ['Gold', 'Silver'] });
    const tier = (await connect(sb).listFields!()).find((f) => f.name === 'Tier__c');
    expect(tier).toMatchObject({ type: 'picklist', writable: true, custom: true, options: [{ value: 'Gold', label: 'Gold' }, { value: 'Silver', label: 'Silver' }] });
  });
});

describe('Salesforce extra fields: writes and reads', () => {
  const values: Record<string, FieldValue> = {
    Industry_Notes__c: 'Ships worldwide',
    Employee_Count__c: 250,
    Newsletter_Opt_In__c: true,
    Renewal_Date__c: '2027-03-15',
    Last_Demo_At__c: '2026-11-30T14:05:00.000Z',
    Lead_Grade__c: 'B',
    Interests__c: ['Music', 'Travel'],
  };

  it('round-trips text, number, boolean, date, date-time, picklist and multi-select values (pushLeads -> readRecords, listPage, changesSince)', async () => {
    const client = connect(sb, { extraFields: EXTRA });
    const created = ok((await client.pushLeads([{ ...lead('l1', { email: 'x@example.com', lastName: 'X' }), extra: values }], TAG))[0]);
    expect(created.action).toBe('created');
    expect(created.writtenExtra).toEqual(values);
    // Salesforce's JSON forms: numbers, booleans, a multi-select as "a;b".
    expect(sb.controls.getLead(created.externalId)!.values).toMatchObject({ Employee_Count__c: 250, Newsletter_Opt_In__c: true, Interests__c: 'Music;Travel' });

    const [read] = await client.readRecords([created.externalId]);
    expect(read!.extra).toEqual(values);
    expect((await client.listPage(null, 10)).records[0]!.extra).toEqual(values);
    expect((await client.changesSince(null, 10)).records[0]!.extra).toEqual(values);
  });

  it('updates and clears extra values of a linked Lead', async () => {
    const client = connect(sb, { extraFields: EXTRA });
    const id = sb.controls.createLeadAsUser({ LastName: 'Y', Company: 'Co', Email: 'y@example.com', Lead_Grade__c: 'A', Industry_Notes__c: 'old', Newsletter_Opt_In__c: true });
    const extra = { Lead_Grade__c: 'C', Industry_Notes__c: null, Interests__c: ['Sports'], Newsletter_Opt_In__c: null };
    const r = ok((await client.pushLeads([{ ...lead('y', { email: 'y@example.com', lastName: 'Y' }, id), extra }], TAG))[0]);
    // A cleared checkbox is unchecked in Salesforce, never empty: reported as a read returns it.
    expect(r.writtenExtra).toEqual({ Lead_Grade__c: 'C', Industry_Notes__c: null, Interests__c: ['Sports'], Newsletter_Opt_In__c: false });
    const [read] = await client.readRecords([id]);
    expect(read!.extra).toMatchObject({ Lead_Grade__c: 'C', Industry_Notes__c: null, Interests__c: ['Sports'], Employee_Count__c: null, Newsletter_Opt_In__c: false });
  });

  it('fails only the lead with a value outside a restricted picklist, with VALIDATION (per-record error of the collection)', async () => {
    const client = connect(sb, { extraFields: EXTRA });
    const results = await client.pushLeads(
      [
        { ...lead('good', { email: 'good@example.com' }), extra: { Lead_Grade__c: 'A' } },
        { ...lead('bad', { email: 'bad@example.com' }), extra: { Lead_Grade__c: 'Z' } },
        { ...lead('bad2', { email: 'bad2@example.com' }), extra: { Interests__c: ['Music', 'Cooking'] } },
      ],
      TAG,
    );
    expect(ok(results[0]).writtenExtra).toEqual({ Lead_Grade__c: 'A' });
    expect(failed(results[1]).error.code).toBe('VALIDATION');
    expect(failed(results[2]).error.code).toBe('VALIDATION');
    expect(sb.controls.listLeads().map((l) => l.values.Email)).toEqual(['good@example.com']);
  });

  it('fails only the lead with a value of the wrong type, a read-only field or a field the Lead lacks, with VALIDATION', async () => {
    const client = connect(sb, { extraFields: EXTRA });
    const results = await client.pushLeads(
      [
        { ...lead('n', { email: 'n@example.com' }), extra: { Employee_Count__c: 'many' } },
        { ...lead('ro', { email: 'ro@example.com' }), extra: { Engagement_Score__c: 3 } },
        { ...lead('nf', { email: 'nf@example.com' }), extra: { No_Such_Field__c: 'x' } },
        { ...lead('fine', { email: 'fine@example.com' }), extra: { Employee_Count__c: 3 } },
      ],
      TAG,
    );
    expect(failed(results[0]).error.code).toBe('VALIDATION');
    expect(failed(results[1]).error.code).toBe('VALIDATION');
    expect(failed(results[2]).error.code).toBe('VALIDATION');
    expect(ok(results[3]).writtenExtra).toEqual({ Employee_Count__c: 3 });
    expect(sb.controls.listLeads().map((l) => l.values.Email)).toEqual(['fine@example.com']);
  });

  it('never writes the origin tag, our lead id or one of the six as an extra field: VALIDATION for that lead only', async () => {
    const client = connect(sb, { extraFields: EXTRA });
    const id = sb.controls.createLeadAsUser({ LastName: 'Mine', Company: 'Co', Email: 'mine@example.com', Lead_Source_System__c: 'manual' });
    const results = await client.pushLeads(
      [
        { ...lead('tag', { email: 'mine@example.com', lastName: 'Mine' }, id), extra: { lead_source_system__c: TAG } },
        { ...lead('ext', { email: 'ext@example.com' }), extra: { Platform_Lead_Id__c: 'other' } },
        { ...lead('six', { email: 'six@example.com' }), extra: { Status: 'Working - Contacted' } },
        { ...lead('fine', { email: 'fine@example.com' }), extra: { Lead_Grade__c: 'A' } },
      ],
      TAG,
    );
    expect(results.slice(0, 3).map((r) => failed(r).error.code)).toEqual(['VALIDATION', 'VALIDATION', 'VALIDATION']);
    expect(ok(results[3]).action).toBe('created');
    expect(sb.controls.getLead(id)!.values.Lead_Source_System__c).toBe('manual');
    expect(sb.controls.listLeads().map((l) => l.values.Email).sort()).toEqual(['fine@example.com', 'mine@example.com']);
  });

  it('reads the six fields when an extra field name is one the Lead lacks, or one deleted after it was described', async () => {
    const client = connect(sb, { extraFields: ['No_Such_Field__c', 'Lead_Grade__c', 'Industry_Notes__c'] });
    const id = sb.controls.createLeadAsUser({ LastName: 'Zed', Company: 'Co', Email: 'z@example.com', Lead_Grade__c: 'B', Industry_Notes__c: 'n' });
    const [read] = await client.readRecords([id]);
    expect(read!.fields).toMatchObject({ email: 'z@example.com', lastName: 'Zed' });
    expect(read!.extra).toEqual({ Lead_Grade__c: 'B', Industry_Notes__c: 'n' });
    // Deleted in the org while the describe is cached: SOQL refuses it (INVALID_FIELD),
    // the describe is read again and the read still returns the six fields.
    sb.controls.removeField('Industry_Notes__c');
    const page = await client.listPage(null, 10);
    expect(page.records[0]!.fields.lastName).toBe('Zed');
    expect(page.records[0]!.extra).toEqual({ Lead_Grade__c: 'B' });
    const changes = await client.changesSince(null, 10);
    expect(changes.records[0]!.extra).toEqual({ Lead_Grade__c: 'B' });
  });
});
