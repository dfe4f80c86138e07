// The Zoho sandbox's Leads read routes: get records (a page, sorted, with page tokens and
// If-Modified-Since, or the records of `ids`), one record by id, and search (email or criteria), answering
// from the search index, which lags writes by the sandbox's search lag.
import type http from 'node:http';
import { errorBody, type ApiRoute, type Reply } from './api.ts';
import { CriteriaError, matchesCriteria, parseCriteria } from './criteria.ts';
import type { LeadsState, StoredLead } from './state.ts';

interface SortSpec {
  by: 'id' | 'Created_Time' | 'Modified_Time';
  order: 'asc' | 'desc';
}

function keyOf(l: StoredLead, by: SortSpec['by']): number | string {
  return by === 'id' ? l.id : by === 'Created_Time' ? l.createdTime : l.modifiedTime;
}

function compare(a: StoredLead, b: StoredLead, spec: SortSpec): number {
  const ka = keyOf(a, spec.by);
  const kb = keyOf(b, spec.by);
  const dir = spec.order === 'asc' ? 1 : -1;
  if (ka !== kb) return (ka < kb ? -1 : 1) * dir;
  // Zoho does not document the order within equal times: the sandbox puts the
  // newest id first whichever way the list is sorted, so nothing can rely on it.
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

function encodeToken(payload: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(payload)).toString('base64url');
}

function decodeToken(token: string): Record<string, unknown> | null {
  try {
    const v = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as unknown;
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function listLeadsApi(state: LeadsState, query: URLSearchParams, headers: http.IncomingHttpHeaders): Reply {
  const idsParam = query.get('ids');
  const fieldsParam = query.get('fields');
  if (!fieldsParam) {
    return { status: 400, body: errorBody('REQUIRED_PARAM_MISSING', 'One of the expected parameter is missing', { param: 'fields' }) };
  }
  const fields = fieldsParam.split(',').map((f) => f.trim()).filter(Boolean);
  if (fields.length > 50) return { status: 400, body: errorBody('LIMIT_EXCEEDED', 'fields limit exceeded', { limit: 50 }) };
  if (idsParam !== null) {
    const ids = idsParam.split(',').map((s) => s.trim()).filter(Boolean);
    if (ids.length > 100) return { status: 400, body: errorBody('LIMIT_EXCEEDED', 'ids limit exceeded', { limit: 100 }) };
    const found = ids.map((id) => state.get(id)).filter((l): l is StoredLead => !!l);
    if (found.length === 0) return { status: 204 };
    return {
      status: 200,
      body: {
        data: found.map((l) => state.render(l, fields)),
        info: { per_page: found.length, count: found.length, page: 1, more_records: false },
      },
    };
  }
  const sortBy = (query.get('sort_by') ?? 'id') as SortSpec['by'];
  if (!['id', 'Created_Time', 'Modified_Time'].includes(sortBy)) {
    return { status: 400, body: errorBody('INVALID_DATA', 'invalid data', { param_name: 'sort_by' }) };
  }
  const sortOrder = (query.get('sort_order') ?? 'desc') as SortSpec['order'];
  if (sortOrder !== 'asc' && sortOrder !== 'desc') {
    return { status: 400, body: errorBody('INVALID_DATA', 'invalid data', { param_name: 'sort_order' }) };
  }
  const perPage = Number(query.get('per_page') ?? '200');
  if (!Number.isInteger(perPage) || perPage < 1 || perPage > 200) {
    return { status: 400, body: errorBody('INVALID_DATA', 'invalid data', { param_name: 'per_page' }) };
  }
  const spec: SortSpec = { by: sortBy, order: sortOrder };
  let all = [...state.leads.values()].filter((l) => !state.uncommitted.has(l.id));
  if (state.missingAll) all = [];
  const ims = headers['if-modified-since'];
  if (typeof ims === 'string') {
    const since = Date.parse(ims);
    if (Number.isNaN(since)) return { status: 400, body: errorBody('INVALID_DATA', 'invalid data', { header_name: 'If-Modified-Since' }) };
    all = all.filter((l) => l.modifiedTime > since);
    if (all.length === 0) return { status: 304 };
  }
  all.sort((a, b) => compare(a, b, spec));

  // The page token is bound to every other parameter of the first call.
  const binding = JSON.stringify([fieldsParam, sortBy, sortOrder, perPage, ims ?? null]);
  const pageToken = query.get('page_token');
  const pageParam = query.get('page');
  if (pageToken && pageParam) {
    return { status: 400, body: errorBody('AMBIGUITY_DURING_PROCESSING', 'page and page_token cannot be used together') };
  }
  let start = 0;
  let page = 1;
  if (pageToken) {
    const t = decodeToken(pageToken);
    if (!t || typeof t.after !== 'string') return { status: 400, body: errorBody('INVALID_DATA', 'The token given seems to be invalid', { param_name: 'page_token' }) };
    if (typeof t.exp === 'number' && t.exp < state.now()) return { status: 400, body: errorBody('EXPIRED_VALUE', 'The token given has expired', { param_name: 'page_token' }) };
    if (t.binding !== binding) {
      return { status: 400, body: errorBody('TOKEN_BOUND_DATA_MISMATCH', 'The page_token given seems to be invalid or input param is added, altered, or deleted', { param_name: 'page_token' }) };
    }
    // Keyset: resume after the last record handed out (by its sort key and id).
    const after = JSON.parse(t.after) as { key: number | string; id: string };
    const probe = { id: after.id, createdTime: after.key, modifiedTime: after.key } as unknown as StoredLead;
    start = all.findIndex((l) => compare(l, probe, spec) > 0);
    if (start < 0) start = all.length;
    page = typeof t.page === 'number' ? t.page : 2;
  } else if (pageParam) {
    page = Number(pageParam);
    if (!Number.isInteger(page) || page < 1) return { status: 400, body: errorBody('INVALID_DATA', 'invalid data', { param_name: 'page' }) };
    if (page * perPage > 2000) {
      return { status: 400, body: errorBody('DISCRETE_PAGINATION_LIMIT_EXCEEDED', 'You can only get the first 2000 records without using page_token param', {}) };
    }
    start = (page - 1) * perPage;
  }
  const slice = all.slice(start, start + perPage);
  if (slice.length === 0) return { status: 204 };
  const more = start + perPage < all.length;
  const last = slice[slice.length - 1]!;
  const nextToken = more
    ? encodeToken({
        after: JSON.stringify({ key: keyOf(last, sortBy), id: last.id }),
        binding,
        page: page + 1,
        exp: state.now() + 24 * 3600_000,
      })
    : null;
  return {
    status: 200,
    body: {
      data: slice.map((l) => state.render(l, fields)),
      info: {
        call: false,
        per_page: perPage,
        next_page_token: nextToken,
        count: slice.length,
        sort_by: sortBy,
        page,
        previous_page_token: null,
        page_token_expiry: nextToken ? state.fmt(state.now() + 24 * 3600_000) : null,
        sort_order: sortOrder,
        email: false,
        more_records: more,
      },
    },
  };
}

function searchApi(state: LeadsState, query: URLSearchParams): Reply {
  state.refreshIndex();
  let predicate: (values: Record<string, unknown>) => boolean;
  const email = query.get('email');
  const criteria = query.get('criteria');
  if (email !== null) {
    const wanted = email.trim().toLowerCase();
    predicate = (v) => ['Email'].some((f) => typeof v[f] === 'string' && (v[f] as string).toLowerCase() === wanted);
  } else if (criteria !== null) {
    try {
      const c = parseCriteria(criteria);
      predicate = (v) => matchesCriteria(c, v);
    } catch (e) {
      if (e instanceof CriteriaError) return { status: 400, body: errorBody('INVALID_QUERY', 'invalid query formed', { reason: e.message }) };
      throw e;
    }
  } else {
    return { status: 400, body: errorBody('REQUIRED_PARAM_MISSING', 'One of the expected parameter is missing', { param: 'criteria' }) };
  }
  const perPage = Math.min(Number(query.get('per_page') ?? '200') || 200, 200);
  const page = Math.max(Number(query.get('page') ?? '1') || 1, 1);
  const matched = state.missingAll
    ? []
    : [...state.leads.values()]
        .filter((l) => l.indexed !== null && predicate(l.indexed))
        .sort((a, b) => (a.id < b.id ? 1 : -1));
  const slice = matched.slice((page - 1) * perPage, page * perPage);
  if (slice.length === 0) return { status: 204 };
  return {
    status: 200,
    body: {
      data: slice.map((l) => state.render(l)),
      info: { per_page: perPage, count: slice.length, sort_by: 'id', page, sort_order: 'desc', more_records: matched.length > page * perPage },
    },
  };
}

export function leadReadRoutes(state: LeadsState): ApiRoute[] {
  return [
    { method: 'GET', pattern: '/crm/v7/Leads', handler: ({ query, headers }) => listLeadsApi(state, query, headers) },
    { method: 'GET', pattern: '/crm/v7/Leads/search', handler: ({ query }) => searchApi(state, query) },
    {
      method: 'GET',
      pattern: '/crm/v7/Leads/:id(\\d+)',
      handler: ({ params }) => {
        const lead = state.get(params.id!);
        return lead ? { status: 200, body: { data: [state.render(lead)] } } : { status: 204 };
      },
    },
  ];
}
