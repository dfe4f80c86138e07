// The pure mappings of fields beyond the six, per CRM: the CRM's type -> CrmFieldType,
// values as the CRM returns them -> FieldValue, FieldValue -> the CRM's wire form.
import { describe, expect, it } from 'vitest';
import { CrmError } from '../../adapters/contract.ts';
import * as hubspot from '../../adapters/hubspot/fields.ts';
import * as salesforce from '../../adapters/salesforce/fields.ts';
import * as zoho from '../../adapters/zoho/fields.ts';

function refused(fn: () => unknown): CrmError {
  try {
    fn();
  } catch (e) {
    if (e instanceof CrmError) return e;
    throw e;
  }
  throw new Error('expected a CrmError');
}

describe('HubSpot property types and values', () => {
  it.each([
    [{ name: 'x', type: 'bool', fieldType: 'booleancheckbox' }, 'boolean'],
    [{ name: 'x', type: 'enumeration', fieldType: 'booleancheckbox' }, 'boolean'],
    [{ name: 'x', type: 'enumeration', fieldType: 'checkbox' }, 'multipicklist'],
    [{ name: 'x', type: 'enumeration', fieldType: 'select' }, 'picklist'],
    [{ name: 'x', type: 'enumeration', fieldType: 'radio' }, 'picklist'],
    [{ name: 'x', type: 'number', fieldType: 'number' }, 'number'],
    [{ name: 'x', type: 'date', fieldType: 'date' }, 'date'],
    [{ name: 'x', type: 'datetime', fieldType: 'date' }, 'datetime'],
    [{ name: 'x', type: 'phone_number', fieldType: 'phonenumber' }, 'phone'],
    [{ name: 'phone', type: 'string', fieldType: 'phonenumber' }, 'phone'],
    [{ name: 'email', type: 'string', fieldType: 'text' }, 'email'],
    [{ name: 'x', type: 'string', fieldType: 'textarea' }, 'text'],
    [{ name: 'x', type: 'object_coordinates', fieldType: 'text' }, 'text'],
  ])('%j is %s', (def, type) => {
    expect(hubspot.fieldType(def)).toBe(type);
  });

  it('a calculation or read-only property is not writable; hidden options are not offered', () => {
    expect(hubspot.toCrmField({ name: 'x', type: 'number', fieldType: 'calculation_equation' }).writable).toBe(false);
    expect(hubspot.toCrmField({ name: 'x', type: 'number', fieldType: 'number', calculated: true }).writable).toBe(false);
    expect(hubspot.toCrmField({ name: 'x', type: 'string', modificationMetadata: { readOnlyValue: true } }).writable).toBe(false);
    const f = hubspot.toCrmField({ name: 'x', type: 'enumeration', fieldType: 'select', options: [{ value: 'a', label: 'A' }, { value: 'b', label: 'B', hidden: true }] });
    expect(f.options).toEqual([{ value: 'a', label: 'A' }]);
  });

  it('normalises values as HubSpot returns them', () => {
    expect(hubspot.normaliseValue('date', '1430438400000')).toBe('2015-05-01'); // midnight UTC epoch ms
    expect(hubspot.normaliseValue('date', '2015-05-01')).toBe('2015-05-01');
    expect(hubspot.normaliseValue('datetime', '2015-04-02T18:02:46.000Z')).toBe('2015-04-02T18:02:46.000Z');
    expect(hubspot.normaliseValue('datetime', '1427997766000')).toBe('2015-04-02T18:02:46.000Z');
    expect(hubspot.normaliseValue('multipicklist', 'a;b;')).toEqual(['a', 'b']);
    expect(hubspot.normaliseValue('multipicklist', '')).toBeNull();
    expect(hubspot.normaliseValue('boolean', 'false')).toBe(false);
    expect(hubspot.normaliseValue('number', '12.5')).toBe(12.5);
    expect(hubspot.normaliseValue('text', '  ')).toBeNull();
  });

  it('writes every value as the string HubSpot takes, and refuses a value of the wrong kind', () => {
    expect(hubspot.wireValue('x', 'multipicklist', ['a', 'b'])).toBe('a;b');
    expect(hubspot.wireValue('x', 'boolean', true)).toBe('true');
    expect(hubspot.wireValue('x', 'number', 3)).toBe('3');
    expect(hubspot.wireValue('x', 'date', '2027-03-15')).toBe('2027-03-15');
    expect(hubspot.wireValue('x', 'datetime', '2026-11-30T19:35:00+05:30')).toBe('2026-11-30T14:05:00.000Z');
    expect(hubspot.wireValue('x', 'text', null)).toBe('');
    expect(refused(() => hubspot.wireValue('x', 'date', '15/03/2027')).code).toBe('VALIDATION');
    expect(refused(() => hubspot.wireValue('x', 'picklist', ['a'])).code).toBe('VALIDATION');
  });
});

describe('Salesforce field types and values', () => {
  it.each([
    ['boolean', 'boolean'],
    ['int', 'number'],
    ['double', 'number'],
    ['currency', 'number'],
    ['percent', 'number'],
    ['date', 'date'],
    ['datetime', 'datetime'],
    ['picklist', 'picklist'],
    ['multipicklist', 'multipicklist'],
    ['email', 'email'],
    ['phone', 'phone'],
    ['textarea', 'text'],
    ['reference', 'text'],
  ])('%s is %s', (sfType, type) => {
    expect(salesforce.fieldType(sfType)).toBe(type);
  });

  it('a formula field is not writable; inactive picklist values are not offered', () => {
    expect(salesforce.toCrmField({ name: 'F__c', type: 'double', calculated: true, createable: false, updateable: false }).writable).toBe(false);
    expect(salesforce.toCrmField({ name: 'C__c', type: 'string', createable: true, updateable: false }).writable).toBe(true);
    const f = salesforce.toCrmField({ name: 'P__c', type: 'picklist', custom: true, picklistValues: [{ value: 'A', label: 'Alpha', active: true }, { value: 'Z', label: 'Old', active: false }] });
    expect(f).toMatchObject({ custom: true, options: [{ value: 'A', label: 'Alpha' }] });
  });

  it('normalises values as SOQL returns them', () => {
    expect(salesforce.normaliseValue('datetime', '2024-05-01T10:00:00.000+0000')).toBe('2024-05-01T10:00:00.000Z');
    expect(salesforce.normaliseValue('multipicklist', 'Music;Travel')).toEqual(['Music', 'Travel']);
    expect(salesforce.normaliseValue('number', 250)).toBe(250);
    expect(salesforce.normaliseValue('boolean', false)).toBe(false);
    expect(salesforce.normaliseValue('text', { street: 'x' })).toBeNull();
  });

  it('writes JSON types and refuses a value of the wrong kind before sending it', () => {
    expect(salesforce.wireValue('M__c', 'multipicklist', ['Music', 'Travel'])).toBe('Music;Travel');
    expect(salesforce.wireValue('N__c', 'number', 3.5)).toBe(3.5);
    expect(salesforce.wireValue('B__c', 'boolean', false)).toBe(false);
    expect(refused(() => salesforce.wireValue('N__c', 'number', '3')).code).toBe('VALIDATION');
    expect(refused(() => salesforce.wireValue('B__c', 'boolean', 'true')).code).toBe('VALIDATION');
    const defs = new Map([['n__c', { name: 'N__c', type: 'double' }]]);
    expect(salesforce.extraPayload({ n__c: 3 }, defs, 'update')).toEqual({ N__c: 3 }); // API names are case-insensitive
    expect(refused(() => salesforce.extraPayload({ Gone__c: 'x' }, defs, 'update')).code).toBe('VALIDATION');
  });
});

describe('Zoho field types and values', () => {
  it.each([
    [{ api_name: 'x', data_type: 'integer' }, 'number'],
    [{ api_name: 'x', data_type: 'currency' }, 'number'],
    [{ api_name: 'x', data_type: 'boolean' }, 'boolean'],
    [{ api_name: 'x', data_type: 'date' }, 'date'],
    [{ api_name: 'x', data_type: 'datetime' }, 'datetime'],
    [{ api_name: 'x', data_type: 'picklist' }, 'picklist'],
    [{ api_name: 'x', data_type: 'multiselectpicklist' }, 'multipicklist'],
    [{ api_name: 'x', data_type: 'formula', formula: { return_type: 'double' } }, 'number'],
    [{ api_name: 'x', data_type: 'website' }, 'text'],
  ])('%j is %s', (def, type) => {
    expect(zoho.fieldType(def)).toBe(type);
  });

  it('read-only, formula and auto-number fields are not writable; -None- and unused values are not options', () => {
    expect(zoho.isWritable({ api_name: 'x', data_type: 'text', read_only: true })).toBe(false);
    expect(zoho.isWritable({ api_name: 'x', data_type: 'text', field_read_only: true })).toBe(false);
    expect(zoho.isWritable({ api_name: 'x', data_type: 'formula' })).toBe(false);
    expect(zoho.isWritable({ api_name: 'x', data_type: 'autonumber' })).toBe(false);
    const f = zoho.toCrmField({
      api_name: 'P',
      data_type: 'picklist',
      pick_list_values: [
        { display_value: '-None-', actual_value: '-None-', type: 'used' },
        { display_value: 'East', actual_value: 'IN_East', type: 'used' },
        { display_value: 'Gone', actual_value: 'Gone', type: 'unused' },
      ],
    });
    expect(f.options).toEqual([{ value: 'East', label: 'East' }]);
  });

  it('normalises values as Zoho renders them', () => {
    expect(zoho.normaliseValue('datetime', '2026-11-30T19:35:00+05:30')).toBe('2026-11-30T14:05:00.000Z');
    expect(zoho.normaliseValue('multipicklist', [])).toBeNull();
    expect(zoho.normaliseValue('multipicklist', ['Music'])).toEqual(['Music']);
    expect(zoho.normaliseValue('picklist', '-None-')).toBeNull();
    expect(zoho.normaliseValue('text', { id: '1', name: 'owner' })).toBeNull();
  });

  it('refuses values Zoho would store wrongly: unlisted options, fractions in integers, read-only fields', () => {
    const grade = { api_name: 'G', data_type: 'picklist', pick_list_values: [{ display_value: 'A', actual_value: 'Grade_A' }] };
    expect(zoho.wireValue(grade, 'A')).toBe('A');
    expect(refused(() => zoho.wireValue(grade, 'Grade_A')).code).toBe('VALIDATION');
    expect(refused(() => zoho.wireValue({ api_name: 'I', data_type: 'integer' }, 2.5)).code).toBe('VALIDATION');
    expect(refused(() => zoho.wireValue({ api_name: 'R', data_type: 'text', read_only: true }, 'x')).code).toBe('VALIDATION');
    expect(zoho.wireValue({ api_name: 'D', data_type: 'datetime' }, '2026-11-30T14:05:00.000Z')).toBe('2026-11-30T14:05:00+00:00');
    expect(zoho.wireValue({ api_name: 'M', data_type: 'multiselectpicklist' }, null)).toEqual([]);
  });
});
