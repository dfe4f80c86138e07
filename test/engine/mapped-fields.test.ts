// What a CRM record changes through the mappings of a linked lead (mappedFromCrm): per
// field, in the CRM's terms, against what the link knows the CRM held, with each
// mapping's direction and conflict rule. Pure: no database.
import { describe, expect, it } from 'vitest';
import { carriesExtraChanges, mappedFromCrm } from '../../src/engine/mapped-fields.ts';
import { planOf, type ConflictRule, type FieldMapping, type MappingDirection } from '../../src/engine/mappings.ts';

const NAMES = { email: 'email', firstName: 'firstname', lastName: 'lastname', phone: 'phone', company: 'company', status: 'lifecyclestage' } as const;
const T0 = new Date('2026-12-01T10:00:00.500Z');

function scenario(direction: MappingDirection, conflict: ConflictRule, opts: { known?: Record<string, number>; crmAt: Date }) {
  const m: FieldMapping = { platform: 'attributes.headcount', crm: 'employee_count', direction, conflict, valueMap: [], crmType: 'number' };
  const plan = planOf([m], NAMES);
  // The platform changed the value to 5 at T0; the CRM now holds 42, changed at crmAt.
  return mappedFromCrm(
    plan,
    { remoteExtra: opts.known ?? { employee_count: 1 } },
    { attributes: { headcount: 5 }, updatedAt: T0 },
    { extra: { employee_count: 42 }, updatedAt: opts.crmAt },
    { 'attributes.headcount': T0 },
  );
}

describe('mappedFromCrm: both sides changed a mapped field since they last agreed', () => {
  const earlier = new Date('2026-12-01T10:00:00.000Z'); // a whole-second stamp of the same second
  const later = new Date('2026-12-01T10:00:05.000Z');

  it('crm_wins takes the CRM value whatever the times', () => {
    const c = scenario('both', 'crm_wins', { crmAt: earlier });
    expect(c.attributes).toEqual({ headcount: 42 });
    expect(c.writeBack).toBe(false);
  });

  it('platform_wins keeps the platform value and asks for it to be written back', () => {
    const c = scenario('both', 'platform_wins', { crmAt: later });
    expect(c.attributes).toEqual({});
    expect(c.writeBack).toBe(true);
    expect(c.snapshot).toEqual({ employee_count: 42 });
  });

  it('newest goes by the two change times', () => {
    expect(scenario('both', 'newest', { crmAt: later }).attributes).toEqual({ headcount: 42 });
    const older = scenario('both', 'newest', { crmAt: earlier });
    expect(older.attributes).toEqual({});
    expect(older.writeBack).toBe(true);
  });

  it('from_crm: the CRM change is applied even when the platform value looks newer (it is never written to the CRM, so there is nothing to write back)', () => {
    for (const conflict of ['newest', 'platform_wins'] as const) {
      for (const known of [{ employee_count: 1 }, {}] as Record<string, number>[]) {
        const c = scenario('from_crm', conflict, { crmAt: earlier, known });
        expect(c.attributes).toEqual({ headcount: 42 });
        expect(c.writeBack).toBe(false);
      }
    }
  });

  it('to_crm: the CRM change is not applied, and only remembered as what the CRM holds', () => {
    const c = scenario('to_crm', 'newest', { crmAt: later });
    expect(c.attributes).toEqual({});
    expect(c.writeBack).toBe(false);
    expect(c.snapshot).toEqual({ employee_count: 42 });
  });

  it('our own write coming back (the value the link knows) is no change', () => {
    const c = mappedFromCrm(
      planOf([{ platform: 'attributes.headcount', crm: 'employee_count', direction: 'both', conflict: 'newest', valueMap: [], crmType: 'number' }], NAMES),
      { remoteExtra: { employee_count: 5 } },
      { attributes: { headcount: 5 }, updatedAt: T0 },
      { extra: { employee_count: 5 }, updatedAt: later },
      {},
    );
    expect(c.attributes).toEqual({});
    expect(c.writeBack).toBe(false);
  });
});

describe('carriesExtraChanges: does a creation notification of our own record hold a mapped value we did not write?', () => {
  it('a value other than the one written is a change; a field never written and still empty is none; no mapped fields, none', () => {
    const written = { Industry_Notes__c: 'Retail' };
    expect(carriesExtraChanges(written, { extra: { Industry_Notes__c: 'Retail', Employee_Count__c: null } })).toBe(false);
    expect(carriesExtraChanges(written, { extra: { Industry_Notes__c: 'Wholesale' } })).toBe(true);
    expect(carriesExtraChanges(written, { extra: { Industry_Notes__c: 'Retail', Employee_Count__c: 42 } })).toBe(true);
    expect(carriesExtraChanges(null, { extra: undefined })).toBe(false);
  });
});
