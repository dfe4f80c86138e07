// The HubSpot sandbox's contact routes (CRM v3 objects API): basic (list, create, read,
// update, archive), batch (read, create, update, upsert, archive) and search.
import { CONTACTS, HttpError, asObject, errorBody, inputs, propsOf, propsParam, resolveId, storeError, validation, type ApiRoute, type Result } from './api.ts';
import { StoreError, type ContactStore, type SearchRequest } from './store.ts';

function batchResult(results: Record<string, unknown>[], errors: Record<string, unknown>[], started: string, okStatus: number): Result {
  const out: Record<string, unknown> = {
    status: 'COMPLETE',
    results,
    startedAt: started,
    completedAt: new Date().toISOString(),
  };
  if (errors.length > 0) {
    out.numErrors = errors.length;
    out.errors = errors;
    return { status: 207, body: out };
  }
  return { status: okStatus, body: out };
}

function notFoundError(ids: string[]): Record<string, unknown> {
  return {
    status: 'error',
    category: 'OBJECT_NOT_FOUND',
    message: 'Could not get some CONTACT objects, they may be deleted or not exist. Check that ids are valid.',
    context: { ids },
    errors: [],
    links: {},
  };
}

function checkProblems(store: ContactStore, p: Record<string, unknown>): void {
  const problems = store.problems(p);
  if (problems.length > 0) throw validation(`Property values were not valid: ${JSON.stringify(problems)}`, { errors: problems });
}

export function contactRoutes(store: ContactStore): ApiRoute[] {
  const batchRead = (list: Record<string, unknown>[], body: unknown, started: string): Result => {
    const b = asObject(body, 'a batch read');
    const idProperty = typeof b.idProperty === 'string' ? b.idProperty : null;
    const props = Array.isArray(b.properties) ? (b.properties as string[]) : null;
    const withHistory = Array.isArray(b.propertiesWithHistory) ? (b.propertiesWithHistory as unknown[]).map(String) : [];
    if (withHistory.length > 0 && list.length > 50) {
      // HubSpot's answer when property histories are asked for more than 50 records.
      throw validation('The maximum number of inputs supported in a batch request for property histories is 50. Please reduce the number of items and try again');
    }
    const results: Record<string, unknown>[] = [];
    const missing: string[] = [];
    const seen = new Set<string>();
    for (const i of list) {
      const id = String(i.id ?? '');
      const c = resolveId(store, id, idProperty);
      if (!c) missing.push(id);
      else if (!seen.has(c.id)) {
        seen.add(c.id);
        results.push(store.toJson(c, props, withHistory));
      }
    }
    return batchResult(results, missing.length > 0 ? [notFoundError(missing)] : [], started, 200);
  };

  const batchCreate = (list: Record<string, unknown>[], started: string): Result => {
    // All or nothing, like HubSpot without multi-status (its error handling docs: partial
    // failures of a batch create only for inputs carrying an objectWriteTraceId): any
    // invalid input or existing email fails the batch, and nothing is created. An existing
    // email answers 409 CONFLICT "Contact already exists. Existing ID: <id>" naming the
    // first existing contact only (HubSpot/hubspot-api-python#51).
    const emails = new Set<string>();
    for (const i of list) {
      const p = propsOf(i);
      checkProblems(store, p);
      const email = typeof p.email === 'string' ? p.email.trim().toLowerCase() : '';
      if (email) {
        const existing = store.getByEmail(email);
        if (existing) throw new HttpError(409, errorBody(`Contact already exists. Existing ID: ${existing.id}`, 'CONFLICT'));
        if (emails.has(email)) throw validation(`Duplicate email in batch input: ${email}`);
        emails.add(email);
      }
    }
    const results = list.map((i) => {
      try {
        return store.toJson(store.create(propsOf(i), 'INTEGRATION'), [...Object.keys(propsOf(i))]);
      } catch (e) {
        return storeError(e);
      }
    });
    return batchResult(results, [], started, 201);
  };

  const batchUpdate = (list: Record<string, unknown>[], body: unknown, started: string): Result => {
    const b = asObject(body, 'a batch update');
    const ids = list.map((i) => String(i.id ?? ''));
    if (new Set(ids).size !== ids.length) throw validation('Duplicate IDs found in batch input');
    const defaultIdProperty = typeof b.idProperty === 'string' ? b.idProperty : null;
    for (const i of list) checkProblems(store, propsOf(i));
    const results: Record<string, unknown>[] = [];
    const missing: string[] = [];
    const errors: Record<string, unknown>[] = [];
    for (const i of list) {
      const idProperty = typeof i.idProperty === 'string' ? i.idProperty : defaultIdProperty;
      const c = resolveId(store, String(i.id ?? ''), idProperty);
      if (!c) {
        missing.push(String(i.id ?? ''));
        continue;
      }
      try {
        const u = store.update(c.id, propsOf(i), 'INTEGRATION');
        results.push(store.toJson(u, Object.keys(propsOf(i))));
      } catch (e) {
        if (e instanceof StoreError) errors.push({ status: 'error', category: e.category, message: e.message, context: { ids: [String(i.id)] } });
        else throw e;
      }
    }
    if (missing.length > 0) errors.push(notFoundError(missing));
    return batchResult(results, errors, started, 200);
  };

  const batchUpsert = (list: Record<string, unknown>[], started: string): Result => {
    for (const i of list) {
      if (i.idProperty !== 'email' || typeof i.id !== 'string') throw validation('upsert inputs need id and idProperty "email"');
      checkProblems(store, propsOf(i));
    }
    const results = list.map((i) => {
      try {
        const existing = store.getByEmail(String(i.id));
        const c = existing ? store.update(existing.id, propsOf(i), 'INTEGRATION') : store.create({ ...propsOf(i), email: String(i.id) }, 'INTEGRATION');
        return { ...store.toJson(c, Object.keys(propsOf(i))), new: !existing };
      } catch (e) {
        return storeError(e);
      }
    });
    return batchResult(results, [], started, 200);
  };

  return [
    {
      method: 'POST',
      pattern: `${CONTACTS}/batch/:op(read|create|update|upsert|archive)`,
      handler: ({ params, body }) => {
        const started = new Date().toISOString();
        const list = inputs(body);
        switch (params.op) {
          case 'read':
            return batchRead(list, body, started);
          case 'create':
            return batchCreate(list, started);
          case 'update':
            return batchUpdate(list, body, started);
          case 'upsert':
            return batchUpsert(list, started);
          default:
            for (const i of list) store.archive(String(i.id ?? ''), 'INTEGRATION');
            return { status: 204 };
        }
      },
    },
    {
      method: 'POST',
      pattern: `${CONTACTS}/search`,
      handler: ({ body }) => {
        const b = asObject(body, 'a search request') as SearchRequest;
        try {
          const r = store.search(b);
          const out: Record<string, unknown> = { total: r.total, results: r.results.map((c) => store.toJson(c, Array.isArray(b.properties) ? b.properties : null)) };
          if (r.nextAfter) out.paging = { next: { after: r.nextAfter } };
          return { status: 200, body: out };
        } catch (e) {
          return storeError(e);
        }
      },
    },
    {
      method: 'GET',
      pattern: CONTACTS,
      handler: ({ query: q }) => {
        const limit = q.has('limit') ? Number(q.get('limit')) : 10;
        if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw validation('limit must be between 1 and 100');
        const after = q.get('after');
        if (after !== null && !/^\d+$/.test(after)) throw validation(`after is not valid: ${after}`);
        const archived = q.get('archived') === 'true';
        const { page, next } = store.listFrom(after, limit, archived);
        const out: Record<string, unknown> = { results: page.map((c) => store.toJson(c, propsParam(q))) };
        if (next) out.paging = { next: { after: next, link: `${CONTACTS}?after=${next}` } };
        return { status: 200, body: out };
      },
    },
    {
      method: 'POST',
      pattern: CONTACTS,
      handler: ({ body }) => {
        const b = asObject(body, 'a contact');
        try {
          const c = store.create(propsOf(b), 'INTEGRATION');
          return { status: 201, body: store.toJson(c, Object.keys(propsOf(b))) };
        } catch (e) {
          return storeError(e);
        }
      },
    },
    {
      method: ['GET', 'PATCH', 'DELETE'],
      pattern: `${CONTACTS}/:id`,
      handler: ({ method, params, query: q, body }) => {
        const c = resolveId(store, params.id!, q.get('idProperty'));
        if (!c) throw new HttpError(404, errorBody('resource not found', 'OBJECT_NOT_FOUND'));
        if (method === 'GET') return { status: 200, body: store.toJson(c, propsParam(q), propsParam(q, 'propertiesWithHistory') ?? []) };
        if (method === 'DELETE') {
          store.archive(c.id, 'INTEGRATION');
          return { status: 204 };
        }
        try {
          const u = store.update(c.id, propsOf(asObject(body, 'a contact')), 'INTEGRATION');
          return { status: 200, body: store.toJson(u, Object.keys(propsOf(asObject(body, 'a contact')))) };
        } catch (e) {
          return storeError(e);
        }
      },
    },
  ];
}
