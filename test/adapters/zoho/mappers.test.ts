// Pure mapping between Zoho Leads and LeadFields, search criteria, and the region table.
import { describe, expect, it } from 'vitest';
import { accountsUrlForApiDomain, regionOfApiDomain, ZOHO_REGIONS } from '../../../adapters/zoho/http.ts';
import {
  compareIds,
  emailCriteria,
  escapeCriteriaValue,
  fieldsToZoho,
  formatZohoTime,
  leadToRecord,
  UNKNOWN_LAST_NAME,
} from '../../../adapters/zoho/mappers.ts';
import { matchesCriteria, parseCriteria } from '../../../sandboxes/zoho/criteria.ts';

const empty = { email: null, firstName: null, lastName: null, phone: null, company: null, status: null };

describe('Zoho lead -> CrmRecord', () => {
  it('maps the synced fields, the origin tag and times given in the user time zone', () => {
    const rec = leadToRecord(
      {
        id: '5725767000001000001',
        Email: 'jane@example.com',
        First_Name: 'Jane',
        Last_Name: 'Doe',
        Phone: '+1 555 0100',
        Company: 'Acme',
        Lead_Status: 'Contacted',
        Origin_X: 'jazzaam',
        Created_Time: '2024-01-15T15:26:49+05:30',
        Modified_Time: '2024-01-15T16:00:00-07:00',
      },
      'Origin_X',
    );
    expect(rec).toEqual({
      externalId: '5725767000001000001',
      fields: { email: 'jane@example.com', firstName: 'Jane', lastName: 'Doe', phone: '+1 555 0100', company: 'Acme', status: 'Contacted' },
      originTag: 'jazzaam',
      createdAt: new Date('2024-01-15T09:56:49Z'),
      updatedAt: new Date('2024-01-15T23:00:00Z'),
    });
  });

  it('reads empty values, blank strings and the "-None-" picklist choice as null', () => {
    const rec = leadToRecord({ id: '1', Email: '  ', Lead_Status: '-None-', Origin_X: '-None-', Last_Name: 'X' }, 'Origin_X');
    expect(rec.fields.email).toBeNull();
    expect(rec.fields.status).toBeNull();
    expect(rec.originTag).toBeNull();
    expect(rec.createdAt).toBeNull();
  });
});

describe('LeadFields -> Zoho', () => {
  it('creates with every synced field and never carries an origin tag itself', () => {
    const out = fieldsToZoho({ ...empty, email: ' a@b.co ', firstName: 'A', lastName: 'B', status: 'Contacted' }, 'create');
    expect(out).toEqual({ Email: 'a@b.co', First_Name: 'A', Last_Name: 'B', Phone: null, Company: null, Lead_Status: 'Contacted' });
  });

  it('gives a new lead without last name the local part of its email, else "Unknown"', () => {
    expect(fieldsToZoho({ ...empty, email: 'jane.doe@example.com' }, 'create').Last_Name).toBe('jane.doe');
    expect(fieldsToZoho({ ...empty, lastName: '   ' }, 'create').Last_Name).toBe(UNKNOWN_LAST_NAME);
  });

  it('leaves Last_Name out of an update that has none (Zoho rejects clearing it) and clears the rest', () => {
    const out = fieldsToZoho({ ...empty, email: 'a@b.co' }, 'update');
    expect('Last_Name' in out).toBe(false);
    expect(out.Phone).toBeNull();
  });
});

describe('search criteria', () => {
  it('escapes parentheses, commas and backslashes so the sandbox parser reads the value back', () => {
    const tricky = 'o(d)d,one\\x@example.com';
    expect(escapeCriteriaValue(tricky)).toBe('o\\(d\\)d\\,one\\\\x@example.com');
    const parsed = parseCriteria(emailCriteria([tricky, 'b@example.com']));
    expect(matchesCriteria(parsed, { Email: tricky })).toBe(true);
    expect(matchesCriteria(parsed, { Email: 'b@example.com' })).toBe(true);
    expect(matchesCriteria(parsed, { Email: 'c@example.com' })).toBe(false);
  });

  it('takes 1 to 10 emails per search (Zoho allows 10 criteria)', () => {
    expect(() => emailCriteria([])).toThrow(RangeError);
    expect(() => emailCriteria(Array.from({ length: 11 }, (_, i) => `${i}@x.co`))).toThrow(RangeError);
    expect(emailCriteria(['a@x.co'])).toBe('(Email:equals:a@x.co)');
  });
});

describe('ids and times', () => {
  it('orders Zoho ids numerically even when their lengths differ', () => {
    expect(compareIds('99', '100')).toBeLessThan(0);
    expect(compareIds('5725767000001000010', '5725767000001000009')).toBeGreaterThan(0);
    expect(compareIds('7', '7')).toBe(0);
  });

  it('formats times to the second with an explicit offset', () => {
    expect(formatZohoTime(new Date('2024-02-03T04:05:06.789Z'))).toBe('2024-02-03T04:05:06+00:00');
  });
});

describe('data centres', () => {
  it('maps every region api domain to its own accounts host', () => {
    for (const [region, r] of Object.entries(ZOHO_REGIONS)) {
      expect(regionOfApiDomain(r.apiDomain)).toBe(region);
      expect(accountsUrlForApiDomain(r.apiDomain)).toBe(r.accountsUrl);
    }
    expect(accountsUrlForApiDomain('https://www.zohoapis.eu/')).toBe('https://accounts.zoho.eu');
    expect(accountsUrlForApiDomain('https://www.zohoapis.ca')).toBe('https://accounts.zohocloud.ca');
  });

  it('does not confuse .com with .com.au or .com.cn, and knows no accounts host for a non-Zoho domain', () => {
    expect(regionOfApiDomain('https://www.zohoapis.com.au')).toBe('AU');
    expect(regionOfApiDomain('https://www.zohoapis.com.cn')).toBe('CN');
    expect(regionOfApiDomain('https://www.zohoapis.com')).toBe('US');
    expect(accountsUrlForApiDomain('http://127.0.0.1:8080')).toBeNull();
    expect(accountsUrlForApiDomain('https://zohoapis.eu.attacker.example')).toBeNull();
  });
});
