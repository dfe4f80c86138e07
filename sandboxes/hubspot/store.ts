// The HubSpot sandbox's data: contacts, contact property definitions, validation and the
// search index (search itself in search.ts), with HubSpot's rules (emails unique
// case-insensitively, "" clears a value, enumeration values must be options, read-only
// system properties). Transport-free: api.ts turns StoreError into HubSpot's error bodies.
import { SandboxClock } from '../kit/clock.ts';
import { StoreError, type ChangeSource, type PropertyDef, type PropertyProblem, type StoreChange, type StoredContact } from './model.ts';
import { seedCustomProperties, storedValue, valueProblem } from './property-values.ts';
import { searchContacts, type SearchRequest } from './search.ts';

export * from './model.ts';
export type { SearchFilter, SearchRequest } from './search.ts';

const LIFECYCLE_STAGES = [
  'subscriber',
  'lead',
  'marketingqualifiedlead',
  'salesqualifiedlead',
  'opportunity',
  'customer',
  'evangelist',
  'other',
];

const SYSTEM_READ_ONLY = new Set(['createdate', 'lastmodifieddate', 'hs_object_id']);
export const DEFAULT_RETURNED = ['createdate', 'email', 'firstname', 'hs_object_id', 'lastmodifieddate', 'lastname'];
const ALWAYS_RETURNED = ['createdate', 'hs_object_id', 'lastmodifieddate'];
const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export class ContactStore {
  private readonly contacts = new Map<string, StoredContact>();
  /** The contacts in id order (byId), until one is added or removed. */
  private sorted: StoredContact[] | null = null;
  private readonly byEmail = new Map<string, string>();
  readonly properties = new Map<string, PropertyDef>();
  private nextId = 101;
  private readonly clock = new SandboxClock();
  private listener: (c: StoreChange) => void = () => {};
  /** Writes by an integration that changed nothing (every property already held its value). */
  readonly noopWrites: { id: string; at: number }[] = [];

  constructor() {
    const t = Date.now();
    const def = (name: string, label: string, type: PropertyDef['type'], fieldType: string, extra: Partial<PropertyDef> = {}) =>
      this.properties.set(name, {
        name,
        label,
        type,
        fieldType,
        groupName: 'contactinformation',
        description: '',
        options: [],
        readOnlyValue: false,
        hubspotDefined: true,
        createdAt: t,
        updatedAt: t,
        ...extra,
      });
    def('email', 'Email', 'string', 'text');
    def('firstname', 'First Name', 'string', 'text');
    def('lastname', 'Last Name', 'string', 'text');
    def('phone', 'Phone Number', 'string', 'phonenumber');
    def('company', 'Company Name', 'string', 'text');
    def('lifecyclestage', 'Lifecycle Stage', 'enumeration', 'radio', {
      options: LIFECYCLE_STAGES.map((v, i) => ({ label: v, value: v, displayOrder: i, hidden: false })),
    });
    def('createdate', 'Create Date', 'datetime', 'date', { readOnlyValue: true });
    def('lastmodifieddate', 'Last Modified Date', 'datetime', 'date', { readOnlyValue: true });
    def('hs_object_id', 'Record ID', 'number', 'number', { readOnlyValue: true });
    seedCustomProperties(def);
  }

  onChange(fn: (c: StoreChange) => void): void {
    this.listener = fn;
  }

  setClock(at: Date | null): void {
    this.clock.set(at);
  }

  now(): number {
    return this.clock.now();
  }

  // ---------------------------------------------------------------- reads

  get(id: string, opts: { includeArchived?: boolean } = {}): StoredContact | undefined {
    const c = this.contacts.get(id);
    if (!c) return undefined;
    if (c.archived && !opts.includeArchived) return undefined;
    return c;
  }

  getByEmail(email: string): StoredContact | undefined {
    const id = this.byEmail.get(normaliseEmail(email));
    return id ? this.get(id) : undefined;
  }

  all(opts: { includeArchived?: boolean } = {}): StoredContact[] {
    return this.byId().filter((c) => opts.includeArchived || !c.archived);
  }

  /**
   * One page of the list API: up to `limit` contacts from id `after` on (in id order),
   * archived or not, and the id the next page starts at. Pages cost the page, not the
   * store: a 100,000-contact import is 1,000 pages, which sorting the store for each
   * would make the sandbox's own bottleneck.
   */
  listFrom(after: string | null, limit: number, archived: boolean): { page: StoredContact[]; next: string | null } {
    const rows = this.byId();
    let lo = 0;
    if (after !== null) {
      let hi = rows.length;
      const at = Number(after);
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (Number(rows[mid].id) < at) lo = mid + 1;
        else hi = mid;
      }
    }
    const page: StoredContact[] = [];
    for (let i = lo; i < rows.length; i++) {
      if (rows[i].archived !== archived) continue;
      if (page.length === limit) return { page, next: rows[i].id };
      page.push(rows[i]);
    }
    return { page, next: null };
  }

  /** Every contact in id order, kept until a contact is added or removed. */
  private byId(): StoredContact[] {
    this.sorted ??= [...this.contacts.values()].sort((a, b) => Number(a.id) - Number(b.id));
    return this.sorted;
  }

  /** The JSON HubSpot returns for one object, with the requested properties. */
  toJson(c: StoredContact, properties: string[] | null, withHistory: string[] = []): Record<string, unknown> {
    const names = properties && properties.length > 0 ? [...new Set([...properties, ...ALWAYS_RETURNED])] : DEFAULT_RETURNED;
    const props: Record<string, string | null> = {};
    // A property the portal does not have is left out of the answer, not refused (HubSpot's
    // documentation says nothing either way; the adapter only asks for properties the
    // portal lists, so it relies on neither).
    for (const n of names) if (this.properties.has(n)) props[n] = this.value(c, n);
    const out: Record<string, unknown> = {
      id: c.id,
      properties: props,
      createdAt: new Date(c.createdAt).toISOString(),
      updatedAt: new Date(c.updatedAt).toISOString(),
      archived: c.archived,
    };
    if (c.archived && c.archivedAt !== null) out.archivedAt = new Date(c.archivedAt).toISOString();
    if (withHistory.length > 0) {
      // "propertiesWithHistory": each named property's versions, newest first, with when
      // and by what kind of source each value was set.
      const h: Record<string, unknown[]> = {};
      for (const n of withHistory) {
        h[n] = [...(c.history[n] ?? [])]
          .reverse()
          .map((v) => ({ value: v.value, timestamp: new Date(v.timestamp).toISOString(), sourceType: v.sourceType, sourceId: v.sourceType === 'CRM_UI' ? 'userId:1' : 'app:1' }));
      }
      out.propertiesWithHistory = h;
    }
    return out;
  }

  private remember(c: StoredContact, name: string, value: string, t: number, source: ChangeSource): void {
    (c.history[name] ??= []).push({ value, timestamp: t, sourceType: source });
  }

  value(c: StoredContact, name: string): string | null {
    if (name === 'hs_object_id') return c.id;
    if (name === 'createdate') return new Date(c.createdAt).toISOString();
    if (name === 'lastmodifieddate') return new Date(c.updatedAt).toISOString();
    const v = c.props[name];
    return v === undefined || v === '' ? null : v;
  }

  // ---------------------------------------------------------------- validation

  /** Problems with a property map, HubSpot-style; [] when it can be written. */
  problems(props: Record<string, unknown>): PropertyProblem[] {
    const out: PropertyProblem[] = [];
    for (const [name, raw] of Object.entries(props)) {
      const def = this.properties.get(name);
      if (!def) {
        out.push({ isValid: false, message: `Property "${name}" does not exist`, error: 'PROPERTY_DOESNT_EXIST', name });
        continue;
      }
      if (def.readOnlyValue || SYSTEM_READ_ONLY.has(name)) {
        out.push({ isValid: false, message: `"${name}" is a read only property; its value cannot be set.`, error: 'READ_ONLY_VALUE', name });
        continue;
      }
      if (raw !== null && typeof raw !== 'string' && typeof raw !== 'number' && typeof raw !== 'boolean') {
        out.push({ isValid: false, message: `${JSON.stringify(raw)} is not a valid value`, error: 'INVALID_VALUE', name });
        continue;
      }
      const v = raw === null ? '' : String(raw);
      if (v === '') continue;
      const bad = valueProblem(def, v);
      if (bad) out.push(bad);
      if (name === 'email' && !EMAIL_RE.test(v.trim())) {
        out.push({ isValid: false, message: `Email address ${v} is invalid`, error: 'INVALID_EMAIL', name });
      }
    }
    return out;
  }

  /** Valid values in the form HubSpot stores them (dates as YYYY-MM-DD, booleans lower-case, ...). */
  private stored(props: Record<string, unknown>): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(props)) out[k] = v === null || v === undefined || String(v) === '' ? v : storedValue(this.properties.get(k), String(v));
    return out;
  }

  assertValid(props: Record<string, unknown>): void {
    const p = this.problems(props);
    if (p.length > 0) {
      throw new StoreError(400, 'VALIDATION_ERROR', `Property values were not valid: ${JSON.stringify(p)}`, { errors: p });
    }
  }

  // ---------------------------------------------------------------- writes

  /** Creates a contact; 409 CONFLICT when its email belongs to another contact. */
  create(props: Record<string, unknown>, source: ChangeSource): StoredContact {
    this.assertValid(props);
    const clean = cleanProps(this.stored(props));
    if (clean.email) {
      const existing = this.getByEmail(clean.email);
      if (existing) throw conflict(existing.id);
    }
    const t = this.now();
    const c: StoredContact = {
      id: String(this.nextId++),
      props: clean,
      createdAt: t,
      updatedAt: t,
      archived: false,
      archivedAt: null,
      mergedInto: null,
      history: {},
    };
    for (const [k, v] of Object.entries(clean)) this.remember(c, k, v, t, source);
    this.contacts.set(c.id, c);
    this.sorted = null;
    if (clean.email) this.byEmail.set(clean.email, c.id);
    this.listener({ type: 'creation', objectId: c.id, occurredAt: t, source, props: { ...clean } });
    return c;
  }

  /** Updates a contact; only properties whose value changes count as changes. */
  update(id: string, props: Record<string, unknown>, source: ChangeSource): StoredContact {
    const c = this.get(id);
    if (!c) throw new StoreError(404, 'OBJECT_NOT_FOUND', 'resource not found');
    this.assertValid(props);
    const incoming = Object.fromEntries(
      Object.entries(this.stored(props)).map(([k, v]) => [k, k === 'email' ? normaliseEmail(String(v ?? '')) : v === null ? '' : String(v)]),
    );
    if (incoming.email) {
      const owner = this.byEmail.get(incoming.email);
      if (owner && owner !== c.id && !this.contacts.get(owner)?.archived) throw conflict(owner);
    }
    const changed: string[] = [];
    for (const [k, v] of Object.entries(incoming)) {
      if ((c.props[k] ?? '') !== v) changed.push(k);
    }
    if (changed.length === 0) {
      if (source === 'INTEGRATION') this.noopWrites.push({ id: c.id, at: Date.now() });
      return c;
    }
    const t = this.now();
    for (const k of changed) {
      if (k === 'email') {
        if (c.props.email) this.byEmail.delete(c.props.email);
        if (incoming.email) this.byEmail.set(incoming.email, c.id);
      }
      if (incoming[k] === '') delete c.props[k];
      else c.props[k] = incoming[k]!;
      this.remember(c, k, incoming[k]!, t, source);
    }
    c.updatedAt = t;
    for (const k of changed) {
      this.listener({ type: 'propertyChange', objectId: c.id, occurredAt: t, source, propertyName: k, propertyValue: incoming[k]! });
    }
    return c;
  }

  archive(id: string, source: ChangeSource, privacy = false): boolean {
    const c = this.get(id);
    if (!c) return false;
    const t = this.now();
    c.archived = true;
    c.archivedAt = t;
    if (c.props.email && this.byEmail.get(c.props.email) === c.id) this.byEmail.delete(c.props.email);
    if (privacy) {
      c.props = {};
      this.listener({ type: 'privacyDeletion', objectId: c.id, occurredAt: t, source });
      this.contacts.delete(c.id);
      this.sorted = null;
    }
    this.listener({ type: 'deletion', objectId: c.id, occurredAt: t, source });
    return true;
  }

  restore(id: string, source: ChangeSource): StoredContact {
    const c = this.contacts.get(id);
    if (!c || !c.archived || c.mergedInto) throw new StoreError(404, 'OBJECT_NOT_FOUND', 'resource not found');
    if (c.props.email) {
      const owner = this.getByEmail(c.props.email);
      if (owner) throw conflict(owner.id);
      this.byEmail.set(c.props.email, c.id);
    }
    const t = this.now();
    c.archived = false;
    c.archivedAt = null;
    c.updatedAt = t;
    this.listener({ type: 'restore', objectId: c.id, occurredAt: t, source });
    return c;
  }

  /** Merges `mergedId` into `primaryId`: the primary survives with the merged record's values where it had none. */
  merge(primaryId: string, mergedId: string, source: ChangeSource): StoredContact {
    const primary = this.get(primaryId);
    const merged = this.get(mergedId);
    if (!primary || !merged || primaryId === mergedId) throw new StoreError(404, 'OBJECT_NOT_FOUND', 'resource not found');
    const t = this.now();
    let moved = 0;
    for (const [k, v] of Object.entries(merged.props)) {
      if (k === 'email') continue;
      if (!primary.props[k]) {
        primary.props[k] = v;
        this.remember(primary, k, v, t, source);
        moved++;
      }
    }
    primary.updatedAt = t;
    merged.archived = true;
    merged.archivedAt = t;
    merged.mergedInto = primary.id;
    if (merged.props.email && this.byEmail.get(merged.props.email) === merged.id) this.byEmail.delete(merged.props.email);
    this.listener({
      type: 'merge',
      objectId: primary.id,
      occurredAt: t,
      source,
      primaryObjectId: primary.id,
      mergedObjectIds: [merged.id],
      newObjectId: primary.id,
      numberOfPropertiesMoved: moved,
    });
    return primary;
  }

  // ---------------------------------------------------------------- search

  /** Contacts whose latest change search does not see yet: the version it still sees (null: none). */
  private readonly unindexed = new Map<string, StoredContact | null>();

  /**
   * Changes `fn` makes are applied (reads see them) but search keeps answering with the
   * contacts as they were before, until indexNow(): HubSpot's search index lags writes.
   */
  lagIndex(fn: () => void): void {
    const before = new Map([...this.contacts.values()].map((c) => [c.id, { ...c, props: { ...c.props } }]));
    fn();
    for (const c of this.contacts.values()) {
      const was = before.get(c.id);
      if (this.unindexed.has(c.id) || (was && was.updatedAt === c.updatedAt && was.archived === c.archived)) continue;
      this.unindexed.set(c.id, was ?? null);
    }
  }

  indexNow(): void {
    this.unindexed.clear();
  }

  /** The contacts as the search index holds them. */
  private indexed(): StoredContact[] {
    return this.all()
      .map((c) => (this.unindexed.has(c.id) ? this.unindexed.get(c.id)! : c))
      .filter((c): c is StoredContact => c !== null && !c.archived);
  }

  search(req: SearchRequest): { total: number; results: StoredContact[]; nextAfter: string | null } {
    return searchContacts(this, this.indexed(), req);
  }
}

export function normaliseEmail(e: string): string {
  return e.trim().toLowerCase();
}

function cleanProps(props: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(props)) {
    if (v === null || v === undefined) continue;
    const s = k === 'email' ? normaliseEmail(String(v)) : String(v);
    if (s !== '') out[k] = s;
  }
  return out;
}

function conflict(existingId: string): StoreError {
  return new StoreError(409, 'CONFLICT', `Contact already exists. Existing ID: ${existingId}`, { existingId });
}
