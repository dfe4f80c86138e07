// The Salesforce sandbox's SOQL routes: a query answers its first batch and, when more
// rows remain, a nextRecordsUrl with a query locator; the locator pages on (query more)
// until the last batch or until it expires (15 minutes).
import type http from 'node:http';
import { sfErrors, type ApiRoute, type Out } from './api.ts';
import type { IdFactory } from './ids.ts';
import { parseSoql, SoqlError } from './soql.ts';
import { runQuery } from './soql-run.ts';
import { toJson, type LeadStore } from './store.ts';

const QUERY_LOCATOR_TTL_MS = 15 * 60_000;

interface QueryCursor {
  rows: Record<string, unknown>[];
  totalSize: number;
  batch: number;
  expiresAt: number;
}

/** `forcedBatchSize`: the batch size a test forces (null: the client's Sforce-Query-Options, else 2000). */
export function queryRoutes(store: LeadStore, locatorIds: IdFactory, forcedBatchSize: () => number | null): ApiRoute[] {
  const cursors = new Map<string, QueryCursor>();

  function page(rows: Record<string, unknown>[], offset: number, batch: number, version: string, locator: string | null): Record<string, unknown> {
    const slice = rows.slice(offset, offset + batch);
    const end = offset + slice.length;
    const body: Record<string, unknown> = { totalSize: rows.length, done: end >= rows.length, records: slice };
    if (end < rows.length) {
      const id = locator ?? locatorIds.make();
      cursors.set(id, { rows, totalSize: rows.length, batch, expiresAt: Date.now() + QUERY_LOCATOR_TTL_MS });
      body.nextRecordsUrl = `/services/data/v${version}/query/${id}-${end}`;
    } else if (locator) {
      cursors.delete(locator);
    }
    return body;
  }

  function runSoql(soql: string, version: string, req: http.IncomingMessage): Out {
    let rows: Record<string, unknown>[];
    try {
      const q = parseSoql(soql, store);
      const hits = runQuery(q, store.committed().map((l) => l.values), store);
      if (q.count) return { status: 200, body: { totalSize: hits.length, done: true, records: [] } };
      rows = hits.map((h) => toJson(h, version, q.fields));
    } catch (e) {
      if (e instanceof SoqlError) throw sfErrors(400, e.errorCode, e.message);
      throw e;
    }
    const asked = /batchSize\s*=\s*(\d+)/i.exec(String(req.headers['sforce-query-options'] ?? ''))?.[1];
    const batch = forcedBatchSize() ?? (asked ? Math.min(2000, Math.max(200, Number(asked))) : 2000);
    return { status: 200, body: page(rows, 0, batch, version, null) };
  }

  function queryMore(locator: string, version: string): Out {
    const m = /^([a-zA-Z0-9]{15,18})-(\d+)$/.exec(locator);
    const c = m ? cursors.get(m[1]!) : undefined;
    if (!m || !c || c.expiresAt < Date.now()) throw sfErrors(400, 'INVALID_QUERY_LOCATOR', 'invalid query locator');
    return { status: 200, body: page(c.rows, Number(m[2]), c.batch, version, m[1]!) };
  }

  return [
    { method: 'GET', pattern: '/query', handler: ({ url, version, req }) => runSoql(url.searchParams.get('q') ?? '', version, req) },
    { method: 'GET', pattern: '/query/:locator', handler: ({ params, version }) => queryMore(params.locator!, version) },
  ];
}
