// The in-memory listing of a CRM's fields per integration: answered until its time is up.
import { describe, expect, it } from 'vitest';
import type { CrmField } from '../../adapters/contract.ts';
import { CRM_FIELDS_TTL_MS, CrmFieldCache } from '../../src/engine/crm-fields.ts';

const grade: CrmField = { name: 'lead_grade', label: 'Lead grade', type: 'picklist', writable: true, custom: true, options: [{ value: 'a', label: 'A' }] };

describe('CrmFieldCache', () => {
  it('keeps a listing for 10 minutes per integration, then forgets it', () => {
    let now = 1_000_000;
    const cache = new CrmFieldCache(CRM_FIELDS_TTL_MS, () => now);
    expect(CRM_FIELDS_TTL_MS).toBe(10 * 60_000);
    cache.set('i-1', [grade]);
    expect(cache.get('i-1')).toEqual([grade]);
    expect(cache.get('i-2')).toBeNull();
    now += CRM_FIELDS_TTL_MS - 1;
    expect(cache.get('i-1')).toEqual([grade]);
    now += 1;
    expect(cache.get('i-1')).toBeNull();
  });
});
