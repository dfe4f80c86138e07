// Which browser origins may use the API. Same-origin pages (the dashboard, GraphiQL)
// always may; other origins only when listed in CORS_ORIGINS. Requests without an
// Origin header (servers, CLIs, curl) are not browsers' cross-site requests and are
// served as before.
//   * HTTP: Access-Control-Allow-Origin is sent only to listed origins, never reflected
//     for others, and never with Access-Control-Allow-Credentials (the API authenticates
//     with a bearer key, not cookies).
//   * WebSockets: browsers do not apply CORS to them, so an upgrade whose Origin is
//     neither this server nor a listed origin is refused with 403 before the handshake.
import type { IncomingMessage } from 'node:http';
import type { MiddlewareHandler } from 'hono';
import type { HttpEnv } from './context.ts';

export interface OriginPolicy {
  /** Foreign origins allowed (normalised scheme://host[:port]). */
  allowed: readonly string[];
  /** This service's public URL: its origin counts as same-origin. */
  publicBaseUrl: string;
}

function originOf(value: string): string | null {
  try {
    const u = new URL(value);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.origin : null;
  } catch {
    return null;
  }
}

/** Whether a request carrying `origin` (and addressed to `host`) may proceed. */
export function originAllowed(policy: OriginPolicy, origin: string | undefined, host: string | undefined): boolean {
  if (origin === undefined) return true;
  const normalised = originOf(origin);
  if (!normalised) return false; // "null" (sandboxed frames, file://) and garbage
  if (policy.allowed.includes(normalised)) return true;
  if (normalised === originOf(policy.publicBaseUrl)) return true;
  // Same origin as the address the browser connected to.
  return host !== undefined && new URL(normalised).host === host.toLowerCase();
}

const ALLOW_METHODS = 'GET, POST, OPTIONS';
const ALLOW_HEADERS = 'authorization, content-type, accept, x-request-id';
const EXPOSE_HEADERS = 'x-request-id, retry-after';

/**
 * CORS answers for the HTTP routes: listed origins only, no credentials. The headers are
 * added to the response in place (never by re-creating it: responses may be streams).
 */
export function corsFor(policy: OriginPolicy): MiddlewareHandler<HttpEnv> {
  const allowedOrigin = (origin: string | undefined) => {
    const normalised = origin ? originOf(origin) : null;
    return normalised && policy.allowed.includes(normalised) ? normalised : null;
  };
  return async (c, next) => {
    const origin = c.req.header('origin');
    const allowed = allowedOrigin(origin);
    if (c.req.method === 'OPTIONS' && origin !== undefined && c.req.header('access-control-request-method')) {
      // A preflight: answered here, whatever the route.
      const headers: Record<string, string> = { vary: 'Origin' };
      if (allowed) {
        Object.assign(headers, {
          'access-control-allow-origin': allowed,
          'access-control-allow-methods': ALLOW_METHODS,
          'access-control-allow-headers': ALLOW_HEADERS,
          'access-control-max-age': '600',
        });
      }
      return c.body(null, 204, headers);
    }
    await next();
    try {
      c.res.headers.append('vary', 'Origin');
      if (allowed) {
        c.res.headers.set('access-control-allow-origin', allowed);
        c.res.headers.set('access-control-expose-headers', EXPOSE_HEADERS);
      }
    } catch {
      // An immutable response (none of ours): it goes out without CORS headers, i.e. same-origin only.
    }
  };
}

/** For the WebSocket upgrade handler. */
export function upgradeOriginAllowed(policy: OriginPolicy, request: IncomingMessage): boolean {
  const origin = request.headers.origin;
  const host = request.headers.host;
  return originAllowed(policy, Array.isArray(origin) ? origin[0] : origin, host);
}
