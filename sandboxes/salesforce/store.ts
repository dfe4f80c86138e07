// The sandbox org's Lead table (its schema in schema.ts): validation rules as Salesforce
// applies them, the duplicate rule, audit stamps on a settable clock, and change listeners.
import { IdFactory, KEY_PREFIX, to15, to18 } from './ids.ts';
import { SandboxClock } from '../kit/clock.ts';
import type { FieldKind, Row, SoqlSchema, Value } from './soql.ts';
import { coerceTyped, isTypedField, NUMBER_TYPES, seededCustomFields } from './field-values.ts';
import { standardFields, type Actor, type ChangeKind, type ChangeListener, type FieldDef, type SfError, type StoredLead, type WriteOutcome } from './schema.ts';

export * from './schema.ts';

const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export class LeadStore implements SoqlSchema {
  readonly objectName = 'Lead';
  private readonly fields = new Map<string, FieldDef>();
  private readonly rows = new Map<string, StoredLead>();
  private readonly deleted = new Map<string, StoredLead>();
  private readonly ids = new IdFactory(KEY_PREFIX.lead);
  private readonly listeners: ChangeListener[] = [];
  private readonly clock = new SandboxClock(1000);
  /** Active duplicate rule: blocks a save when another Lead equals it on ALL these fields. */
  duplicateRule: { fields: string[] } | null = null;

  constructor(readonly ownerId: string) {
    for (const f of [...standardFields(), ...seededCustomFields()]) this.fields.set(f.name.toLowerCase(), f);
  }

  // ---- schema -------------------------------------------------------------------------

  addField(def: FieldDef): void {
    this.fields.set(def.name.toLowerCase(), { custom: def.name.endsWith('__c'), ...def });
  }

  removeField(name: string): void {
    const f = this.fields.get(name.toLowerCase());
    if (!f || !f.custom) throw new Error(`cannot remove field ${name}`);
    this.fields.delete(name.toLowerCase());
    for (const lead of [...this.rows.values(), ...this.deleted.values()]) delete lead.values[f.name];
  }

  field(name: string): FieldDef | undefined {
    return this.fields.get(name.toLowerCase());
  }

  allFields(): FieldDef[] {
    return [...this.fields.values()];
  }

  resolve(name: string): string | undefined {
    return this.field(name)?.name;
  }

  kind(field: string): FieldKind {
    const t = this.field(field)?.type;
    if (t === 'id' || t === 'reference') return 'id';
    if (t === 'datetime') return 'datetime';
    if (t === 'boolean') return 'boolean';
    if (t && NUMBER_TYPES.has(t)) return 'number';
    return 'string';
  }

  // ---- clock & listeners ----------------------------------------------------------------

  setClock(at: Date | null): void {
    this.clock.set(at);
  }

  /** Salesforce stamps audit fields at whole seconds. */
  now(): Date {
    return new Date(this.clock.now());
  }

  onChange(l: ChangeListener): void {
    this.listeners.push(l);
  }

  private held: Parameters<ChangeListener>[0][] | null = null;

  private emit(kind: ChangeKind, id: string, lead: StoredLead, changedFields: string[] = []): void {
    const change = { kind, id, lead, changedFields };
    if (this.held) this.held.push(change);
    else for (const l of this.listeners) l(change);
  }

  /**
   * Starts an all-or-none unit: calling the result undoes every write since, `.commit()`
   * keeps them. Change notifications are held until commit and dropped on rollback.
   */
  checkpoint(): (() => void) & { commit(): void } {
    const copy = (m: Map<string, StoredLead>) => new Map([...m].map(([k, l]) => [k, { ...l, values: { ...l.values } }]));
    const rows = copy(this.rows);
    const deleted = copy(this.deleted);
    this.held = [];
    const restore = (() => {
      this.rows.clear();
      for (const [k, v] of rows) this.rows.set(k, v);
      this.deleted.clear();
      for (const [k, v] of deleted) this.deleted.set(k, v);
      this.held = null;
    }) as (() => void) & { commit(): void };
    restore.commit = () => {
      const held = this.held ?? [];
      this.held = null;
      for (const c of held) for (const l of this.listeners) l(c);
    };
    return restore;
  }

  // ---- reads ----------------------------------------------------------------------------

  get(id: string): StoredLead | undefined {
    return this.rows.get(to15(id));
  }

  isDeleted(id: string): boolean {
    return this.deleted.has(to15(id));
  }

  /** The last state of a deleted Lead (for notifications already queued). */
  getDeleted(id: string): StoredLead | undefined {
    return this.deleted.get(to15(id));
  }

  all(): StoredLead[] {
    return [...this.rows.values()];
  }

  /** Leads created inside commitLater() whose transaction has not committed yet. */
  private readonly uncommitted = new Set<string>();

  /** What queries see: committed Leads only. */
  committed(): StoredLead[] {
    return this.all().filter((l) => !this.uncommitted.has(to15(String(l.values.Id))));
  }

  /**
   * Leads created by `fn` are stamped (Id, SystemModstamp) now but stay invisible to
   * queries until the returned function commits them: a transaction that commits after
   * it was stamped, as a long save (triggers, flows) does.
   */
  commitLater(fn: () => void): () => void {
    const before = new Set(this.rows.keys());
    fn();
    const created = [...this.rows.keys()].filter((k) => !before.has(k));
    for (const k of created) this.uncommitted.add(k);
    return () => {
      for (const k of created) this.uncommitted.delete(k);
    };
  }

  findByField(field: string, value: string, exceptId?: string): StoredLead[] {
    const f = this.field(field);
    if (!f) return [];
    const v = value.toLowerCase();
    return this.all().filter((l) => {
      const x = l.values[f.name];
      return typeof x === 'string' && x.toLowerCase() === v && (!exceptId || to15(String(l.values.Id)) !== to15(exceptId));
    });
  }

  // ---- writes ---------------------------------------------------------------------------

  /** Field names of a payload that do not exist (request-level INVALID_FIELD). */
  unknownFields(input: Record<string, unknown>): string[] {
    return Object.keys(input).filter((k) => k !== 'attributes' && !this.field(k));
  }

  private coerce(input: Record<string, unknown>, op: 'insert' | 'update'): { values: Row; errors: SfError[] } {
    const values: Row = {};
    const errors: SfError[] = [];
    for (const [k, raw] of Object.entries(input)) {
      if (k === 'attributes') continue;
      const f = this.field(k);
      if (!f) {
        errors.push({ errorCode: 'INVALID_FIELD', message: `No such column '${k}' on sobject of type Lead`, fields: [] });
        continue;
      }
      if (f.name === 'Id' && op === 'update') continue;
      if (!(op === 'insert' ? f.createable : f.updateable)) {
        errors.push({
          errorCode: 'INVALID_FIELD_FOR_INSERT_UPDATE',
          message: `Unable to create/update fields: ${f.name}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.`,
          fields: [f.name],
        });
        continue;
      }
      let v: Value;
      if (raw === null || raw === undefined) v = f.type === 'boolean' ? false : null;
      else if (isTypedField(f)) {
        const r = coerceTyped(f, raw);
        if ('error' in r) {
          errors.push(r.error);
          continue;
        }
        v = r.value;
      } else if (f.type === 'boolean') {
        if (typeof raw !== 'boolean') {
          errors.push({ errorCode: 'INVALID_TYPE_ON_FIELD_IN_RECORD', message: `${f.label}: value not of required type: ${String(raw)}`, fields: [f.name] });
          continue;
        }
        v = raw;
      } else if (typeof raw === 'string' || typeof raw === 'number') {
        const s = String(raw);
        v = s.trim() === '' ? null : s;
      } else {
        errors.push({ errorCode: 'JSON_PARSER_ERROR', message: `Cannot deserialize instance of string from ${typeof raw} value for field ${f.name}`, fields: [f.name] });
        continue;
      }
      values[f.name] = v;
    }
    return { values, errors };
  }

  private check(values: Row, selfId: string | null): SfError[] {
    const errors: SfError[] = [];
    for (const f of this.allFields()) {
      const v = values[f.name];
      if (typeof v !== 'string') continue;
      if (f.length && v.length > f.length) {
        errors.push({ errorCode: 'STRING_TOO_LONG', message: `${f.label}: data value too large: ${v.slice(0, 40)} (max length=${f.length})`, fields: [f.name] });
      }
      if (f.type === 'email' && !EMAIL_RE.test(v)) {
        errors.push({ errorCode: 'INVALID_EMAIL_ADDRESS', message: `${f.label}: invalid email address: ${v}`, fields: [f.name] });
      }
      if (f.type === 'picklist' && f.restrictedPicklist && !(f.picklistValues ?? []).includes(v)) {
        errors.push({ errorCode: 'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST', message: `${f.label}: bad value for restricted picklist field: ${v}`, fields: [f.name] });
      }
      if (f.unique) {
        const clash = this.findByField(f.name, v, selfId ?? undefined)[0];
        if (clash) {
          errors.push({
            errorCode: 'DUPLICATE_VALUE',
            message: `duplicate value found: ${f.name} duplicates value on record with id: ${String(clash.values.Id)}`,
            fields: [],
          });
        }
      }
    }
    const missing = this.allFields().filter((f) => f.required && (values[f.name] === null || values[f.name] === undefined)).map((f) => f.name);
    if (missing.length > 0) {
      errors.push({ errorCode: 'REQUIRED_FIELD_MISSING', message: `Required fields are missing: [${missing.join(', ')}]`, fields: missing });
    }
    return errors;
  }

  private duplicateError(values: Row, selfId: string | null): SfError | null {
    const rule = this.duplicateRule;
    if (!rule || rule.fields.length === 0) return null;
    const keys = rule.fields.map((f) => this.resolve(f) ?? f);
    if (keys.some((k) => typeof values[k] !== 'string')) return null;
    const matches = this.all().filter(
      (l) =>
        (!selfId || to15(String(l.values.Id)) !== to15(selfId)) &&
        keys.every((k) => typeof l.values[k] === 'string' && (l.values[k] as string).toLowerCase() === (values[k] as string).toLowerCase()),
    );
    if (matches.length === 0) return null;
    return {
      errorCode: 'DUPLICATES_DETECTED',
      message: 'Use one of these records?',
      fields: [],
      duplicateResult: {
        allowSave: false,
        duplicateRule: 'Standard_Lead_Duplicate_Rule',
        duplicateRuleEntityType: 'Lead',
        errorMessage: 'Use one of these records?',
        matchResults: [
          {
            entityType: 'Lead',
            errors: [],
            matchEngine: 'ExactMatchEngine',
            matchRecords: matches.map((m) => ({
              additionalInformation: [],
              fieldDiffs: [],
              matchConfidence: 100.0,
              record: { attributes: { type: 'Lead', url: `/services/data/v62.0/sobjects/Lead/${String(m.values.Id)}` }, Id: m.values.Id },
            })),
            rule: 'Standard_Lead_Match_Rule_v1_0',
            size: matches.length,
            success: true,
          },
        ],
      },
    };
  }

  create(input: Record<string, unknown>, actor: Actor): WriteOutcome {
    const { values, errors } = this.coerce(input, 'insert');
    if (errors.length > 0) return { ok: false, errors };
    for (const f of this.allFields()) {
      // A checkbox is never null in Salesforce: unchecked unless set.
      if (values[f.name] === undefined) values[f.name] = f.defaultValue ?? (f.type === 'boolean' ? false : null);
    }
    const problems = this.check(values, null);
    if (problems.length > 0) return { ok: false, errors: problems };
    const dup = this.duplicateError(values, null);
    if (dup) return { ok: false, errors: [dup] };
    const id = this.ids.make();
    const now = this.now();
    Object.assign(values, {
      Id: id,
      IsDeleted: false,
      OwnerId: values.OwnerId ?? this.ownerId,
      CreatedDate: now,
      CreatedById: actor.userId,
      LastModifiedDate: now,
      LastModifiedById: actor.userId,
      SystemModstamp: now,
    });
    const lead: StoredLead = { values, createdByClient: actor.client, lastModifiedByClient: actor.client };
    this.rows.set(to15(id), lead);
    this.emit('created', id, lead);
    return { ok: true, id, created: true };
  }

  update(id: string, input: Record<string, unknown>, actor: Actor): WriteOutcome {
    const lead = this.get(id);
    if (!lead) {
      if (this.isDeleted(id)) return { ok: false, errors: [{ errorCode: 'ENTITY_IS_DELETED', message: 'entity is deleted', fields: [] }] };
      return { ok: false, errors: [{ errorCode: 'NOT_FOUND', message: 'The requested resource does not exist', fields: [] }] };
    }
    const { values, errors } = this.coerce(input, 'update');
    if (errors.length > 0) return { ok: false, errors };
    const next: Row = { ...lead.values, ...values };
    const problems = this.check(next, id);
    if (problems.length > 0) return { ok: false, errors: problems };
    const ruleFields = (this.duplicateRule?.fields ?? []).map((f) => this.resolve(f) ?? f);
    const matchChanged = ruleFields.some((k) => String(lead.values[k] ?? '').toLowerCase() !== String(next[k] ?? '').toLowerCase());
    const dup = matchChanged ? this.duplicateError(next, id) : null;
    if (dup) return { ok: false, errors: [dup] };
    const changedFields = Object.keys(values).filter((k) => (lead.values[k] ?? null) !== (values[k] ?? null));
    const now = this.now();
    Object.assign(next, { LastModifiedDate: now, LastModifiedById: actor.userId, SystemModstamp: now });
    lead.values = next;
    lead.lastModifiedByClient = actor.client;
    this.emit('updated', to18(String(next.Id)), lead, changedFields);
    return { ok: true, id: String(next.Id), created: false };
  }

  /** Upsert by an External ID field: 0 matches create, 1 updates, more is ambiguous. */
  upsert(extField: string, extValue: string, input: Record<string, unknown>, actor: Actor): WriteOutcome | { ok: 'multiple'; ids: string[] } {
    const f = this.field(extField);
    const matches = f ? this.findByField(f.name, extValue) : [];
    if (matches.length > 1) return { ok: 'multiple', ids: matches.map((m) => String(m.values.Id)) };
    const body = { ...input };
    for (const k of Object.keys(body)) if (k.toLowerCase() === extField.toLowerCase()) delete body[k];
    if (matches.length === 1) return this.update(String(matches[0].values.Id), body, actor);
    return this.create({ ...body, [f ? f.name : extField]: extValue }, actor);
  }

  delete(id: string, actor: Actor): WriteOutcome {
    const lead = this.get(id);
    if (!lead) {
      if (this.isDeleted(id)) return { ok: false, errors: [{ errorCode: 'ENTITY_IS_DELETED', message: 'entity is deleted', fields: [] }] };
      return { ok: false, errors: [{ errorCode: 'NOT_FOUND', message: 'The requested resource does not exist', fields: [] }] };
    }
    const now = this.now();
    Object.assign(lead.values, { IsDeleted: true, LastModifiedDate: now, LastModifiedById: actor.userId, SystemModstamp: now });
    lead.lastModifiedByClient = actor.client;
    this.rows.delete(to15(id));
    this.deleted.set(to15(id), lead);
    this.emit('deleted', String(lead.values.Id), lead);
    return { ok: true, id: String(lead.values.Id), created: false };
  }
}
