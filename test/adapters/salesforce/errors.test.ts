// The error translator fed with the errors real jsforce raises against the sandbox org,
// plus the wire formats those errors come from.
import { Connection } from 'jsforce';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CrmError } from '../../../adapters/contract.ts';
import { toCrmError } from '../../../adapters/salesforce/errors.ts';
import { startSalesforceSandbox, type SalesforceSandbox } from '../../../sandboxes/salesforce/index.ts';

let sb: SalesforceSandbox;
let conn: Connection;

beforeEach(async () => {
  sb = await startSalesforceSandbox();
  conn = new Connection({ instanceUrl: sb.url, accessToken: sb.controls.credentials().accessToken, version: '62.0' });
});

afterEach(async () => {
  await sb.close();
});

async function translated(p: PromiseLike<unknown>): Promise<CrmError> {
  try {
    await p;
  } catch (e) {
    return toCrmError(e);
  }
  throw new Error('expected jsforce to throw');
}

describe('Salesforce error translation (real jsforce errors)', () => {
  it('REQUIRED_FIELD_MISSING is VALIDATION naming the fields', async () => {
    const err = await translated(conn.sobject('Lead').create({ Email: 'x@example.com' }));
    expect(err).toMatchObject({ code: 'VALIDATION', retryable: false, provider: 'SALESFORCE' });
    expect(err.message).toContain('REQUIRED_FIELD_MISSING');
    expect(err.message).toContain('LastName');
  });

  it('DUPLICATE_VALUE on the unique External ID is CONFLICT with the existing id', async () => {
    const first = await conn.sobject('Lead').create({ LastName: 'A', Company: 'X', Platform_Lead_Id__c: 'same' });
    const err = await translated(conn.sobject('Lead').create({ LastName: 'B', Company: 'X', Platform_Lead_Id__c: 'SAME' }));
    expect(err).toMatchObject({ code: 'CONFLICT', existingId: first.id });
  });

  it('DUPLICATES_DETECTED is CONFLICT with the matched Lead id', async () => {
    sb.controls.setDuplicateRule(true);
    const id = sb.controls.createLeadAsUser({ LastName: 'A', Company: 'X', Email: 'dup@example.com' });
    const err = await translated(conn.sobject('Lead').create({ LastName: 'B', Company: 'X', Email: 'DUP@example.com' }));
    expect(err).toMatchObject({ code: 'CONFLICT', existingId: id });
  });

  it('a deleted record is NOT_FOUND (ENTITY_IS_DELETED), an unknown one too', async () => {
    const id = sb.controls.createLeadAsUser({ LastName: 'A', Company: 'X' });
    sb.controls.deleteLead(id);
    expect((await translated(conn.sobject('Lead').retrieve(id))).code).toBe('NOT_FOUND');
    expect((await translated(conn.sobject('Lead').retrieve('00Q5g000000zzzzEAA'))).code).toBe('NOT_FOUND');
  });

  it('a malformed or invalid SOQL query is VALIDATION', async () => {
    expect((await translated(conn.query('SELECT Id FROM Lead WHERE'))).code).toBe('VALIDATION');
    expect((await translated(conn.query('SELECT Nope__c FROM Lead'))).code).toBe('VALIDATION');
  });

  it('INVALID_SESSION_ID without a way to refresh is AUTH_EXPIRED', async () => {
    sb.controls.expireAccessTokens();
    expect((await translated(conn.query('SELECT Id FROM Lead'))).code).toBe('AUTH_EXPIRED');
  });

  it('anything unknown still becomes a CrmError, never leaks as is', () => {
    expect(toCrmError('boom')).toMatchObject({ code: 'UPSTREAM', retryable: false });
    expect(toCrmError(new TypeError('x is undefined'))).toMatchObject({ code: 'UPSTREAM', retryable: false });
  });
});

describe('sandbox wire formats seen through jsforce', () => {
  it('upsert by External ID answers created on 201 and created:false on an update', async () => {
    const created = await conn.sobject('Lead').upsert({ Platform_Lead_Id__c: 'ext-1', LastName: 'A', Company: 'X' }, 'Platform_Lead_Id__c');
    const updated = await conn.sobject('Lead').upsert({ Platform_Lead_Id__c: 'ext-1', LastName: 'B' }, 'Platform_Lead_Id__c');
    expect(created).toMatchObject({ success: true, created: true });
    expect(updated).toMatchObject({ success: true, created: false, id: created.id });
    const statuses = sb.controls.requests.filter((r) => r.method === 'PATCH').map((r) => r.status);
    expect(statuses).toEqual([201, 200]);
  });

  it('issues 18-character Lead ids with the 00Q prefix and a valid case-safe suffix', async () => {
    const r = await conn.sobject('Lead').create({ LastName: 'A', Company: 'X' });
    expect(r.id).toMatch(/^00Q[a-zA-Z0-9]{15}$/);
    // The 15-char form finds the same record.
    const rec = await conn.sobject('Lead').retrieve(r.id!.slice(0, 15));
    expect(rec.Id).toBe(r.id);
  });

  it('reports API usage in Sforce-Limit-Info, which jsforce reads', async () => {
    await conn.query('SELECT Id FROM Lead');
    expect(conn.limitInfo.apiUsage).toEqual({ used: 1, limit: 15000 });
  });

  it('rejects more than 200 records in one collection call', async () => {
    const records = Array.from({ length: 201 }, (_, i) => ({ LastName: `L${i}`, Company: 'X' }));
    const err = await translated(conn.sobject('Lead').create(records));
    expect(err.code).toBe('VALIDATION');
    expect(err.message).toContain('EXCEEDED_ID_LIMIT');
  });
});
