// The sandbox org's Lead schema and records as Salesforce shows them: field definitions
// (the standard Lead fields), errors, writers, write outcomes, and a row as REST JSON.
import type { Row } from './soql.ts';

export type FieldType =
  | 'id'
  | 'string'
  | 'email'
  | 'phone'
  | 'picklist'
  | 'multipicklist'
  | 'datetime'
  | 'date'
  | 'boolean'
  | 'double'
  | 'currency'
  | 'percent'
  | 'int'
  | 'reference'
  | 'textarea';

export interface FieldDef {
  name: string;
  label: string;
  type: FieldType;
  length?: number;
  /** Cannot be null on a saved record (LastName, Company, Status). */
  required?: boolean;
  createable: boolean;
  updateable: boolean;
  externalId?: boolean;
  unique?: boolean;
  custom?: boolean;
  picklistValues?: string[];
  restrictedPicklist?: boolean;
  defaultValue?: string;
  /** A formula field: computed, never written through the API. */
  calculated?: boolean;
}

/** One error as Salesforce reports it (REST uses errorCode, collections statusCode). */
export interface SfError {
  errorCode: string;
  message: string;
  fields: string[];
  duplicateResult?: unknown;
}

export interface Actor {
  userId: string;
  /** The `client` of the writer's Sforce-Call-Options, null for UI changes. */
  client: string | null;
}

export interface StoredLead {
  values: Row;
  createdByClient: string | null;
  lastModifiedByClient: string | null;
}

export type ChangeKind = 'created' | 'updated' | 'deleted';
export type ChangeListener = (change: { kind: ChangeKind; id: string; lead: StoredLead; changedFields: string[] }) => void;

export type WriteOutcome = { ok: true; id: string; created: boolean } | { ok: false; errors: SfError[] };

export const DEFAULT_STATUS = 'Open - Not Contacted';

export function standardFields(): FieldDef[] {
  const sys = { createable: false, updateable: false };
  return [
    { name: 'Id', label: 'Lead ID', type: 'id', length: 18, ...sys },
    { name: 'IsDeleted', label: 'Deleted', type: 'boolean', ...sys },
    { name: 'FirstName', label: 'First Name', type: 'string', length: 40, createable: true, updateable: true },
    { name: 'LastName', label: 'Last Name', type: 'string', length: 80, required: true, createable: true, updateable: true },
    { name: 'Company', label: 'Company', type: 'string', length: 255, required: true, createable: true, updateable: true },
    { name: 'Title', label: 'Title', type: 'string', length: 128, createable: true, updateable: true },
    { name: 'Email', label: 'Email', type: 'email', length: 80, createable: true, updateable: true },
    { name: 'Phone', label: 'Phone', type: 'phone', length: 40, createable: true, updateable: true },
    {
      name: 'Status',
      label: 'Status',
      type: 'picklist',
      length: 255,
      required: true,
      createable: true,
      updateable: true,
      picklistValues: [DEFAULT_STATUS, 'Working - Contacted', 'Closed - Converted', 'Closed - Not Converted'],
      restrictedPicklist: false,
      defaultValue: DEFAULT_STATUS,
    },
    {
      name: 'LeadSource',
      label: 'Lead Source',
      type: 'picklist',
      length: 255,
      createable: true,
      updateable: true,
      picklistValues: ['Web', 'Phone Inquiry', 'Partner Referral', 'Purchased List', 'Other'],
    },
    { name: 'OwnerId', label: 'Owner ID', type: 'reference', length: 18, createable: true, updateable: true },
    { name: 'CreatedDate', label: 'Created Date', type: 'datetime', ...sys },
    { name: 'CreatedById', label: 'Created By ID', type: 'reference', length: 18, ...sys },
    { name: 'LastModifiedDate', label: 'Last Modified Date', type: 'datetime', ...sys },
    { name: 'LastModifiedById', label: 'Last Modified By ID', type: 'reference', length: 18, ...sys },
    { name: 'SystemModstamp', label: 'System Modstamp', type: 'datetime', ...sys },
  ];
}

/** Salesforce's REST datetime format: 2024-05-01T10:00:00.000+0000. */
export function formatDateTime(d: Date): string {
  return d.toISOString().replace('Z', '+0000');
}

/** A row as REST JSON: selected fields (all when omitted) plus `attributes`. */
export function toJson(values: Row, version: string, fields?: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {
    attributes: { type: 'Lead', url: `/services/data/v${version}/sobjects/Lead/${String(values.Id)}` },
  };
  for (const k of fields ?? Object.keys(values)) {
    const v = values[k];
    out[k] = v instanceof Date ? formatDateTime(v) : (v ?? null);
  }
  return out;
}
