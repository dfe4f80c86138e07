// HTTP plumbing that applies the network guard (net-guard.ts) at connect time:
//  - guardedAgent: a node http/https Agent for SDKs that take one (the HubSpot SDK);
//  - guardedFetch: fetch on an undici dispatcher, for our own clients (Zoho) and the
//    transport we give jsforce (Salesforce). Redirects are never followed to another
//    origin; a same-origin redirect answer is handed back as it is.
import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import { Agent, buildConnector, fetch as undiciFetch } from 'undici';
import {
  checkConnectHost,
  checkRequestUrl,
  guardedLookup,
  NetGuardError,
  systemResolver,
  type HostAllowList,
  type NetworkPolicy,
  type Resolver,
} from './net-guard.ts';

export interface GuardOptions {
  hosts: HostAllowList;
  policy?: NetworkPolicy;
  /** Name resolution (the system resolver by default; tests give their own). */
  resolve?: Resolver;
}

type CreateConnection = (options: Record<string, unknown>, cb: (err: Error | null, socket?: Duplex) => void) => Duplex | undefined;

/** An http(s) Agent whose sockets only reach addresses the guard allows. */
export function guardedAgent(protocol: 'http:' | 'https:', g: GuardOptions & { keepAlive?: boolean }): http.Agent {
  const policy = g.policy ?? {};
  const lookup = guardedLookup(g.hosts, policy, g.resolve ?? systemResolver);
  const keepAlive = g.keepAlive ?? true;
  const agent = protocol === 'https:' ? new https.Agent({ keepAlive, lookup }) : new http.Agent({ keepAlive, lookup });
  const target = agent as unknown as { createConnection: CreateConnection };
  const original = target.createConnection.bind(agent);
  target.createConnection = (options, cb) => {
    try {
      checkConnectHost(String(options.host ?? options.hostname ?? ''), g.hosts, policy);
    } catch (e) {
      process.nextTick(() => cb(e as Error));
      return undefined;
    }
    return original(options, cb);
  };
  return agent;
}

/** An undici dispatcher whose connections only reach addresses the guard allows. */
export function guardedDispatcher(g: GuardOptions): Agent {
  const policy = g.policy ?? {};
  const base = buildConnector({ lookup: guardedLookup(g.hosts, policy, g.resolve ?? systemResolver) });
  const connect: buildConnector.connector = (options, callback) => {
    try {
      checkConnectHost(options.hostname, g.hosts, policy);
    } catch (e) {
      callback(e as Error, null);
      return;
    }
    base(options, callback);
  };
  return new Agent({ connect });
}

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * fetch through the guard: the URL is checked before each request, the address at
 * connect time, and a redirect to another origin is refused (NetGuardError). `inner`
 * replaces the network (tests); the URL and redirect checks still apply to it.
 */
export function guardedFetch(g: GuardOptions & { inner?: FetchLike }): FetchLike {
  const policy = g.policy ?? {};
  let dispatcher: Agent | undefined;
  const send: FetchLike =
    g.inner ??
    ((input, init) => {
      dispatcher ??= guardedDispatcher(g);
      return undiciFetch(input, { ...(init as object), dispatcher } as Parameters<typeof undiciFetch>[1]) as unknown as Promise<Response>;
    });
  return async (input, init) => {
    const url = checkRequestUrl(input, g.hosts, policy);
    const res = await send(input, { ...init, redirect: 'manual' });
    if (REDIRECTS.has(res.status)) {
      const location = res.headers.get('location');
      let next: URL | null = null;
      try {
        next = location ? new URL(location, url) : null;
      } catch {
        next = null;
      }
      if (!next || next.origin !== url.origin) {
        await res.body?.cancel().catch(() => undefined);
        throw new NetGuardError('REDIRECT_NOT_ALLOWED', `answered a redirect to another host (status ${res.status})`);
      }
    }
    return res;
  };
}
