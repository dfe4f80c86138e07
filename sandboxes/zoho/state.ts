// In-memory state of the Zoho CRM sandbox: the Leads module, its field metadata, the
// search index (which lags behind writes, as Zoho's does), the clock and users.
// Everything here speaks Zoho's own vocabulary (field API names, per-record
// `{code, details, message, status}` results); the HTTP layer only routes to it.
import { SandboxClock } from '../kit/clock.ts';

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

function nextId(prefix: string): string {
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

function field(partial: Partial<FieldDef> & Pick<FieldDef, 'api_name' | 'field_label' | 'data_type'>): FieldDef {
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

function picklist(values: string[]): PicklistValue[] {
  return values.map((v, i) => ({
    display_value: v,
    actual_value: v,
    id: nextId('5725767000000003'),
    sequence_number: i + 1,
    type: 'used',
  }));
}

const EMAIL_RE = /^[^\s@(),]+@[^\s@(),]+\.[^\s@(),]{2,}$/;
const IGNORED_INPUT_KEYS = new Set(['Owner', 'Layout', 'Tag']);

export class LeadsState {
  readonly opts: StateOptions;
  readonly leads = new Map<string, StoredLead>();
  readonly fields: FieldDef[];
  private readonly clock = new SandboxClock(1000);
  /** Ids treated as nonexistent by the next call (fault `not_found`). */
  missingAll = false;
  readonly changes: Change[] = [];
  onChange: (c: Change) => void = () => {};

  constructor(opts: StateOptions) {
    this.opts = opts;
    this.fields = [
      field({ api_name: 'Owner', field_label: 'Lead Owner', data_type: 'ownerlookup', json_type: 'jsonobject' }),
      field({ api_name: 'First_Name', field_label: 'First Name', data_type: 'text', length: 40 }),
      field({ api_name: 'Last_Name', field_label: 'Last Name', data_type: 'text', length: 80, system_mandatory: true }),
      field({
        api_name: 'Email',
        field_label: 'Email',
        data_type: 'email',
        length: 100,
        unique: opts.emailUnique ? { casesensitive: false } : {},
      }),
      field({ api_name: 'Phone', field_label: 'Phone', data_type: 'phone', length: 30 }),
      field({ api_name: 'Mobile', field_label: 'Mobile', data_type: 'phone', length: 30 }),
      field({ api_name: 'Company', field_label: 'Company', data_type: 'text', length: 200 }),
      field({
        api_name: 'Lead_Status',
        field_label: 'Lead Status',
        data_type: 'picklist',
        pick_list_values: picklist([
          '-None-',
          'Attempted to Contact',
          'Contact in Future',
          'Contacted',
          'Junk Lead',
          'Lost Lead',
          'Not Contacted',
          'Pre-Qualified',
          'Not Qualified',
        ]),
      }),
      field({
        api_name: 'Lead_Source',
        field_label: 'Lead Source',
        data_type: 'picklist',
        pick_list_values: picklist(['-None-', 'Advertisement', 'Cold Call', 'Web Download', 'Trade Show']),
      }),
      field({ api_name: 'Description', field_label: 'Description', data_type: 'textarea', length: 32000 }),
      field({ api_name: 'Created_Time', field_label: 'Created Time', data_type: 'datetime', read_only: true, field_read_only: true }),
      field({ api_name: 'Modified_Time', field_label: 'Modified Time', data_type: 'datetime', read_only: true, field_read_only: true }),
    ];
  }

  // ---- clock ------------------------------------------------------------------------

  /** Zoho's time, second resolution. */
  now(): number {
    return this.clock.now();
  }

  setClock(at: Date | null): void {
    this.clock.set(at);
  }

  fmt(ms: number): string {
    return formatZohoTime(ms, this.opts.timezoneOffsetMinutes);
  }

  // ---- fields -----------------------------------------------------------------------

  fieldByApiName(name: string): FieldDef | undefined {
    return this.fields.find((f) => f.api_name === name);
  }

  createCustomField(input: Record<string, unknown>, index: number): RecordResult {
    const label = typeof input.field_label === 'string' ? input.field_label.trim() : '';
    const dataType = typeof input.data_type === 'string' ? input.data_type : '';
    if (!label) return err('MANDATORY_NOT_FOUND', { api_name: 'field_label', json_path: `$.fields[${index}].field_label` }, 'required field not found');
    if (!dataType) return err('MANDATORY_NOT_FOUND', { api_name: 'data_type', json_path: `$.fields[${index}].data_type` }, 'required field not found');
    if (!['text', 'picklist', 'email', 'phone', 'textarea', 'integer'].includes(dataType)) {
      return err('INVALID_DATA', { api_name: 'data_type', json_path: `$.fields[${index}].data_type` }, 'invalid data');
    }
    if (this.fields.some((f) => f.field_label.toLowerCase() === label.toLowerCase())) {
      return err('DUPLICATE_DATA', { api_name: 'field_label', json_path: `$.fields[${index}].field_label` }, 'duplicate data');
    }
    let values: PicklistValue[] = [];
    if (dataType === 'picklist') {
      const raw = input.pick_list_values;
      if (!Array.isArray(raw) || raw.length === 0) {
        return err('MANDATORY_NOT_FOUND', { api_name: 'pick_list_values', json_path: `$.fields[${index}].pick_list_values` }, 'required field not found');
      }
      const parsed = parsePicklistInput(raw);
      if (!parsed) return err('INVALID_DATA', { api_name: 'pick_list_values', json_path: `$.fields[${index}].pick_list_values` }, 'invalid data');
      values = picklist(['-None-', ...parsed]);
    }
    const base = this.opts.customFieldApiName?.(label) ?? label.replace(/[^A-Za-z0-9]+/g, '_').replace(/^_+|_+$/g, '');
    let apiName = base;
    for (let n = 1; this.fieldByApiName(apiName); n++) apiName = `${base}${n}`;
    const def = field({
      api_name: apiName,
      field_label: label,
      data_type: dataType,
      custom_field: true,
      created_source: 'crm',
      pick_list_values: values,
      length: typeof input.length === 'number' ? input.length : 255,
    });
    this.fields.push(def);
    return ok({ id: def.id }, 'field created');
  }

  updateCustomField(id: string, input: Record<string, unknown>): RecordResult {
    const def = this.fields.find((f) => f.id === id);
    if (!def) return err('INVALID_DATA', { api_name: 'id' }, 'the id given seems to be invalid');
    if (!def.custom_field) return err('NOT_SUPPORTED', { api_name: 'id' }, 'system fields cannot be updated');
    if (input.pick_list_values !== undefined) {
      if (def.data_type !== 'picklist') return err('INVALID_DATA', { api_name: 'pick_list_values' }, 'invalid data');
      const parsed = Array.isArray(input.pick_list_values) ? parsePicklistInput(input.pick_list_values) : null;
      if (!parsed) return err('INVALID_DATA', { api_name: 'pick_list_values' }, 'invalid data');
      for (const v of parsed) {
        if (!def.pick_list_values.some((p) => p.actual_value === v)) {
          def.pick_list_values.push({
            display_value: v,
            actual_value: v,
            id: nextId('5725767000000003'),
            sequence_number: def.pick_list_values.length + 1,
            type: 'used',
          });
        }
      }
    }
    return ok({ id: def.id }, 'field updated');
  }

  // ---- records: reading --------------------------------------------------------------

  /** Records created inside commitLater() whose transaction has not committed yet. */
  readonly uncommitted = new Set<string>();

  /**
   * Records `fn` creates get their id and Modified_Time now but stay out of record lists
   * until the returned function commits them (a save that commits after its stamp).
   */
  commitLater(fn: () => void): () => void {
    const before = new Set(this.leads.keys());
    fn();
    const created = [...this.leads.keys()].filter((k) => !before.has(k));
    for (const k of created) this.uncommitted.add(k);
    return () => {
      for (const k of created) this.uncommitted.delete(k);
    };
  }

  get(id: string): StoredLead | undefined {
    if (this.missingAll) return undefined;
    return this.leads.get(id);
  }

  /** The record as the API renders it; `fields` limits the keys (id always included). */
  render(lead: StoredLead, fields?: string[] | null): Record<string, unknown> {
    const full: Record<string, unknown> = {
      Owner: { name: API_USER.name, id: API_USER.id, email: API_USER.email },
      $approval_state: 'approved',
      $editable: true,
      Record_Status__s: 'Available',
    };
    for (const f of this.fields) {
      if (f.api_name === 'Owner' || f.api_name === 'Created_Time' || f.api_name === 'Modified_Time') continue;
      full[f.api_name] = lead.values[f.api_name] ?? null;
    }
    const first = lead.values.First_Name;
    const last = lead.values.Last_Name;
    full.Full_Name = [first, last].filter((v) => typeof v === 'string' && v !== '').join(' ');
    full.Created_Time = this.fmt(lead.createdTime);
    full.Modified_Time = this.fmt(lead.modifiedTime);
    full.Created_By = { name: lead.createdBy.name, id: lead.createdBy.id, email: lead.createdBy.email };
    full.Modified_By = { name: lead.modifiedBy.name, id: lead.modifiedBy.id, email: lead.modifiedBy.email };
    full.id = lead.id;
    if (!fields) return full;
    const out: Record<string, unknown> = {};
    for (const name of fields) if (name in full) out[name] = full[name];
    out.id = lead.id;
    return out;
  }

  /** Brings the search index up to date for records whose lag has passed. */
  refreshIndex(realNow = Date.now()): void {
    for (const lead of this.leads.values()) {
      if (lead.indexDueAt <= realNow) lead.indexed = { ...lead.values };
    }
  }

  /** Makes every pending write searchable now. */
  indexNow(): void {
    for (const lead of this.leads.values()) {
      lead.indexDueAt = 0;
      lead.indexed = { ...lead.values };
    }
  }

  // ---- records: writing --------------------------------------------------------------

  /**
   * Validates one input record. Returns the error result, or the cleaned values.
   * `existing` is the record being updated (undefined on insert).
   */
  private validate(
    input: Record<string, unknown>,
    index: number,
    existing: StoredLead | undefined,
  ): { error: RecordResult } | { values: Record<string, unknown> } {
    const values: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(input)) {
      if (key === 'id' || key.startsWith('$') || IGNORED_INPUT_KEYS.has(key)) continue;
      const def = this.fieldByApiName(key);
      const path = `$.data[${index}].${key}`;
      if (!def) return { error: err('INVALID_DATA', { api_name: key, json_path: path }, 'invalid data') };
      if (def.read_only) continue;
      if (value === null || value === undefined) {
        values[key] = null;
        continue;
      }
      if (typeof value !== 'string') {
        return { error: err('INVALID_DATA', { api_name: key, json_path: path, expected_data_type: 'string' }, 'invalid data') };
      }
      if (value.length > def.length) {
        return { error: err('INVALID_DATA', { api_name: key, json_path: path, maximum_length: def.length }, 'invalid data') };
      }
      if (def.data_type === 'email' && value !== '' && !EMAIL_RE.test(value)) {
        return { error: err('INVALID_DATA', { api_name: key, json_path: path }, 'invalid data') };
      }
      if (def.data_type === 'picklist' && this.opts.strictPicklists && value !== '' && !def.pick_list_values.some((p) => p.actual_value === value)) {
        return { error: err('INVALID_DATA', { api_name: key, json_path: path }, 'invalid data') };
      }
      // Zoho stores an empty picklist choice as null and renders it as null.
      values[key] = def.data_type === 'picklist' && (value === '' || value === '-None-') ? null : value;
    }
    for (const def of this.fields) {
      if (!def.system_mandatory) continue;
      const after = def.api_name in values ? values[def.api_name] : existing?.values[def.api_name];
      if (after === null || after === undefined || (typeof after === 'string' && after.trim() === '')) {
        return { error: err('MANDATORY_NOT_FOUND', { api_name: def.api_name, json_path: `$.data[${index}].${def.api_name}` }, 'required field not found') };
      }
    }
    const email = 'Email' in values ? values.Email : existing?.values.Email;
    if (this.opts.emailUnique && typeof email === 'string' && email !== '') {
      const dup = this.findByEmail(email).find((l) => l.id !== existing?.id);
      if (dup) return { error: duplicateError('Email', index, dup) };
    }
    return { values };
  }

  /** Exact (case-insensitive) email lookup straight from storage (not the search index). */
  findByEmail(email: string): StoredLead[] {
    const wanted = email.trim().toLowerCase();
    return [...this.leads.values()]
      .filter((l) => typeof l.values.Email === 'string' && (l.values.Email as string).trim().toLowerCase() === wanted)
      .sort((a, b) => a.createdTime - b.createdTime || a.id.localeCompare(b.id));
  }

  private store(values: Record<string, unknown>, actor: ZohoUser): StoredLead {
    const t = this.now();
    const lead: StoredLead = {
      id: nextId('5725767000001'),
      values,
      createdTime: t,
      modifiedTime: t,
      createdBy: actor,
      modifiedBy: actor,
      indexed: null,
      indexDueAt: Date.now() + this.opts.searchLagMs,
    };
    if (this.opts.searchLagMs <= 0) lead.indexed = { ...values };
    this.leads.set(lead.id, lead);
    return lead;
  }

  private apply(lead: StoredLead, values: Record<string, unknown>, actor: ZohoUser): string[] {
    const changed = Object.keys(values).filter((k) => lead.values[k] !== values[k]);
    Object.assign(lead.values, values);
    lead.modifiedTime = this.now();
    lead.modifiedBy = actor;
    lead.indexDueAt = Date.now() + this.opts.searchLagMs;
    if (this.opts.searchLagMs <= 0) lead.indexed = { ...lead.values };
    return changed;
  }

  private successDetails(lead: StoredLead): Record<string, unknown> {
    return {
      Modified_Time: this.fmt(lead.modifiedTime),
      Modified_By: { name: lead.modifiedBy.name, id: lead.modifiedBy.id },
      Created_Time: this.fmt(lead.createdTime),
      id: lead.id,
      Created_By: { name: lead.createdBy.name, id: lead.createdBy.id },
    };
  }

  insert(data: Record<string, unknown>[], actor: ZohoUser, workflows: boolean): RecordResult[] {
    const results: RecordResult[] = [];
    const created: string[] = [];
    data.forEach((input, i) => {
      const v = this.validate(input, i, undefined);
      if ('error' in v) {
        results.push(v.error);
        return;
      }
      const lead = this.store(v.values, actor);
      created.push(lead.id);
      results.push({ ...ok(this.successDetails(lead), 'record added') });
    });
    if (created.length) this.emit({ operation: 'insert', ids: created, affectedFields: {}, actor, workflows });
    return results;
  }

  update(data: Record<string, unknown>[], actor: ZohoUser, workflows: boolean, forcedId?: string): RecordResult[] {
    const results: RecordResult[] = [];
    const updated: string[] = [];
    const affected: Record<string, string[]> = {};
    data.forEach((input, i) => {
      const id = forcedId ?? (typeof input.id === 'string' ? input.id : typeof input.id === 'number' ? String(input.id) : null);
      if (!id) {
        results.push(err('MANDATORY_NOT_FOUND', { api_name: 'id', json_path: `$.data[${i}].id` }, 'required field not found'));
        return;
      }
      const lead = this.get(id);
      if (!lead) {
        results.push(err('INVALID_DATA', { api_name: 'id', json_path: `$.data[${i}].id`, expected_data_type: 'bigint' }, 'the id given seems to be invalid'));
        return;
      }
      const v = this.validate(input, i, lead);
      if ('error' in v) {
        results.push(v.error);
        return;
      }
      affected[lead.id] = this.apply(lead, v.values, actor);
      updated.push(lead.id);
      results.push(ok(this.successDetails(lead), 'record updated'));
    });
    if (updated.length) this.emit({ operation: 'update', ids: updated, affectedFields: affected, actor, workflows });
    return results;
  }

  upsert(data: Record<string, unknown>[], duplicateCheckFields: string[], actor: ZohoUser, workflows: boolean): RecordResult[] {
    const results: RecordResult[] = [];
    const inserted: string[] = [];
    const updated: string[] = [];
    const affected: Record<string, string[]> = {};
    const checks = duplicateCheckFields.length ? duplicateCheckFields : ['Email'];
    data.forEach((input, i) => {
      let match: StoredLead | undefined;
      let matchedOn: string | null = null;
      for (const f of checks) {
        const value = input[f];
        if (typeof value !== 'string' || value === '') continue;
        const def = this.fieldByApiName(f);
        if (!def) continue;
        const found = [...this.leads.values()]
          .filter((l) => typeof l.values[f] === 'string' && (l.values[f] as string).trim().toLowerCase() === value.trim().toLowerCase())
          .sort((a, b) => a.createdTime - b.createdTime || a.id.localeCompare(b.id))[0];
        if (found) {
          match = found;
          matchedOn = f;
          break;
        }
      }
      const v = this.validate(input, i, match);
      if ('error' in v) {
        results.push(v.error);
        return;
      }
      if (match) {
        affected[match.id] = this.apply(match, v.values, actor);
        updated.push(match.id);
        results.push({ ...ok(this.successDetails(match), 'record updated'), duplicate_field: matchedOn, action: 'update' });
      } else {
        const lead = this.store(v.values, actor);
        inserted.push(lead.id);
        results.push({ ...ok(this.successDetails(lead), 'record added'), duplicate_field: null, action: 'insert' });
      }
    });
    if (inserted.length) this.emit({ operation: 'insert', ids: inserted, affectedFields: {}, actor, workflows });
    if (updated.length) this.emit({ operation: 'update', ids: updated, affectedFields: affected, actor, workflows });
    return results;
  }

  delete(ids: string[], actor: ZohoUser): RecordResult[] {
    const results: RecordResult[] = [];
    const deleted: string[] = [];
    for (const id of ids) {
      if (!this.get(id)) {
        results.push(err('INVALID_DATA', { id }, 'record not deleted'));
        continue;
      }
      this.leads.delete(id);
      deleted.push(id);
      results.push(ok({ id }, 'record deleted'));
    }
    if (deleted.length) this.emit({ operation: 'delete', ids: deleted, affectedFields: {}, actor, workflows: true });
    return results;
  }

  private emit(change: Change): void {
    this.changes.push(change);
    this.onChange(change);
    // A workflow rule configured on create runs after the creation (as Zoho's would),
    // unless the writer asked for no triggers.
    if (change.operation === 'insert' && change.workflows && this.opts.workflowOnCreate) {
      const rule = this.opts.workflowOnCreate;
      this.update(
        change.ids.map((id) => ({ id, ...rule })),
        change.actor,
        false,
      );
    }
  }
}

function parsePicklistInput(raw: unknown[]): string[] | null {
  const out: string[] = [];
  for (const item of raw) {
    if (!item || typeof item !== 'object') return null;
    const o = item as Record<string, unknown>;
    const actual = typeof o.actual_value === 'string' ? o.actual_value : typeof o.display_value === 'string' ? o.display_value : null;
    if (!actual) return null;
    out.push(actual);
  }
  return out;
}

export function ok(details: Record<string, unknown>, message: string): RecordResult {
  return { code: 'SUCCESS', details, message, status: 'success' };
}

export function err(code: string, details: Record<string, unknown>, message: string): RecordResult {
  return { code, details, message, status: 'error' };
}

function duplicateError(apiName: string, index: number, existing: StoredLead): RecordResult {
  return err(
    'DUPLICATE_DATA',
    {
      api_name: apiName,
      json_path: `$.data[${index}].${apiName}`,
      duplicate_record: {
        Owner: { name: API_USER.name, id: API_USER.id, zuid: '60000000001' },
        module: { api_name: 'Leads', id: LEADS_MODULE_ID },
        id: existing.id,
      },
      more_records: false,
    },
    'duplicate data',
  );
}
