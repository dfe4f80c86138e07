// The HubSpot sandbox's contact search (CRM v3 search): filter groups (OR of ANDs, at most
// 5 groups of 6 filters), a free-text query, one sort, and paging by offset inside the
// 10,000-result search window, over the contacts as the search index holds them.
import { StoreError, type PropertyDef, type StoredContact } from './model.ts';

export const SEARCH_WINDOW = 10_000;

/** What search reads of the store: the property definitions and a contact's values. */
export interface SearchView {
  readonly properties: Map<string, PropertyDef>;
  value(c: StoredContact, name: string): string | null;
}

export interface SearchFilter {
  propertyName: string;
  operator: string;
  value?: unknown;
  highValue?: unknown;
  values?: unknown[];
}

export interface SearchRequest {
  filterGroups?: { filters?: SearchFilter[] }[];
  sorts?: unknown[];
  properties?: string[];
  limit?: number;
  after?: string | number | null;
  query?: string;
}

function parseSort(s: unknown): { propertyName: string; direction: 'ASCENDING' | 'DESCENDING' } {
  if (typeof s === 'string') {
    return s.startsWith('-') ? { propertyName: s.slice(1), direction: 'DESCENDING' } : { propertyName: s, direction: 'ASCENDING' };
  }
  if (s && typeof s === 'object' && typeof (s as { propertyName?: unknown }).propertyName === 'string') {
    const d = (s as { direction?: unknown }).direction;
    return { propertyName: (s as { propertyName: string }).propertyName, direction: d === 'DESCENDING' ? 'DESCENDING' : 'ASCENDING' };
  }
  throw new StoreError(400, 'VALIDATION_ERROR', `Invalid sort ${JSON.stringify(s)}`);
}

function toNumber(v: string): number {
  if (/^-?\d+(\.\d+)?$/.test(v)) return Number(v);
  const t = Date.parse(v);
  return Number.isNaN(t) ? Number.NaN : t;
}

export function searchContacts(view: SearchView, indexed: StoredContact[], req: SearchRequest): { total: number; results: StoredContact[]; nextAfter: string | null } {
  const groups = req.filterGroups ?? [];
  if (groups.length > 5) throw new StoreError(400, 'VALIDATION_ERROR', 'Too many filter groups (max 5)');
  if (groups.some((g) => (g.filters ?? []).length > 6)) throw new StoreError(400, 'VALIDATION_ERROR', 'Too many filters in a group (max 6)');
  const limit = req.limit ?? 10;
  if (!Number.isInteger(limit) || limit < 0 || limit > 200) {
    throw new StoreError(400, 'VALIDATION_ERROR', `limit must be between 0 and 200, got ${String(req.limit)}`);
  }
  const offset = req.after === undefined || req.after === null || req.after === '' ? 0 : Number(req.after);
  if (!Number.isInteger(offset) || offset < 0) throw new StoreError(400, 'VALIDATION_ERROR', `after is not valid: ${String(req.after)}`);
  if (offset + limit > SEARCH_WINDOW) {
    throw new StoreError(400, 'VALIDATION_ERROR', `The search window is limited to ${SEARCH_WINDOW} results (after=${offset}, limit=${limit})`);
  }
  for (const g of groups) for (const f of g.filters ?? []) checkFilter(view, f);
  const sorts = (req.sorts ?? []).map(parseSort);
  if (sorts.length > 1) throw new StoreError(400, 'VALIDATION_ERROR', 'Only one sort is supported');

  let rows = indexed.filter((c) => groups.length === 0 || groups.some((g) => (g.filters ?? []).every((f) => matches(view, c, f))));
  if (req.query) {
    const q = req.query.toLowerCase();
    rows = rows.filter((c) => ['email', 'firstname', 'lastname', 'phone', 'company'].some((p) => (c.props[p] ?? '').toLowerCase().includes(q)));
  }
  const sort = sorts[0];
  if (sort) {
    // HubSpot promises no order among ties; the sandbox returns ties in DESCENDING id
    // order on purpose so a client that assumes id order among ties is caught.
    const key = new Map(rows.map((c) => [c.id, sortKey(view, c, sort.propertyName)]));
    rows.sort((a, b) => {
      const ka = key.get(a.id)!;
      const kb = key.get(b.id)!;
      const c = ka === kb ? 0 : ka === null ? -1 : kb === null ? 1 : ka < kb ? -1 : 1;
      if (c !== 0) return sort.direction === 'DESCENDING' ? -c : c;
      return Number(b.id) - Number(a.id);
    });
  }
  const total = rows.length;
  const page = rows.slice(offset, offset + limit);
  const end = offset + limit;
  const nextAfter = end < total && end < SEARCH_WINDOW ? String(end) : null;
  return { total, results: page, nextAfter };
}

function checkFilter(view: SearchView, f: SearchFilter): void {
  if (!f || typeof f.propertyName !== 'string' || !view.properties.has(f.propertyName)) {
    throw new StoreError(400, 'VALIDATION_ERROR', `There was a problem with the request: unknown property ${JSON.stringify(f?.propertyName)}`);
  }
  const ops = ['EQ', 'NEQ', 'LT', 'LTE', 'GT', 'GTE', 'BETWEEN', 'IN', 'NOT_IN', 'HAS_PROPERTY', 'NOT_HAS_PROPERTY', 'CONTAINS_TOKEN', 'NOT_CONTAINS_TOKEN'];
  if (!ops.includes(f.operator)) throw new StoreError(400, 'VALIDATION_ERROR', `Unknown operator ${String(f.operator)}`);
  if ((f.operator === 'IN' || f.operator === 'NOT_IN') && !Array.isArray(f.values)) {
    throw new StoreError(400, 'VALIDATION_ERROR', `${f.operator} needs "values"`);
  }
}

/** Numbers and dates as numbers (dates in epoch ms), strings lower-cased; null when unset. */
function sortKey(view: SearchView, c: StoredContact, prop: string): number | string | null {
  if (prop === 'lastmodifieddate') return c.updatedAt;
  if (prop === 'createdate') return c.createdAt;
  if (prop === 'hs_object_id') return Number(c.id);
  const v = view.value(c, prop);
  if (v === null) return null;
  const type = view.properties.get(prop)?.type;
  return type === 'datetime' || type === 'number' ? toNumber(v) : v.toLowerCase();
}

function matches(view: SearchView, c: StoredContact, f: SearchFilter): boolean {
  const v = view.value(c, f.propertyName);
  const mine = sortKey(view, c, f.propertyName);
  const type = view.properties.get(f.propertyName)?.type;
  const cmp = (x: unknown) => {
    if (x === undefined || x === null) return 1;
    const other = type === 'datetime' || type === 'number' ? toNumber(String(x)) : String(x).toLowerCase();
    return mine === other ? 0 : mine === null ? -1 : mine < other ? -1 : 1;
  };
  switch (f.operator) {
    case 'HAS_PROPERTY':
      return v !== null;
    case 'NOT_HAS_PROPERTY':
      return v === null;
    case 'EQ':
      return v !== null && cmp(f.value) === 0;
    case 'NEQ':
      return v === null || cmp(f.value) !== 0;
    case 'GT':
      return v !== null && cmp(f.value) > 0;
    case 'GTE':
      return v !== null && cmp(f.value) >= 0;
    case 'LT':
      return v !== null && cmp(f.value) < 0;
    case 'LTE':
      return v !== null && cmp(f.value) <= 0;
    case 'BETWEEN':
      return v !== null && cmp(f.value) >= 0 && cmp(f.highValue) <= 0;
    case 'IN':
      return v !== null && (f.values ?? []).some((x) => cmp(x) === 0);
    case 'NOT_IN':
      return v === null || !(f.values ?? []).some((x) => cmp(x) === 0);
    case 'CONTAINS_TOKEN':
      return v !== null && v.toLowerCase().includes(String(f.value ?? '').replace(/\*/g, '').toLowerCase());
    case 'NOT_CONTAINS_TOKEN':
      return v === null || !v.toLowerCase().includes(String(f.value ?? '').replace(/\*/g, '').toLowerCase());
    default:
      return false;
  }
}
