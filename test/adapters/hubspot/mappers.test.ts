import { describe, expect, it } from 'vitest';
import { CrmError, emptyFields, hasOwnOrigin, type LeadFields } from '../../../adapters/contract.ts';
import {
  ORIGIN_PROPERTY,
  READ_PROPERTIES,
  readOriginTag,
  statusToLifecycleStage,
  toCrmRecord,
  toHubSpotProperties,
  toLeadFields,
} from '../../../adapters/hubspot/mappers.ts';

const full: LeadFields = {
  email: '  Ada.Lovelace@Example.COM ',
  firstName: 'Ada',
  lastName: 'Lovelace',
  phone: '+44 20 7946 0000',
  company: 'Analytical Engines',
  status: 'MQL',
};

describe('HubSpot mappers: contract fields -> properties', () => {
  it('creates with every known field, the email normalised and our origin tag', () => {
    expect(toHubSpotProperties(full, 'create', 'jazzaam')).toEqual({
      email: 'ada.lovelace@example.com',
      firstname: 'Ada',
      lastname: 'Lovelace',
      phone: '+44 20 7946 0000',
      company: 'Analytical Engines',
      lifecyclestage: 'marketingqualifiedlead',
      [ORIGIN_PROPERTY]: 'jazzaam',
    });
  });

  it('omits empty fields on create (nothing to clear)', () => {
    const props = toHubSpotProperties({ ...emptyFields(), email: 'a@b.co', phone: '   ' }, 'create', 'jazzaam');
    expect(props).toEqual({ email: 'a@b.co', [ORIGIN_PROPERTY]: 'jazzaam' });
  });

  it('clears with "" on update of a linked record, never clears the email, never writes the tag', () => {
    const props = toHubSpotProperties({ ...emptyFields(), lastName: 'Byron' }, 'update');
    expect(props).toEqual({ firstname: '', lastname: 'Byron', phone: '', company: '', lifecyclestage: '' });
    expect(props).not.toHaveProperty(ORIGIN_PROPERTY);
    expect(props).not.toHaveProperty('email');
  });

  it('writes only known values when linking a record someone else made', () => {
    const props = toHubSpotProperties({ ...emptyFields(), email: 'x@y.io', firstName: 'Grace' }, 'link');
    expect(props).toEqual({ firstname: 'Grace' });
  });

  it('refuses to create without an origin tag', () => {
    expect(() => toHubSpotProperties(full, 'create', '  ')).toThrowError(CrmError);
  });

  it('maps status spellings to lifecycle stages and rejects unknown ones', () => {
    expect(statusToLifecycleStage('Sales Qualified Lead')).toBe('salesqualifiedlead');
    expect(statusToLifecycleStage('sql')).toBe('salesqualifiedlead');
    expect(statusToLifecycleStage('marketing_qualified_lead')).toBe('marketingqualifiedlead');
    expect(statusToLifecycleStage('CUSTOMER')).toBe('customer');
    expect(statusToLifecycleStage('123456')).toBe('123456');
    try {
      statusToLifecycleStage('hot prospect');
      expect.unreachable('an unknown status must be refused');
    } catch (e) {
      expect((e as CrmError).code).toBe('VALIDATION');
    }
  });
});

describe('HubSpot mappers: properties -> contract record', () => {
  it('reads fields, the origin tag and the modification time', () => {
    const rec = toCrmRecord({
      id: '501',
      properties: {
        email: 'Grace@Navy.mil',
        firstname: 'Grace',
        lastname: 'Hopper',
        phone: null,
        company: '',
        lifecyclestage: 'lead',
        [ORIGIN_PROPERTY]: 'jazzaam',
        createdate: '2024-03-01T10:00:00.000Z',
        lastmodifieddate: '2024-03-02T11:00:00.123Z',
      },
      createdAt: new Date('2024-03-01T10:00:00.000Z'),
      updatedAt: new Date('2024-03-02T11:00:00.000Z'),
      archived: false,
    });
    expect(rec.externalId).toBe('501');
    expect(rec.fields).toEqual({ email: 'grace@navy.mil', firstName: 'Grace', lastName: 'Hopper', phone: null, company: null, status: 'lead' });
    expect(rec.originTag).toBe('jazzaam');
    expect(hasOwnOrigin(rec, 'jazzaam')).toBe(true);
    expect(rec.updatedAt?.toISOString()).toBe('2024-03-02T11:00:00.123Z');
    expect(rec.createdAt?.toISOString()).toBe('2024-03-01T10:00:00.000Z');
  });

  it('reads an absent, empty or foreign tag as not ours', () => {
    expect(readOriginTag({})).toBeNull();
    expect(readOriginTag({ [ORIGIN_PROPERTY]: '' })).toBeNull();
    expect(readOriginTag({ [ORIGIN_PROPERTY]: null })).toBeNull();
    const foreign = toCrmRecord({ id: '1', properties: { [ORIGIN_PROPERTY]: 'manual' } });
    expect(foreign.originTag).toBe('manual');
    expect(hasOwnOrigin(foreign, 'jazzaam')).toBe(false);
  });

  it('round-trips: what we write reads back as the same fields', () => {
    const written = toHubSpotProperties(full, 'create', 'jazzaam');
    const back = toLeadFields(written);
    expect(back).toEqual({
      email: 'ada.lovelace@example.com',
      firstName: 'Ada',
      lastName: 'Lovelace',
      phone: '+44 20 7946 0000',
      company: 'Analytical Engines',
      status: 'marketingqualifiedlead',
    });
    expect(readOriginTag(written)).toBe('jazzaam');
  });

  it('asks for every property it maps, the origin tag and the modification time', () => {
    for (const p of ['email', 'firstname', 'lastname', 'phone', 'company', 'lifecyclestage', ORIGIN_PROPERTY, 'lastmodifieddate']) {
      expect(READ_PROPERTIES).toContain(p);
    }
  });
});
