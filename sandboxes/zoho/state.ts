// In-memory state of the Zoho CRM sandbox: the Leads module, its field metadata (custom
// fields in fields.ts), the search index (which lags behind writes, as Zoho's does) and
// the clock; the model (users, fields, records, results) is in model.ts.
// Everything here speaks Zoho's own vocabulary (field API names, per-record
// `{code, details, message, status}` results); the HTTP layer only routes to it.
import { SandboxClock } from '../kit/clock.ts';
import { createCustomField, updateCustomField } from './fields.ts';
import { renderTyped, seededCustomFields, TYPED, typedValue } from './typed-values.ts';
import { API_USER, err, field, formatZohoTime, LEADS_MODULE_ID, nextId, ok, picklist, type Change, type FieldDef, type RecordResult, type StateOptions, type StoredLead, type ZohoUser } from './model.ts';

export * from './model.ts';

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
      ...seededCustomFields(),
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
    return createCustomField(this.fields, this.opts.customFieldApiName, input, index);
  }

  updateCustomField(id: string, input: Record<string, unknown>): RecordResult {
    return updateCustomField(this.fields, id, input);
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
      full[f.api_name] = TYPED.has(f.data_type) ? renderTyped(f, lead.values[f.api_name], (ms) => this.fmt(ms)) : (lead.values[f.api_name] ?? null);
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
      if (TYPED.has(def.data_type)) {
        const typed = typedValue(def, value, path, this.opts.strictPicklists);
        if ('error' in typed) return typed;
        values[key] = typed.value;
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
      if (def.data_type === 'picklist' && this.opts.strictPicklists && value !== '' && !def.pick_list_values.some((p) => p.display_value === value)) {
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
    const changed = Object.keys(values).filter((k) => JSON.stringify(lead.values[k] ?? null) !== JSON.stringify(values[k] ?? null));
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
