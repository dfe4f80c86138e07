// Pure mapping between Zoho Leads (field API names) and the platform's LeadFields.
//
//   Email <-> email, First_Name <-> firstName, Last_Name <-> lastName, Phone <-> phone,
//   Company <-> company, Lead_Status <-> status, <origin field> <-> originTag.
//
// Last_Name is mandatory in Zoho. A lead without a last name is created with a default:
// the local part of its email (`jane.doe@x.com` -> `jane.doe`), or `Unknown` without an
// email. Updates never send a null Last_Name (Zoho would reject it): they leave it as is.
import { emptyFields, type CrmRecord, type LeadFields } from '../contract.ts';

export const DEFAULT_ORIGIN_FIELD = 'Lead_Source_System';
export const ORIGIN_FIELD_LABEL = 'Lead Source System';
export const UNKNOWN_LAST_NAME = 'Unknown';

const FIELD_MAP: ReadonlyArray<readonly [keyof LeadFields, string]> = [
  ['email', 'Email'],
  ['firstName', 'First_Name'],
  ['lastName', 'Last_Name'],
  ['phone', 'Phone'],
  ['company', 'Company'],
  ['status', 'Lead_Status'],
];

/** The Zoho field of each synced field. */
export const ZOHO_FIELD_NAMES = Object.fromEntries(FIELD_MAP) as Readonly<Record<keyof LeadFields, string>>;

/** Field API names to request when reading Leads (`fields` parameter). */
export function readFieldNames(originField: string): string[] {
  return [...FIELD_MAP.map(([, api]) => api), originField, 'Created_Time', 'Modified_Time'];
}

export interface ZohoLead {
  id: string;
  [apiName: string]: unknown;
}

function text(v: unknown): string | null {
  if (typeof v !== 'string') return null;
  const t = v.trim();
  return t === '' ? null : t;
}

/** Zoho renders an empty picklist as null; older data may hold "-None-". */
export function picklistValue(v: unknown): string | null {
  const t = text(v);
  return t === null || t === '-None-' ? null : t;
}

/** Parses Zoho's ISO-8601 time with offset (`2024-01-15T15:26:49+05:30`). */
export function parseZohoTime(v: unknown): Date | null {
  if (typeof v !== 'string' || v === '') return null;
  const t = Date.parse(v);
  return Number.isNaN(t) ? null : new Date(t);
}

/** Formats a time the way Zoho accepts it in headers and bodies: seconds, explicit offset. */
export function formatZohoTime(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, '+00:00');
}

export function leadToRecord(lead: ZohoLead, originField: string): CrmRecord {
  const fields = emptyFields();
  for (const [key, api] of FIELD_MAP) {
    fields[key] = key === 'status' ? picklistValue(lead[api]) : text(lead[api]);
  }
  return {
    externalId: String(lead.id),
    fields,
    originTag: picklistValue(lead[originField]),
    createdAt: parseZohoTime(lead.Created_Time),
    updatedAt: parseZohoTime(lead.Modified_Time),
  };
}

/** The synced fields a write payload sets, as a read returns them; fields not in it are absent. */
export function writtenFromZoho(payload: Record<string, unknown>): Partial<LeadFields> {
  const out: Partial<LeadFields> = {};
  for (const [key, api] of FIELD_MAP) {
    if (api in payload) (out as Record<string, unknown>)[key] = key === 'status' ? picklistValue(payload[api]) : text(payload[api]);
  }
  return out;
}

/** The Last_Name a new lead gets when the platform has none. */
export function defaultLastName(fields: LeadFields): string {
  const email = text(fields.email);
  const local = email?.split('@')[0]?.trim();
  return local ? local.slice(0, 80) : UNKNOWN_LAST_NAME;
}

/**
 * Zoho field values for a write. `create` fills the mandatory Last_Name; `update` omits
 * a missing last name. Nulls clear the other fields. The origin tag is never part of
 * this: callers add it to creations only.
 */
export function fieldsToZoho(fields: LeadFields, mode: 'create' | 'update'): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, api] of FIELD_MAP) {
    const value = text(fields[key]);
    if (key === 'lastName' && value === null) {
      if (mode === 'create') out[api] = defaultLastName(fields);
      continue;
    }
    out[api] = value;
  }
  return out;
}

/** Escapes a value for a search `criteria` condition: `(`, `)`, `,` and `\` take a backslash. */
export function escapeCriteriaValue(v: string): string {
  return v.replace(/[\\(),]/g, (c) => `\\${c}`);
}

/** `((Email:equals:a)or(Email:equals:b))` for up to 10 emails. */
export function emailCriteria(emails: string[]): string {
  if (emails.length === 0 || emails.length > 10) throw new RangeError('1 to 10 emails per search');
  const conds = emails.map((e) => `(Email:equals:${escapeCriteriaValue(e)})`);
  return conds.length === 1 ? conds[0]! : `(${conds.join('or')})`;
}

/** Compares Zoho record ids (numeric strings) numerically, falling back to text. */
export function compareIds(a: string, b: string): number {
  if (/^\d+$/.test(a) && /^\d+$/.test(b)) {
    const x = BigInt(a);
    const y = BigInt(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}
