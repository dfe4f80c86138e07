// Middleware shared by every route: request id and logging, body size limit, API-key auth.
import { randomUUID } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { Authenticator, Scope } from '../auth.ts';
import { AppError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { MAX_BODY_BYTES, type HttpEnv } from './context.ts';
import { appErrorResponse } from './errors.ts';
import { rateLimited, type RateLimiter } from './rate-limit.ts';

const REQUEST_ID_HEADER = 'x-request-id';
const ACCEPTABLE_REQUEST_ID = /^[\w\-.:=]{1,128}$/;

/** A caller's request id when it is sane, a new one otherwise. */
export function requestIdFrom(header: string | null | undefined): string {
  return header && ACCEPTABLE_REQUEST_ID.test(header) ? header : randomUUID();
}

/** A path fit for logs: the secret segment of a webhook endpoint URL is replaced. */
export function loggablePath(path: string): string {
  return path.replace(/^(\/api\/v1\/webhooks\/[^/]+)\/[^/]+/, '$1/[secret]');
}

/**
 * Gives the request an id (echoed in `x-request-id`) and a child logger carrying it, and
 * logs one line when the response is ready. Paths are logged without query strings:
 * webhook URLs may carry tokens.
 */
export function requestContext(logger: Logger): MiddlewareHandler<HttpEnv> {
  return async (c, next) => {
    const requestId = requestIdFrom(c.req.header(REQUEST_ID_HEADER));
    const log = logger.child({ requestId });
    c.set('requestId', requestId);
    c.set('log', log);
    const started = performance.now();
    await next();
    c.header(REQUEST_ID_HEADER, requestId);
    const status = c.res.status;
    const line = { method: c.req.method, path: loggablePath(c.req.path), status, durationMs: Math.round(performance.now() - started) };
    if (status >= 500) log.warn(line, 'request failed');
    else if (c.req.path === '/healthz') log.debug(line, 'request completed');
    else log.info(line, 'request completed');
  };
}

/**
 * 413 as soon as the declared or streamed size passes the limit, before reading the rest.
 * A body of declared length (Content-Length, which Node's HTTP parser holds the body to)
 * is judged by its header alone, and a request with neither Content-Length nor
 * Transfer-Encoding has no body (RFC 9112, 6.3): neither touches the body, so a handler
 * still reads it straight from the socket (the Node adapter's fast path) instead of
 * through a web stream, which cost about a fifth of the CPU of a single-event webhook.
 * A chunked body is counted as it streams in.
 */
export function limitBody(maxSize = MAX_BODY_BYTES): MiddlewareHandler<HttpEnv> {
  const tooLarge = (c: Context<HttpEnv>) =>
    appErrorResponse(c, new AppError('PAYLOAD_TOO_LARGE', `Request body is larger than ${maxSize} bytes.`), {
      connection: 'close',
    });
  const streamed = bodyLimit({ maxSize, onError: tooLarge });
  return async (c, next) => {
    if (c.req.header('transfer-encoding') !== undefined) return streamed(c, next);
    const declared = c.req.header('content-length');
    if (declared === undefined) return next();
    return Number(declared) > maxSize ? tooLarge(c) : next();
  };
}

export const UNAUTHENTICATED_MESSAGE = 'A valid API key is required: send it as "Authorization: Bearer <key>".';

export function unauthenticated(): AppError {
  return new AppError('UNAUTHENTICATED', UNAUTHENTICATED_MESSAGE);
}

/**
 * Requires a valid, unrevoked API key within its rate limit (429 with Retry-After
 * otherwise); the principal and an org-scoped logger follow.
 */
export function requireApiKey(auth: Authenticator, limiter?: RateLimiter): MiddlewareHandler<HttpEnv> {
  return async (c, next) => {
    const principal = await auth.authenticate(c.req.header('authorization'));
    if (!principal) return appErrorResponse(c, unauthenticated(), { 'www-authenticate': 'Bearer' });
    const decision = limiter?.take(principal.apiKeyId);
    if (decision && !decision.allowed) {
      return appErrorResponse(c, rateLimited(decision), { 'retry-after': String(decision.retryAfterSeconds) });
    }
    c.set('principal', principal);
    c.set('log', c.get('log').child({ organizationId: principal.organizationId, apiKeyId: principal.apiKeyId }));
    await next();
  };
}

/** 403 FORBIDDEN unless the caller's key holds `scope` (after requireApiKey). */
export function requireScope(scope: Scope): MiddlewareHandler<HttpEnv> {
  return async (c, next) => {
    if (!c.get('principal').scopes.includes(scope)) {
      return appErrorResponse(c, new AppError('FORBIDDEN', `This API key is not allowed to do this: it lacks the ${scope} scope.`));
    }
    await next();
  };
}
