// The Zoho sandbox's model: users, the Leads module's field metadata and records, the
// per-record results Zoho answers (`{code, details, message, status}`), changes, and how
// Zoho renders a time (in the org's time zone).

export interface ZohoUser {
  id: string;
  name: string;
  email: string;
}

export const API_USER: ZohoUser = { id: '5725767000000411001', name: 'Sandbox Integration', email: 'integration@example.com' };
export const HUMAN_USER: ZohoUser = { id: '5725767000000411002', name: 'Patricia Boyle', email: 'p.boyle@example.com' };

export const LEADS_MODULE_ID = '5725767000000002175';

export interface PicklistValue {
  display_value: string;
  actual_value: string;
  id: string;
  sequence_number: number;
  type: 'used' | 'unused';
}

export interface FieldDef {
  id: string;
  api_name: string;
  field_label: string;
  display_label: string;
  data_type: string;
  json_type: string;
  custom_field: boolean;
  system_mandatory: boolean;
  read_only: boolean;
  field_read_only: boolean;
  unique: Record<string, unknown>;
  length: number;
  pick_list_values: PicklistValue[];
  created_source: string;
  visible: boolean;
  searchable: boolean;
}

export interface StoredLead {
  id: string;
  values: Record<string, unknown>;
  createdTime: number;
  modifiedTime: number;
  createdBy: ZohoUser;
  modifiedBy: ZohoUser;
  /** Values as the search index last saw them; null until first indexed. */
  indexed: Record<string, unknown> | null;
  /** Real time (ms) at which the index catches up with `values`. */
  indexDueAt: number;
}

export type RecordResult = {
  code: string;
  details: Record<string, unknown>;
  message: string;
  status: 'success' | 'error';
  action?: 'insert' | 'update';
  duplicate_field?: string | null;
};

export interface Change {
  operation: 'insert' | 'update' | 'delete';
  ids: string[];
  affectedFields: Record<string, string[]>;
  actor: ZohoUser;
  /** Whether workflow rules may run on this change (API writes with trigger [] do not). */
  workflows: boolean;
}

export interface StateOptions {
  /** Email is a unique field ("Do not allow duplicate values"); default true. */
  emailUnique: boolean;
  /** Reject picklist values not in the field's list (real Zoho accepts new values); default false. */
  strictPicklists: boolean;
  /** Index lag after every write, in real milliseconds; default 0. */
  searchLagMs: number;
  /** Offset of the org user's time zone, minutes; Zoho renders every time in it. Default +330 (IST). */
  timezoneOffsetMinutes: number;
  /** API name the sandbox gives a custom field; default: label with spaces as underscores. */
  customFieldApiName?: (label: string) => string;
  /** When a lead is created and workflows may run: fields a workflow rule then writes (an update). */
  workflowOnCreate?: Record<string, unknown> | null;
}

let idSeq = 0;

export function nextId(prefix: string): string {
  idSeq++;
  return prefix + String(idSeq).padStart(6, '0');
}

export function formatZohoTime(ms: number, offsetMinutes: number): string {
  const shifted = new Date(ms + offsetMinutes * 60_000);
  const pad = (n: number) => String(n).padStart(2, '0');
  const sign = offsetMinutes >= 0 ? '+' : '-';
  const abs = Math.abs(offsetMinutes);
  return (
    `${shifted.getUTCFullYear()}-${pad(shifted.getUTCMonth() + 1)}-${pad(shifted.getUTCDate())}` +
    `T${pad(shifted.getUTCHours())}:${pad(shifted.getUTCMinutes())}:${pad(shifted.getUTCSeconds())}` +
    `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`
  );
}

export function field(partial: Partial<FieldDef> & Pick<FieldDef, 'api_name' | 'field_label' | 'data_type'>): FieldDef {
  return {
    id: nextId('5725767000000002'),
    display_label: partial.field_label,
    json_type: partial.data_type === 'datetime' ? 'string' : partial.data_type === 'ownerlookup' ? 'jsonobject' : 'string',
    custom_field: false,
    system_mandatory: false,
    read_only: false,
    field_read_only: false,
    unique: {},
    length: 255,
    pick_list_values: [],
    created_source: 'default',
    visible: true,
    searchable: true,
    ...partial,
  };
}

export function picklist(values: string[]): PicklistValue[] {
  return values.map((v, i) => ({
    display_value: v,
    actual_value: v,
    id: nextId('5725767000000003'),
    sequence_number: i + 1,
    type: 'used',
  }));
}

export function ok(details: Record<string, unknown>, message: string): RecordResult {
  return { code: 'SUCCESS', details, message, status: 'success' };
}

export function err(code: string, details: Record<string, unknown>, message: string): RecordResult {
  return { code, details, message, status: 'error' };
}
