// The network guard: an adapter only ever talks to its CRM.
//
// Two checks, both needed:
//  1. the URL (before any request): https, a host on the adapter's allow-list, no
//     credentials in it, and for a base URL nothing but an origin;
//  2. the ADDRESS the host resolves to, at connect time (a custom `lookup` and a check
//     of IP-literal hosts in the connector), so a name that resolves — or later
//     re-resolves (DNS rebinding) — to a loopback, private, link-local or metadata
//     address is never connected to.
//
// NetworkPolicy.allowLocalHosts (off by default; sandboxes, tests, the demo) lifts the
// allow-list and the https requirement for hosts that resolve to LOOPBACK only; private,
// link-local and metadata addresses stay refused.
import dns from 'node:dns';
import type { LookupFunction } from 'node:net';
import { addressKind, isIpLiteral, type AddressKind } from './ip.ts';

export interface NetworkPolicy {
  /** Also allow http and any host name, provided it resolves to a loopback address. */
  allowLocalHosts?: boolean;
}

export type NetGuardReason =
  | 'URL_INVALID'
  | 'SCHEME_NOT_ALLOWED'
  | 'HOST_NOT_ALLOWED'
  | 'NOT_AN_ORIGIN'
  | 'ADDRESS_NOT_ALLOWED'
  | 'REDIRECT_NOT_ALLOWED';

/** Thrown (or handed to socket callbacks) when a destination is refused. */
export class NetGuardError extends Error {
  /** System-error style code, so it survives HTTP stacks that only keep `code`. */
  readonly code = NET_GUARD_CODE;
  constructor(
    readonly reason: NetGuardReason,
    message: string,
  ) {
    super(message);
    this.name = 'NetGuardError';
  }
}

export const NET_GUARD_CODE = 'ERR_DESTINATION_REFUSED';

/** True when `e` or anything in its cause chain is a refusal by this guard. */
export function isNetGuardRefusal(e: unknown, depth = 0): boolean {
  if (!e || typeof e !== 'object' || depth > 5) return false;
  const o = e as { code?: unknown; cause?: unknown };
  if (o.code === NET_GUARD_CODE) return true;
  return o.cause !== undefined && o.cause !== e && isNetGuardRefusal(o.cause, depth + 1);
}

/** The reason of a refusal found in `e`'s cause chain, for messages. */
export function refusalReason(e: unknown, depth = 0): NetGuardReason | null {
  if (!e || typeof e !== 'object' || depth > 5) return null;
  if (e instanceof NetGuardError) return e.reason;
  return refusalReason((e as { cause?: unknown }).cause, depth + 1);
}

/** Lower-case, without brackets or a trailing dot. */
export function normaliseHost(host: string): string {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  return h.replace(/\.+$/, '');
}

/**
 * Host patterns: `api.hubapi.com` (that host) or `*.salesforce.com` (any host below
 * salesforce.com, at any depth; not salesforce.com itself).
 */
export class HostAllowList {
  private readonly exact = new Set<string>();
  private readonly suffixes: string[] = [];

  constructor(readonly patterns: readonly string[]) {
    for (const p of patterns) {
      const n = normaliseHost(p);
      if (n.startsWith('*.')) this.suffixes.push(n.slice(1));
      else this.exact.add(n);
    }
  }

  allows(host: string): boolean {
    const h = normaliseHost(host);
    if (isIpLiteral(h)) return false;
    return this.exact.has(h) || this.suffixes.some((s) => h.endsWith(s) && h.length > s.length);
  }

  union(other: HostAllowList): HostAllowList {
    return new HostAllowList([...this.patterns, ...other.patterns]);
  }
}

function refuse(reason: NetGuardReason, message: string): never {
  throw new NetGuardError(reason, message);
}

/** Checks a URL a request is about to go to; returns it parsed. Throws NetGuardError. */
export function checkRequestUrl(raw: string, hosts: HostAllowList, policy: NetworkPolicy = {}): URL {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return refuse('URL_INVALID', 'is not a URL');
  }
  const local = policy.allowLocalHosts === true;
  if (u.protocol !== 'https:' && !(local && u.protocol === 'http:')) {
    refuse('SCHEME_NOT_ALLOWED', local ? 'must be an http or https URL' : 'must be an https URL');
  }
  if (u.username !== '' || u.password !== '') refuse('URL_INVALID', 'must not carry a user name or password');
  if (raw.includes('#')) refuse('URL_INVALID', 'must not carry a fragment (#)');
  const host = normaliseHost(u.hostname);
  if (hosts.allows(host)) {
    if (u.port !== '' && !local) refuse('HOST_NOT_ALLOWED', 'must use the default https port');
    return u;
  }
  if (!local) refuse('HOST_NOT_ALLOWED', `must be a host of this CRM (${hosts.patterns.join(', ')})`);
  // Local mode: any name (it must resolve to loopback at connect time); literals now.
  if (isIpLiteral(host) && addressKind(host) !== 'loopback') refuse('HOST_NOT_ALLOWED', 'may only name a loopback address');
  return u;
}

/**
 * Checks a base URL (an API origin, an accounts server) and returns it normalised:
 * `scheme://host[:port]`, lower-case host, no trailing slash. Paths, queries and
 * fragments are refused rather than dropped: a URL that says more than an origin was
 * not written for us.
 */
export function checkOrigin(raw: string, hosts: HostAllowList, policy: NetworkPolicy = {}): string {
  const u = checkRequestUrl(raw.trim(), hosts, policy);
  if (raw.includes('?')) refuse('NOT_AN_ORIGIN', 'must not carry a query');
  if (u.pathname !== '/' && u.pathname !== '') refuse('NOT_AN_ORIGIN', 'must be an origin (scheme and host only, no path)');
  return `${u.protocol}//${u.host.replace(/\.+(?=(:\d+)?$)/, '')}`;
}

/** Whether a connection to `address` (for a host that is or is not on the allow-list) may be made. */
export function addressDecision(address: string, hostListed: boolean, policy: NetworkPolicy = {}): { ok: boolean; kind: AddressKind } {
  const kind = addressKind(address);
  if (kind === 'loopback') return { ok: policy.allowLocalHosts === true, kind };
  // A public address only for listed hosts: in local mode an unlisted name must be loopback.
  if (kind === 'public') return { ok: hostListed, kind };
  return { ok: false, kind };
}

export function checkAddress(host: string, address: string, hosts: HostAllowList, policy: NetworkPolicy = {}): void {
  const d = addressDecision(address, hosts.allows(host), policy);
  if (!d.ok) refuse('ADDRESS_NOT_ALLOWED', `${normaliseHost(host)} resolves to a ${d.kind} address (${address}), which is never connected to`);
}

export interface ResolvedAddress {
  address: string;
  family: number;
}

/** Resolves a host name to every address (the system resolver unless given one). */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

export const systemResolver: Resolver = (hostname) => dns.promises.lookup(hostname, { all: true, verbatim: true });

/** Resolves `hostname` and returns its addresses when EVERY one of them may be connected to. */
export async function resolveChecked(hostname: string, hosts: HostAllowList, policy: NetworkPolicy = {}, resolve: Resolver = systemResolver): Promise<ResolvedAddress[]> {
  const host = normaliseHost(hostname);
  if (isIpLiteral(host)) {
    checkAddress(host, host, hosts, policy);
    return [{ address: host, family: host.includes(':') ? 6 : 4 }];
  }
  const list = await resolve(host);
  if (list.length === 0) refuse('ADDRESS_NOT_ALLOWED', `${host} resolves to no address`);
  // One refused address refuses the name: a mixed answer is how rebinding tricks start.
  for (const a of list) checkAddress(host, a.address, hosts, policy);
  return list;
}

/** A `lookup` for net/tls connections (http Agents, undici connectors) that applies the guard. */
export function guardedLookup(hosts: HostAllowList, policy: NetworkPolicy = {}, resolve: Resolver = systemResolver): LookupFunction {
  return ((hostname: string, options: dns.LookupOptions, callback: (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void) => {
    resolveChecked(hostname, hosts, policy, resolve).then(
      (list) => {
        const wanted = options?.family === 4 || options?.family === 6 ? list.filter((a) => a.family === options.family) : list;
        if (wanted.length === 0) {
          callback(new NetGuardError('ADDRESS_NOT_ALLOWED', `${hostname} has no address of the requested family`), '', 0);
          return;
        }
        if (options?.all) callback(null, wanted);
        else callback(null, wanted[0]!.address, wanted[0]!.family);
      },
      (err: unknown) => callback(err as NodeJS.ErrnoException, '', 0),
    );
  }) as LookupFunction;
}

/** Checks the host a socket is about to be opened to (IP literals skip `lookup`). */
export function checkConnectHost(host: string | undefined, hosts: HostAllowList, policy: NetworkPolicy = {}): void {
  const h = normaliseHost(host ?? '');
  if (h === '') refuse('HOST_NOT_ALLOWED', 'no host');
  if (isIpLiteral(h)) {
    checkAddress(h, h, hosts, policy);
    return;
  }
  if (!hosts.allows(h) && policy.allowLocalHosts !== true) refuse('HOST_NOT_ALLOWED', `${h} is not a host of this CRM`);
}
