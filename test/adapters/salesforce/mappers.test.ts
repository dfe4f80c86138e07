import { describe, expect, it } from 'vitest';
import { emptyFields } from '../../../adapters/contract.ts';
import {
  carriesWholeLead,
  crmRecordFromSalesforce,
  leadFieldsFromSalesforce,
  NOT_PROVIDED,
  parseSalesforceDate,
  soqlString,
  toSalesforceCreate,
  toSalesforceUpdate,
} from '../../../adapters/salesforce/mappers.ts';

describe('Salesforce mappers', () => {
  it('maps a REST Lead to LeadFields, trimming and normalising the email', () => {
    const fields = leadFieldsFromSalesforce({
      attributes: { type: 'Lead' },
      Id: '00Q5g0000000001EAA',
      Email: '  Jane.Doe@Example.COM ',
      FirstName: 'Jane',
      LastName: 'Doe',
      Phone: '',
      Company: 'Acme',
      Status: 'Working - Contacted',
    });
    expect(fields).toEqual({
      email: 'jane.doe@example.com',
      firstName: 'Jane',
      lastName: 'Doe',
      phone: null,
      company: 'Acme',
      status: 'Working - Contacted',
    });
  });

  it('writes the documented defaults for required fields on create, and reads them back as null', () => {
    const payload = toSalesforceCreate({ ...emptyFields(), email: 'solo@example.com' });
    expect(payload).toEqual({ Email: 'solo@example.com', LastName: NOT_PROVIDED, Company: NOT_PROVIDED });
    expect(NOT_PROVIDED).toBe('[not provided]');
    const back = leadFieldsFromSalesforce({ ...payload, Status: 'Open - Not Contacted' });
    expect(back.lastName).toBeNull();
    expect(back.company).toBeNull();
    expect(back.email).toBe('solo@example.com');
  });

  it('omits a null Status on create so the org default applies', () => {
    expect(toSalesforceCreate({ ...emptyFields(), lastName: 'Doe', company: 'Acme' })).not.toHaveProperty('Status');
  });

  it('never writes a default on update: null required fields are left alone, null optional fields are cleared', () => {
    const payload = toSalesforceUpdate({ ...emptyFields(), firstName: 'Jo' });
    expect(payload).toEqual({ Email: null, FirstName: 'Jo', Phone: null });
    expect(payload).not.toHaveProperty('LastName');
    expect(payload).not.toHaveProperty('Company');
    expect(payload).not.toHaveProperty('Status');
  });

  it('parses REST (+0000) and SOAP (Z) datetimes to the same instant', () => {
    const rest = parseSalesforceDate('2024-05-01T10:00:00.000+0000');
    const soap = parseSalesforceDate('2024-05-01T10:00:00.000Z');
    expect(rest?.toISOString()).toBe('2024-05-01T10:00:00.000Z');
    expect(soap?.getTime()).toBe(rest?.getTime());
    expect(parseSalesforceDate('yesterday')).toBeNull();
    expect(parseSalesforceDate(null)).toBeNull();
  });

  it('builds a CrmRecord with the origin tag from the configured field and empty tags as null', () => {
    const rec = crmRecordFromSalesforce(
      { Id: '00Q1', LastName: 'X', Company: 'Y', Origin__c: 'jazzaam', CreatedDate: '2024-05-01T10:00:00.000+0000', LastModifiedDate: '2024-05-02T10:00:00.000+0000' },
      'Origin__c',
    );
    expect(rec.externalId).toBe('00Q1');
    expect(rec.originTag).toBe('jazzaam');
    expect(rec.createdAt?.toISOString()).toBe('2024-05-01T10:00:00.000Z');
    expect(rec.updatedAt?.toISOString()).toBe('2024-05-02T10:00:00.000Z');
    expect(crmRecordFromSalesforce({ Id: '00Q2', Origin__c: '  ' }, 'Origin__c').originTag).toBeNull();
  });

  it('escapes SOQL string literals so a value cannot break out of its quotes', () => {
    expect(soqlString("o'brien@example.com")).toBe("'o\\'brien@example.com'");
    expect(soqlString('back\\slash')).toBe("'back\\\\slash'");
  });

  it('tells a whole Lead (LastName and Company present) from a partial outbound message', () => {
    expect(carriesWholeLead({ Id: '00Q1', LastName: 'Doe', Company: 'Acme' })).toBe(true);
    expect(carriesWholeLead({ Id: '00Q1', Email: 'a@b.co' })).toBe(false);
  });
});
