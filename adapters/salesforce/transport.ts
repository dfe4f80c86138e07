// The HTTP transport jsforce uses for our connections, routed through the network guard.
//
// jsforce 3.10.16 sends every request (REST, and the OAuth token endpoint) through
// `Connection._transport` / `OAuth2._transport`, whose default implementation calls
// node-fetch with no agent of ours (only a proxy agent from the environment) and
// follows redirects itself. We replace both with this one: the same request/answer
// shape ({statusCode, headers, body}), but sent with guardedFetch, so the URL, the
// address at connect time and redirects are checked like every other adapter's.
import { PassThrough } from 'node:stream';
import type { Connection } from 'jsforce';
import type { FetchLike } from '../kit/transport.ts';

interface JsforceRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

interface JsforceResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

/** Requests that never answer are abandoned after this long (jsforce's own default is 30 minutes). */
export const REQUEST_TIMEOUT_MS = 120_000;

export class GuardedTransport {
  constructor(private readonly fetch: FetchLike) {}

  /** jsforce's StreamPromise shape: a promise of the answer with a `stream()` of its body. */
  httpRequest(req: JsforceRequest): Promise<JsforceResponse> & { stream(): PassThrough } {
    const stream = new PassThrough();
    const promise = this.send(req).then(
      (res) => {
        stream.end(res.body);
        return res;
      },
      (err: unknown) => {
        stream.destroy();
        throw err;
      },
    ) as Promise<JsforceResponse> & { stream(): PassThrough };
    promise.stream = () => stream;
    return promise;
  }

  private async send(req: JsforceRequest): Promise<JsforceResponse> {
    const method = req.method.toUpperCase();
    const body = method === 'GET' || method === 'HEAD' || req.body === undefined ? undefined : req.body;
    const res = await this.fetch(req.url, {
      method,
      headers: req.headers ?? {},
      body: body as BodyInit | undefined,
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const headers: Record<string, string> = {};
    res.headers.forEach((v, k) => {
      headers[k.toLowerCase()] = v;
    });
    return { statusCode: res.status, headers, body: await res.text() };
  }
}

/** Makes `conn` (and its OAuth2 client) send everything through `fetch`. */
export function useGuardedTransport(conn: Connection, fetch: FetchLike): void {
  const transport = new GuardedTransport(fetch) as unknown as Connection['_transport'];
  conn._transport = transport;
  conn.oauth2._transport = transport;
}
