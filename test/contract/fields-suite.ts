// The contract of fields beyond the six (CrmClient.listFields, ConnectionOptions.extraFields
// -> CrmRecord.extra, OutboundLead.extra -> WriteResult.writtenExtra), the same for every
// adapter: what the service's field mappings rely on, whatever the CRM.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { emptyFields, type CrmClient, type CrmFieldType, type FieldValue, type OutboundLead, type WriteResult } from '../../adapters/contract.ts';

export type FieldKind = Exclude<CrmFieldType, 'email' | 'phone'>;

export interface FieldsHarness {
  /** A client of the adapter with these extra fields, provisioned as the service would. */
  connect(extraFields: string[]): Promise<CrmClient>;
  platformTag: string;
  /** A writable custom field of each kind in the sandbox, and a read-only (calculated) one. */
  names: Record<FieldKind, string> & { readOnly: string };
  close(): Promise<void>;
}

function ok(r: WriteResult | undefined): Extract<WriteResult, { ok: true }> {
  if (!r?.ok) throw new Error(`expected success, got ${r ? `${r.error.code}: ${r.error.message}` : 'nothing'}`);
  return r;
}

function lead(localId: string, email: string, extra: Record<string, FieldValue>): OutboundLead {
  return { localId, externalId: null, fields: { ...emptyFields(), email, lastName: 'Contract' }, extra };
}

const KINDS: FieldKind[] = ['text', 'number', 'boolean', 'date', 'datetime', 'picklist', 'multipicklist'];

export function runFieldsContract(name: string, make: () => Promise<FieldsHarness>): void {
  describe(`CRM adapter contract, fields beyond the six: ${name}`, () => {
    let h: FieldsHarness;
    let client: CrmClient;
    let values: Record<string, FieldValue>;

    beforeEach(async () => {
      h = await make();
      client = await h.connect(KINDS.map((k) => h.names[k]));
      const fields = new Map((await client.listFields!()).map((f) => [f.name, f]));
      const options = (k: FieldKind) => fields.get(h.names[k])?.options?.map((o) => o.value) ?? [];
      values = {
        [h.names.text]: 'Contract text',
        [h.names.number]: 42,
        [h.names.boolean]: true,
        [h.names.date]: '2027-01-31',
        [h.names.datetime]: '2026-10-01T08:30:00.000Z',
        [h.names.picklist]: options('picklist')[0]!,
        [h.names.multipicklist]: options('multipicklist').slice(0, 2),
      };
    });

    afterEach(async () => {
      await h?.close();
    });

    it('listFields names each kind with its type, the read-only field not writable, and each of the six synced fields once', async () => {
      const fields = await client.listFields!();
      const by = new Map(fields.map((f) => [f.name, f]));
      for (const k of KINDS) expect(by.get(h.names[k]), k).toMatchObject({ type: k, writable: true, custom: true });
      expect(by.get(h.names.picklist)!.options!.length).toBeGreaterThan(0);
      expect(by.get(h.names.multipicklist)!.options!.length).toBeGreaterThan(1);
      expect(by.get(h.names.readOnly)).toMatchObject({ writable: false });
      expect(fields.filter((f) => f.synced).map((f) => f.synced).sort()).toEqual(['company', 'email', 'firstName', 'lastName', 'phone', 'status']);
    });

    it('a value of each kind written comes back the same from readRecords and listPage, as writtenExtra said', async () => {
      const written = ok((await client.pushLeads([lead('fields-1', 'fields-1@example.com', values)], h.platformTag))[0]);
      expect(written.writtenExtra).toEqual(values);
      const [read] = await client.readRecords([written.externalId]);
      expect(read!.extra).toEqual(values);
      const listed = (await client.listPage(null, 50)).records.find((r) => r.externalId === written.externalId);
      expect(listed!.extra).toEqual(values);
    });

    it('a value that is not one of the picklist options fails that lead alone, with VALIDATION', async () => {
      const results = await client.pushLeads(
        [lead('good', 'good@example.com', { [h.names.picklist]: values[h.names.picklist]! }), lead('bad', 'bad@example.com', { [h.names.picklist]: 'not-an-option' })],
        h.platformTag,
      );
      expect(ok(results[0]).writtenExtra).toEqual({ [h.names.picklist]: values[h.names.picklist] });
      expect(results[1]!.ok ? null : results[1]!.error.code).toBe('VALIDATION');
    });

    it('an extra field name the CRM lacks is absent from extra and does not stop reads of the six fields', async () => {
      const id = ok((await client.pushLeads([lead('six', 'six@example.com', {})], h.platformTag))[0]).externalId;
      const other = await h.connect(['no_such_field_anywhere', h.names.text]);
      const [read] = await other.readRecords([id]);
      expect(read!.fields).toMatchObject({ email: 'six@example.com', lastName: 'Contract' });
      expect(read!.extra).toEqual({ [h.names.text]: null });
      expect((await other.listPage(null, 50)).records.find((r) => r.externalId === id)!.extra).toEqual({ [h.names.text]: null });
    });
  });
}
