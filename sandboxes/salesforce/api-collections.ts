// The Salesforce sandbox's sObject Collections routes: create, update and delete up to 200
// records per call, and upsert by an External ID field. Each record succeeds or fails on
// its own inside a 200 answer, in the order sent; with allOrNone any failure rolls every
// record back.
import { checkType, json, rejectUnknown, sfErrors, type ApiRoute, type Out } from './api.ts';
import { isIdShaped } from './ids.ts';
import type { LeadStore, SfError, WriteOutcome } from './store.ts';

/** A collection result error entry (statusCode) from a store error. */
function collectionError(e: SfError): Record<string, unknown> {
  return {
    statusCode: e.errorCode,
    message: e.message,
    fields: e.fields,
    ...(e.duplicateResult ? { duplicateResult: e.duplicateResult } : {}),
  };
}

const LIMIT_REACHED = 'record limit reached. cannot submit more than 200 records into this call';

type Failure = { ok: false; errors: SfError[] };

/** `nextRecordFailure`: a failure a test injected for the next record written, or null. */
export function collectionRoutes(store: LeadStore, nextRecordFailure: () => SfError | null): ApiRoute[] {
  function collection(body: unknown): { allOrNone: boolean; records: Record<string, unknown>[] } {
    const b = body as { allOrNone?: unknown; records?: unknown };
    if (!b || !Array.isArray(b.records)) throw sfErrors(400, 'JSON_PARSER_ERROR', 'records: expected an array');
    if (b.records.length > 200) throw sfErrors(400, 'EXCEEDED_ID_LIMIT', LIMIT_REACHED);
    const records = b.records as Record<string, unknown>[];
    for (const r of records) {
      const attrs = r?.attributes as { type?: unknown } | undefined;
      if (!attrs?.type) throw sfErrors(400, 'INVALID_TYPE', 'Must send a concrete entity type.');
      checkType(attrs.type);
      rejectUnknown(store, Object.fromEntries(Object.entries(r).filter(([k]) => k.toLowerCase() !== 'id')));
    }
    return { allOrNone: b.allOrNone === true, records };
  }

  /** Runs per-record writes; with allOrNone any failure rolls every record back. */
  function writeAll(allOrNone: boolean, records: Record<string, unknown>[], write: (r: Record<string, unknown>, i: number) => WriteOutcome | Failure, withCreated: boolean): Out {
    const restore = allOrNone ? store.checkpoint() : null;
    const outcomes = records.map((r, i) => {
      const injected = nextRecordFailure();
      return injected ? { ok: false as const, errors: [injected] } : write(r, i);
    });
    const failed = outcomes.some((o) => !o.ok);
    if (restore && failed) {
      restore();
      return {
        status: 200,
        body: outcomes.map((o) => ({
          success: false,
          errors: o.ok
            ? [{ statusCode: 'ALL_OR_NONE_OPERATION_ROLLED_BACK', message: 'Record rolled back because not all records were valid and the request was using AllOrNone header', fields: [] }]
            : o.errors.map(collectionError),
        })),
      };
    }
    restore?.commit();
    return {
      status: 200,
      body: outcomes.map((o) => (o.ok ? { id: o.id, success: true, errors: [], ...(withCreated ? { created: o.created } : {}) } : { success: false, errors: o.errors.map(collectionError) })),
    };
  }

  function upsertMany(extField: string, body: unknown, actor: Parameters<LeadStore['upsert']>[3]): Out {
    const f = store.field(extField);
    if (!f || !f.externalId) throw sfErrors(400, 'INVALID_FIELD', `Field name provided, ${extField} is not an External ID or indexed field for Lead`);
    const { allOrNone, records } = collection(body);
    const values = records.map((r) => {
      const k = Object.keys(r).find((x) => x.toLowerCase() === f.name.toLowerCase());
      const v = k ? r[k] : undefined;
      return typeof v === 'string' || typeof v === 'number' ? String(v) : null;
    });
    const seen = new Map<string, number>();
    for (const v of values) if (v !== null) seen.set(v.toLowerCase(), (seen.get(v.toLowerCase()) ?? 0) + 1);
    return writeAll(allOrNone, records, (r, i) => {
      const v = values[i];
      if (v === null || v === '') return { ok: false, errors: [{ errorCode: 'MISSING_ARGUMENT', message: `${f.name} not specified`, fields: [f.name] }] };
      if ((seen.get(v.toLowerCase()) ?? 0) > 1) return { ok: false, errors: [{ errorCode: 'DUPLICATE_EXTERNAL_ID', message: `Duplicate external id specified: ${v}`, fields: [f.name] }] };
      const { attributes: _a, ...fields } = r;
      const out = store.upsert(f.name, v, fields, actor);
      if (out.ok === 'multiple') {
        return { ok: false, errors: [{ errorCode: 'DUPLICATE_EXTERNAL_ID', message: `${f.name}: more than one record found for external id field: [${out.ids.join(', ')}]`, fields: [f.name] }] };
      }
      return out;
    }, true);
  }

  return [
    {
      method: 'POST',
      pattern: '/composite/sobjects',
      handler: ({ rawBody, actor }) => {
        const { allOrNone, records } = collection(json(rawBody));
        return writeAll(allOrNone, records, (r) => {
          const { attributes: _a, ...fields } = r;
          if ('id' in fields || 'Id' in fields) return { ok: false, errors: [{ errorCode: 'INVALID_FIELD_FOR_INSERT_UPDATE', message: 'cannot specify Id in an insert call', fields: ['Id'] }] };
          return store.create(fields, actor);
        }, false);
      },
    },
    {
      method: 'PATCH',
      pattern: '/composite/sobjects',
      handler: ({ rawBody, actor }) => {
        const { allOrNone, records } = collection(json(rawBody));
        return writeAll(allOrNone, records, (r) => {
          const { attributes: _a, id, Id, ...fields } = r;
          const rid = (id ?? Id) as unknown;
          if (typeof rid !== 'string' || rid === '') return { ok: false, errors: [{ errorCode: 'MISSING_ARGUMENT', message: 'Id not specified in an update call', fields: [] }] };
          if (!isIdShaped(rid) || !rid.startsWith('00Q')) return { ok: false, errors: [{ errorCode: 'MALFORMED_ID', message: `Lead ID: id value of incorrect type: ${rid}`, fields: ['Id'] }] };
          if (!store.get(rid) && !store.isDeleted(rid)) return { ok: false, errors: [{ errorCode: 'INVALID_CROSS_REFERENCE_KEY', message: 'invalid cross reference id', fields: [] }] };
          return store.update(rid, fields, actor);
        }, false);
      },
    },
    {
      method: 'DELETE',
      pattern: '/composite/sobjects',
      handler: ({ url, actor }) => {
        const ids = (url.searchParams.get('ids') ?? '').split(',').filter(Boolean);
        if (ids.length > 200) throw sfErrors(400, 'EXCEEDED_ID_LIMIT', LIMIT_REACHED);
        const allOrNone = url.searchParams.get('allOrNone') === 'true';
        return writeAll(allOrNone, ids.map((id) => ({ id })), (r) => {
          const id = String(r.id);
          if (!isIdShaped(id)) return { ok: false, errors: [{ errorCode: 'MALFORMED_ID', message: `malformed id ${id}`, fields: [] }] };
          return store.delete(id, actor);
        }, false);
      },
    },
    {
      method: 'PATCH',
      pattern: '/composite/sobjects/:type/:field',
      handler: ({ params, rawBody, actor }) => {
        checkType(params.type);
        return upsertMany(params.field!, json(rawBody), actor);
      },
    },
  ];
}
