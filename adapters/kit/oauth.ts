// What the three adapters' OAuth code shares: the form POST to a token endpoint (through
// the network guard, with a deadline), expiry from `expires_in`, PKCE's S256 challenge
// and the URL of a consent page. Each adapter translates the answers with its own
// translator (errors.ts): nothing here looks at an error's text.
import { createHash } from 'node:crypto';
import { withDeadline } from './deadline.ts';
import { checkOrigin, type HostAllowList, type NetworkPolicy } from './net-guard.ts';
import { guardedFetch, type FetchLike } from './transport.ts';

export const DEFAULT_OAUTH_TIMEOUT_MS = 30_000;

/** An answer of an OAuth endpoint: status, parsed JSON body (null when none or not JSON), headers. */
export interface OAuthHttpAnswer {
  status: number;
  body: Record<string, unknown> | null;
  headers: Headers;
}

export interface OAuthHttpOptions {
  hosts: HostAllowList;
  network?: NetworkPolicy;
  timeoutMs?: number;
  /** Replaces the network (tests of the guard); the guard's URL checks still apply. */
  fetch?: FetchLike;
}

/** One guarded fetch (its connection pool) per allow-list and policy, shared by every OAuth call. */
const fetches = new WeakMap<HostAllowList, Map<string, FetchLike>>();

function fetchFor(o: OAuthHttpOptions): FetchLike {
  if (o.fetch) return guardedFetch({ hosts: o.hosts, policy: o.network, inner: o.fetch });
  let byPolicy = fetches.get(o.hosts);
  if (!byPolicy) fetches.set(o.hosts, (byPolicy = new Map()));
  const key = o.network?.allowLocalHosts === true ? 'local' : 'strict';
  let f = byPolicy.get(key);
  if (!f) byPolicy.set(key, (f = guardedFetch({ hosts: o.hosts, policy: o.network })));
  return f;
}

/**
 * One request to an OAuth endpoint through the network guard. Throws what fetch throws
 * (network failures, guard refusals, the deadline's `timeout()`): the caller's translator
 * maps it.
 */
export async function oauthRequest(
  url: string,
  init: { method: 'GET' | 'POST' | 'DELETE'; form?: Record<string, string | undefined>; headers?: Record<string, string> },
  o: OAuthHttpOptions,
  timeout: () => Error,
): Promise<OAuthHttpAnswer> {
  const fetch = fetchFor(o);
  const ms = o.timeoutMs ?? DEFAULT_OAUTH_TIMEOUT_MS;
  const form = new URLSearchParams();
  for (const [k, v] of Object.entries(init.form ?? {})) if (v !== undefined) form.set(k, v);
  const headers: Record<string, string> = { accept: 'application/json', ...(init.headers ?? {}) };
  if (init.form) headers['content-type'] = 'application/x-www-form-urlencoded';
  return withDeadline(
    (async () => {
      const res = await fetch(url, { method: init.method, headers, body: init.form ? form.toString() : undefined, signal: AbortSignal.timeout(ms) });
      const text = await res.text();
      let body: Record<string, unknown> | null = null;
      try {
        const parsed: unknown = text.trim() ? JSON.parse(text) : null;
        body = parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : null;
      } catch {
        body = null;
      }
      return { status: res.status, body, headers: res.headers };
    })(),
    ms,
    timeout,
  );
}

/** The ISO expiry of a token issued now that lives `expiresIn` seconds; undefined when not a positive number. */
export function expiryFrom(expiresIn: unknown, now: number = Date.now()): string | undefined {
  const s = typeof expiresIn === 'number' ? expiresIn : typeof expiresIn === 'string' && /^\d+$/.test(expiresIn) ? Number(expiresIn) : NaN;
  return Number.isFinite(s) && s > 0 ? new Date(now + s * 1000).toISOString() : undefined;
}

/** RFC 7636 S256: BASE64URL(SHA256(ASCII(code_verifier))). */
export function s256Challenge(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

/** `origin + path` with the query parameters given (undefined ones left out). */
export function urlWithQuery(origin: string, path: string, query: Record<string, string | undefined>): string {
  const u = new URL(path, origin);
  for (const [k, v] of Object.entries(query)) if (v !== undefined) u.searchParams.set(k, v);
  return u.toString();
}

/** An OAuth host from configuration, checked like a base URL (an origin on the allow-list, or loopback when allowed). */
export function oauthOrigin(raw: string, hosts: HostAllowList, network?: NetworkPolicy): string {
  return checkOrigin(raw, hosts, network ?? {});
}

/**
 * The API host a token REFRESH names (Salesforce instance_url, Zoho api_domain), checked:
 * the CRM has already answered, and may have rotated the refresh token, so a host the
 * guard refuses costs the host, never the new tokens: the stored one is kept and a
 * warning logged. (A code exchange, which has nothing stored, refuses such a host.)
 */
export function refreshedHost(check: () => string, stored: string, logger: { warn(obj: object, msg?: string): void } | undefined, what: string): string {
  try {
    return check();
  } catch (e) {
    logger?.warn({ what, err: e instanceof Error ? e.message : String(e) }, `the ${what} a token refresh named is not one of the CRM's hosts; keeping the stored one`);
    return stored;
  }
}
