// Field mappings as values: checking a mapping against the CRM's fields (each refusal's
// code), and converting values between the platform and the CRM's field types.
// The CRM fields below have the shapes each CRM's field discovery gives them: a HubSpot
// enumeration (select: one option value; checkbox: several, sent as one ";"-separated string
// per HubSpot's "set multiple values for checkbox properties"), a Salesforce restricted
// picklist and formula field, a Zoho multi-select (a JSON array of values).
import { describe, expect, it } from 'vitest';
import type { CrmField } from '../../adapters/contract.ts';
import { AppError } from '../../src/errors.ts';
import { fromCrmValue, parseMappings, planOf, sameValue, toCrmValue, type FieldMapping, type MappingInput } from '../../src/engine/mappings.ts';

const opts = (...values: string[]) => values.map((value) => ({ value, label: value.toUpperCase() }));
const FIELDS: CrmField[] = [
  { name: 'firstname', label: 'First name', type: 'text', writable: true, custom: false, synced: 'firstName' },
  { name: 'email', label: 'Email', type: 'email', writable: true, custom: false, synced: 'email' },
  { name: 'lead_source_system', label: 'Origin', type: 'text', writable: true, custom: true, reserved: true },
  { name: 'industry_notes', label: 'Industry notes', type: 'text', writable: true, custom: true },
  { name: 'nickname', label: 'Nickname', type: 'text', writable: true, custom: true },
  { name: 'website', label: 'Website', type: 'text', writable: true, custom: false },
  { name: 'employee_count', label: 'Employees', type: 'number', writable: true, custom: true },
  { name: 'lead_grade', label: 'Grade', type: 'picklist', writable: true, custom: true, options: opts('a', 'b', 'c') },
  { name: 'interests', label: 'Interests', type: 'multipicklist', writable: true, custom: true, options: opts('sports', 'music', 'travel') },
  { name: 'Engagement_Score__c', label: 'Score', type: 'number', writable: false, custom: true },
];
const RESERVED = ['email', 'lead_source_system'];

function problems(input: MappingInput[]): string[] {
  try {
    parseMappings(input, FIELDS, RESERVED);
  } catch (e) {
    expect(e).toBeInstanceOf(AppError);
    expect((e as AppError).code).toBe('VALIDATION');
    return (e as AppError).fields.map((p) => `${p.field} ${p.code}`);
  }
  return [];
}

const mapping = (m: Partial<FieldMapping> & Pick<FieldMapping, 'crmType'>): FieldMapping => ({ platform: 'attributes.x', crm: 'x', direction: 'both', conflict: 'newest', valueMap: [], ...m });

describe('parseMappings', () => {
  it('accepts a mapping with the defaults (both ways, newest wins), the CRM field by its canonical name and type', () => {
    const [m] = parseMappings([{ platform: ' attributes.notes ', crm: 'INDUSTRY_NOTES' }], FIELDS, RESERVED);
    expect(m).toEqual({ platform: 'attributes.notes', crm: 'industry_notes', direction: 'both', conflict: 'newest', valueMap: [], crmType: 'text' });
  });

  it('refuses each problem with its code, at the mapping it belongs to, all at once', () => {
    expect(
      problems([
        { platform: 'email', crm: 'industry_notes' },
        { platform: 'attributes.Bad-Key', crm: 'nickname' },
        { platform: 'attributes.a', crm: 'nope' },
        { platform: 'attributes.b', crm: 'lead_source_system' },
        { platform: 'attributes.c', crm: 'Engagement_Score__c' },
        { platform: 'company', crm: 'employee_count' },
        { platform: 'attributes.d', crm: 'website', valueMap: [{ platform: 'x', crm: 'y' }] },
        { platform: 'attributes.e', crm: 'lead_grade', valueMap: [{ platform: 'Gold', crm: 'platinum' }, { platform: 'Gold', crm: 'a' }, { platform: '', crm: 'b' }] },
        { platform: 'attributes.e', crm: 'interests' },
        { platform: 'attributes.f', crm: 'interests' },
      ]),
    ).toEqual([
      'mappings.0.platform MAPPING_PLATFORM_FIELD_INVALID',
      'mappings.1.platform MAPPING_PLATFORM_FIELD_INVALID',
      'mappings.2.crm MAPPING_UNKNOWN_CRM_FIELD',
      'mappings.3.crm MAPPING_RESERVED_CRM_FIELD',
      'mappings.4.crm MAPPING_READ_ONLY_TARGET',
      'mappings.5.crm MAPPING_TYPE_MISMATCH',
      'mappings.6.valueMap MAPPING_VALUE_MAP_NOT_PICKLIST',
      'mappings.7.valueMap.0.crm MAPPING_VALUE_MAP_UNKNOWN_OPTION',
      'mappings.7.valueMap.1.platform MAPPING_VALUE_MAP_DUPLICATE',
      'mappings.7.valueMap.2.platform MAPPING_VALUE_MAP_DUPLICATE',
      'mappings.8.platform MAPPING_DUPLICATE_PLATFORM_FIELD',
      'mappings.9.crm MAPPING_DUPLICATE_CRM_FIELD',
    ]);
  });

  it('names the option the CRM lacks and the ones it has', () => {
    try {
      parseMappings([{ platform: 'attributes.tier', crm: 'lead_grade', valueMap: [{ platform: 'Gold', crm: 'platinum' }] }], FIELDS, RESERVED);
      expect.unreachable();
    } catch (e) {
      expect((e as AppError).fields[0].message).toBe('"lead_grade" has no option "platinum" (options: a, b, c)');
    }
  });

  it('accepts a read-only field read from the CRM only, and two platform values sharing one option', () => {
    const out = parseMappings(
      [
        { platform: 'attributes.score', crm: 'Engagement_Score__c', direction: 'from_crm' },
        { platform: 'status', crm: 'lead_grade', valueMap: [{ platform: 'New', crm: 'a' }, { platform: 'Working', crm: 'a' }] },
      ],
      FIELDS,
      RESERVED,
    );
    expect(out.map((m) => `${m.platform} ${m.direction} ${m.crmType}`)).toEqual(['attributes.score from_crm number', 'status both picklist']);
  });

  it('refuses more than 100 mappings, and more than 200 values in one value map', () => {
    expect(problems(Array.from({ length: 101 }, (_, i) => ({ platform: `attributes.k${i}`, crm: 'industry_notes' })))).toEqual(['mappings MAPPING_TOO_MANY']);
    const big = Array.from({ length: 201 }, (_, i) => ({ platform: `v${i}`, crm: 'a' }));
    expect(problems([{ platform: 'attributes.tier', crm: 'lead_grade', valueMap: big }])).toEqual(['mappings.0.valueMap MAPPING_TOO_MANY']);
  });

  it('plans a synced field to its own CRM field on the fixed route, anything else through the extra channel', () => {
    const names = { email: 'email', firstName: 'firstname', lastName: 'lastname', phone: 'phone', company: 'company', status: 'lifecyclestage' } as const;
    const plan = planOf(
      [
        mapping({ platform: 'firstName', crm: 'firstname', crmType: 'text', direction: 'to_crm' }),
        mapping({ platform: 'status', crm: 'lifecyclestage', crmType: 'picklist', valueMap: [{ platform: 'New', crm: 'lead' }] }),
        mapping({ platform: 'attributes.notes', crm: 'industry_notes', crmType: 'text' }),
      ],
      names,
    );
    expect([...plan.fixed.keys()]).toEqual(['email', 'firstName']);
    expect(plan.extraFields).toEqual(['lifecyclestage', 'industry_notes']);
    // Not mapped at all (lastName, phone, company) or through the extra channel (status): the adapter writes none of them.
    expect(plan.skip).toEqual(['lastName', 'phone', 'company', 'status']);
    expect([...plan.notFromCrm]).toEqual(['firstName', 'lastName', 'phone', 'company', 'status']);
  });
});

describe('toCrmValue', () => {
  it('numbers: a number or a numeric text; anything else is refused with the reason', () => {
    const m = mapping({ crmType: 'number' });
    expect(toCrmValue(m, 12)).toEqual({ ok: true, value: 12 });
    expect(toCrmValue(m, ' 12.5 ')).toEqual({ ok: true, value: 12.5 });
    expect(toCrmValue(m, 'twelve')).toEqual({ ok: false, reason: '"twelve" is not a number' });
    expect(toCrmValue(m, true)).toMatchObject({ ok: false });
  });

  it('booleans: true/false in any case', () => {
    const m = mapping({ crmType: 'boolean' });
    expect(toCrmValue(m, false)).toEqual({ ok: true, value: false });
    expect(toCrmValue(m, 'TRUE')).toEqual({ ok: true, value: true });
    expect(toCrmValue(m, 'yes')).toMatchObject({ ok: false });
  });

  it('dates are YYYY-MM-DD only; date-times are normalised to UTC ISO', () => {
    expect(toCrmValue(mapping({ crmType: 'date' }), '2026-01-31')).toEqual({ ok: true, value: '2026-01-31' });
    expect(toCrmValue(mapping({ crmType: 'date' }), '31/01/2026')).toEqual({ ok: false, reason: '"31/01/2026" is not a date (YYYY-MM-DD)' });
    expect(toCrmValue(mapping({ crmType: 'date' }), '2026-01-31T10:00:00Z')).toMatchObject({ ok: false });
    expect(toCrmValue(mapping({ crmType: 'datetime' }), '2026-01-31T10:00:00+02:00')).toEqual({ ok: true, value: '2026-01-31T08:00:00.000Z' });
    expect(toCrmValue(mapping({ crmType: 'datetime' }), 'soon')).toMatchObject({ ok: false });
  });

  it('multi-select: a list stays a list, a ";"-separated text is split; a list to a text field is joined by ";"', () => {
    expect(toCrmValue(mapping({ crmType: 'multipicklist' }), ['music', 'sports'])).toEqual({ ok: true, value: ['music', 'sports'] });
    expect(toCrmValue(mapping({ crmType: 'multipicklist' }), 'music; sports;')).toEqual({ ok: true, value: ['music', 'sports'] });
    expect(toCrmValue(mapping({ crmType: 'text' }), ['a', 'b'])).toEqual({ ok: true, value: 'a;b' });
  });

  it('empty values clear the CRM field', () => {
    for (const v of [null, '', []]) expect(toCrmValue(mapping({ crmType: 'number' }), v)).toEqual({ ok: true, value: null });
    expect(toCrmValue(mapping({ crmType: 'text' }), '   ')).toEqual({ ok: true, value: null });
  });

  it('value maps: platform values (any case) to options, two platform values onto one option, unmapped values refused', () => {
    const m = mapping({ crmType: 'picklist', valueMap: [{ platform: 'New', crm: 'lead' }, { platform: 'Working', crm: 'lead' }, { platform: 'Won', crm: 'customer' }] });
    expect(toCrmValue(m, 'new')).toEqual({ ok: true, value: 'lead' });
    expect(toCrmValue(m, 'Working')).toEqual({ ok: true, value: 'lead' });
    expect(toCrmValue(m, 'Lost')).toEqual({ ok: false, reason: 'no CRM value is mapped for "Lost"' });
    const multi = mapping({ crmType: 'multipicklist', valueMap: [{ platform: 'Sport', crm: 'sports' }, { platform: 'Music', crm: 'music' }] });
    expect(toCrmValue(multi, ['Sport', 'Music'])).toEqual({ ok: true, value: ['sports', 'music'] });
    expect(toCrmValue(multi, 'Sport')).toEqual({ ok: true, value: ['sports'] });
    expect(toCrmValue(multi, ['Sport', 'Art'])).toEqual({ ok: false, reason: 'no CRM value is mapped for "Art"' });
  });
});

describe('fromCrmValue', () => {
  it('a value map reads an option back as its first platform value, so a shared option never flips the platform value', () => {
    const m = mapping({ platform: 'status', crmType: 'picklist', valueMap: [{ platform: 'New', crm: 'lead' }, { platform: 'Working', crm: 'lead' }] });
    expect(fromCrmValue(m, 'lead')).toEqual({ ok: true, value: 'New' });
    expect(fromCrmValue(m, 'customer')).toEqual({ ok: false, reason: 'the CRM value "customer" has no platform value in the value map' });
  });

  it('a multi-select through a value map: a list for an attribute, a ";"-joined text for a synced field', () => {
    const valueMap = [{ platform: 'Sport', crm: 'sports' }, { platform: 'Music', crm: 'music' }];
    expect(fromCrmValue(mapping({ crmType: 'multipicklist', valueMap }), ['music', 'sports'])).toEqual({ ok: true, value: ['Music', 'Sport'] });
    expect(fromCrmValue(mapping({ platform: 'company', crmType: 'multipicklist', valueMap }), ['music', 'sports'])).toEqual({ ok: true, value: 'Music;Sport' });
  });

  it('attributes keep the CRM value’s kind (number, boolean, list); synced fields take text; empty is null', () => {
    expect(fromCrmValue(mapping({ crmType: 'number' }), 40)).toEqual({ ok: true, value: 40 });
    expect(fromCrmValue(mapping({ crmType: 'boolean' }), false)).toEqual({ ok: true, value: false });
    expect(fromCrmValue(mapping({ crmType: 'multipicklist' }), ['a'])).toEqual({ ok: true, value: ['a'] });
    expect(fromCrmValue(mapping({ platform: 'company', crmType: 'number' }), 40)).toEqual({ ok: true, value: '40' });
    for (const v of [undefined, null, '', []]) expect(fromCrmValue(mapping({ crmType: 'text' }), v)).toEqual({ ok: true, value: null });
  });
});

describe('sameValue', () => {
  it('multi-select values compare as sets; empties are all the same; texts ignore surrounding blanks', () => {
    expect(sameValue(['a', 'b'], ['b', 'a'])).toBe(true);
    expect(sameValue(['a', 'b'], ['a'])).toBe(false);
    expect(sameValue(['a'], 'a')).toBe(false);
    for (const [a, b] of [[null, undefined], ['', null], [[], null], [undefined, []]] as const) expect(sameValue(a as never, b as never)).toBe(true);
    expect(sameValue(' x ', 'x')).toBe(true);
    expect(sameValue(1, 1)).toBe(true);
    expect(sameValue(1, 2)).toBe(false);
    expect(sameValue(false, null)).toBe(false);
  });
});
