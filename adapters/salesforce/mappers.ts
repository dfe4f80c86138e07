// Pure mapping between Salesforce Lead fields and the platform's LeadFields.
// No I/O, no jsforce: everything here is a function of its arguments.
//
// Defaults for Salesforce's required Lead fields (chosen once, used everywhere):
// - `LastName` and `Company` are required on create. When the platform has no value we
//   write the sentinel NOT_PROVIDED ("[not provided]") for both. A sentinel, not a guess
//   such as the e-mail's local part, because it round-trips: reading it back yields null,
//   so a default we invented is never synced back into the platform as if a person had
//   typed it.
// - `Status` is omitted when null: Salesforce applies the org's default Status
//   (e.g. "Open - Not Contacted").
// - Updates never write a default: a null LastName/Company/Status is simply not sent,
//   so an update can never overwrite a real name with the sentinel. Optional fields
//   (Email, FirstName, Phone) are sent as null, which clears them.
import { emptyFields, normaliseEmail, type CrmRecord, type LeadFields } from '../contract.ts';

export const NOT_PROVIDED = '[not provided]';

export const DEFAULT_ORIGIN_FIELD = 'Lead_Source_System__c';
export const DEFAULT_EXTERNAL_ID_FIELD = 'Platform_Lead_Id__c';

/** LeadFields key -> Salesforce Lead field API name. */
export const LEAD_FIELD_MAP: Readonly<Record<keyof LeadFields, string>> = {
  email: 'Email',
  firstName: 'FirstName',
  lastName: 'LastName',
  phone: 'Phone',
  company: 'Company',
  status: 'Status',
};

/** Salesforce fields that can never be null on a saved Lead. */
const REQUIRED_ON_SAVE: ReadonlySet<keyof LeadFields> = new Set(['lastName', 'company', 'status']);

/** Fields every read selects (the synced fields plus audit fields). */
export function selectFields(originField: string, externalIdField: string): string[] {
  return [
    'Id',
    ...Object.values(LEAD_FIELD_MAP),
    originField,
    externalIdField,
    'CreatedDate',
    'LastModifiedDate',
    'SystemModstamp',
  ];
}

function clean(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  const s = String(value).trim();
  return s === '' ? null : s;
}

/** Reads a field case-insensitively (SOAP and REST both use API names, but be lenient). */
function pick(rec: Record<string, unknown>, name: string): unknown {
  if (name in rec) return rec[name];
  const lower = name.toLowerCase();
  for (const k of Object.keys(rec)) if (k.toLowerCase() === lower) return rec[k];
  return undefined;
}

/** Salesforce Lead (REST JSON or parsed SOAP sObject) -> LeadFields. Sentinels become null. */
export function leadFieldsFromSalesforce(rec: Record<string, unknown>): LeadFields {
  const out = emptyFields();
  for (const key of Object.keys(LEAD_FIELD_MAP) as (keyof LeadFields)[]) {
    let v = clean(pick(rec, LEAD_FIELD_MAP[key]));
    if ((key === 'lastName' || key === 'company') && v === NOT_PROVIDED) v = null;
    out[key] = v;
  }
  out.email = normaliseEmail(out.email);
  return out;
}

/** The synced fields a write payload sets, as a read returns them; fields not in it are absent. */
export function writtenFromSalesforce(payload: Record<string, unknown>): Partial<LeadFields> {
  const read = leadFieldsFromSalesforce(payload);
  const out: Partial<LeadFields> = {};
  for (const key of Object.keys(LEAD_FIELD_MAP) as (keyof LeadFields)[]) {
    if (LEAD_FIELD_MAP[key] in payload) (out as Record<string, unknown>)[key] = read[key];
  }
  return out;
}

/**
 * What a create leaves in the synced fields: what its payload set, and null for the
 * fields it left out (standard Lead fields have no default) — except Status, which gets
 * the org's default picklist value, unknown here.
 */
export function writtenOnCreate(payload: Record<string, unknown>): Partial<LeadFields> {
  const out = writtenFromSalesforce(payload);
  for (const key of Object.keys(LEAD_FIELD_MAP) as (keyof LeadFields)[]) {
    if (!(key in out) && key !== 'status') (out as Record<string, unknown>)[key] = null;
  }
  return out;
}

/** Fields written when the write may create the Lead (upsert): defaults for required fields. */
export function toSalesforceCreate(fields: LeadFields): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(LEAD_FIELD_MAP) as (keyof LeadFields)[]) {
    const v = clean(fields[key]);
    if (v !== null) out[LEAD_FIELD_MAP[key]] = v;
  }
  if (!out.LastName) out.LastName = NOT_PROVIDED;
  if (!out.Company) out.Company = NOT_PROVIDED;
  return out;
}

/** Fields written to an existing Lead: never a default, nulls clear optional fields only. */
export function toSalesforceUpdate(fields: LeadFields): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const key of Object.keys(LEAD_FIELD_MAP) as (keyof LeadFields)[]) {
    const v = clean(fields[key]);
    if (v === null && REQUIRED_ON_SAVE.has(key)) continue;
    out[LEAD_FIELD_MAP[key]] = v;
  }
  return out;
}

/**
 * Parses Salesforce datetimes: REST `2024-05-01T10:00:00.000+0000`, SOAP
 * `2024-05-01T10:00:00.000Z`. Null when absent or unparseable.
 */
export function parseSalesforceDate(value: unknown): Date | null {
  const s = clean(value);
  if (s === null) return null;
  const iso = s.replace(/([+-]\d{2})(\d{2})$/, '$1:$2');
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** A SOQL datetime literal (unquoted, UTC). */
export function soqlDateTime(d: Date): string {
  return d.toISOString();
}

/** A SOQL string literal with Salesforce's escapes. */
export function soqlString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n').replace(/\r/g, '\\r')}'`;
}

/**
 * The 18-character, case-insensitively unique form of a Salesforce id: the 15-character
 * id plus Salesforce's check suffix (one letter per five characters, encoding which are
 * upper case). A string that is not an id is returned unchanged.
 */
export function id18(id: string): string {
  const s = id.trim();
  if (!isSalesforceId(s)) return id;
  const short = s.slice(0, 15);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345';
  let suffix = '';
  for (let block = 0; block < 3; block++) {
    let bits = 0;
    for (let i = 0; i < 5; i++) {
      const c = short[block * 5 + i];
      if (c >= 'A' && c <= 'Z') bits |= 1 << i;
    }
    suffix += alphabet[bits];
  }
  return short + suffix;
}

/** The 15-character, case-sensitive form of a Salesforce id (ids are 15 or 18 chars). */
export function id15(id: string): string {
  return id.slice(0, 15);
}

export function isSalesforceId(id: string): boolean {
  return /^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$/.test(id);
}

/** Salesforce Lead -> CrmRecord. */
export function crmRecordFromSalesforce(rec: Record<string, unknown>, originField: string): CrmRecord {
  const id = clean(pick(rec, 'Id'));
  if (id === null) throw new TypeError('Salesforce record without Id');
  return {
    externalId: id,
    fields: leadFieldsFromSalesforce(rec),
    originTag: clean(pick(rec, originField)),
    createdAt: parseSalesforceDate(pick(rec, 'CreatedDate')),
    updatedAt: parseSalesforceDate(pick(rec, 'LastModifiedDate')) ?? parseSalesforceDate(pick(rec, 'SystemModstamp')),
  };
}

/** True when a parsed SOAP sObject carries the fields that make it a whole Lead. */
export function carriesWholeLead(rec: Record<string, unknown>): boolean {
  // LastName and Company can never be null on a saved Lead: when the message lacks them,
  // the outbound message was configured with fewer fields and absences mean "not sent".
  return clean(pick(rec, 'LastName')) !== null && clean(pick(rec, 'Company')) !== null;
}
