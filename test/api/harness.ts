// A real crm-sync HTTP server for API tests: fresh PGlite database, the real sync engine
// with the real adapters (workers off), real HTTP on a loopback port, real WebSockets.
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { buildApp, type App } from '../../src/app.ts';
import { createApiKey, createOrganization, type Scope } from '../../src/auth.ts';
import type { Config } from '../../src/config.ts';
import { createSyncEngine, type SyncEngine } from '../../src/engine/index.ts';
import type { SyncService } from '../../src/engine/types.ts';
import { createAppPubSub, type PubSub } from '../../src/pubsub.ts';
import { keyringFromConfig } from '../../src/secrets.ts';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';
import { memoryLogger, testConfig } from '../helpers/engine.ts';

/** What the tests' CRMs would call: loopback, and nothing listens there. */
export const PUBLIC_BASE_URL = 'http://127.0.0.1:9';

export interface TestApi {
  url: string;
  db: TestDatabase;
  config: Config;
  engine: SyncEngine;
  pubsub: PubSub;
  app: App;
  logs: () => Record<string, unknown>[];
  close(): Promise<void>;
}

export interface TestApiOptions {
  env?: Record<string, string>;
  /** Wraps the engine, e.g. to make one service function fail unexpectedly. */
  service?: (engine: SyncEngine) => SyncService;
  /** How often open streams are checked against revoked keys in the database. */
  revocationSweepMs?: number;
}

export async function startApi(opts: TestApiOptions = {}): Promise<TestApi> {
  const db = await freshDatabase();
  const config = testConfig({ HOST: '127.0.0.1', PUBLIC_BASE_URL: PUBLIC_BASE_URL, ...opts.env });
  const mem = memoryLogger('debug');
  const pubsub = createAppPubSub();
  const engine = createSyncEngine({ config, prisma: db.prisma, logger: mem.logger, pubsub, keyring: keyringFromConfig(config, mem.logger) });
  const app = buildApp({
    config,
    db,
    logger: mem.logger,
    pubsub,
    service: opts.service ? opts.service(engine) : engine,
    revocationSweepMs: opts.revocationSweepMs,
  });
  const { url } = await app.start(0);
  return {
    url,
    db,
    config,
    engine,
    pubsub,
    app,
    logs: mem.lines,
    async close() {
      await app.stop();
      await engine.stop();
      await pubsub.close();
      await db.destroy();
    },
  };
}

export interface Tenant {
  organizationId: string;
  key: string;
  apiKeyId: string;
}

export async function newTenant(api: TestApi, name: string, scopes?: Scope[]): Promise<Tenant> {
  const org = await createOrganization(api.db.prisma, name);
  const key = await createApiKey(api.db.prisma, org.id, `${name} key`, scopes);
  return { organizationId: org.id, key: key.key, apiKeyId: key.id };
}

export interface GqlResponse<T = Record<string, any>> {
  status: number;
  headers: Headers;
  body: { data?: T | null; errors?: { message: string; path?: string[]; extensions?: Record<string, any> }[] };
}

export async function gql<T = Record<string, any>>(
  api: TestApi,
  key: string | null,
  query: string,
  variables?: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<GqlResponse<T>> {
  const res = await fetch(`${api.url}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      ...(key ? { authorization: `Bearer ${key}` } : {}),
      ...headers,
    },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as GqlResponse<T>['body'] };
}

/** The single error of a response, asserting there is exactly one. */
export function onlyError(res: GqlResponse): { message: string; extensions?: Record<string, any> } {
  if (res.body.errors?.length !== 1) throw new Error(`expected one error, got ${JSON.stringify(res.body)}`);
  return res.body.errors[0];
}

export async function rest(
  api: TestApi,
  key: string | null,
  method: string,
  path: string,
  body?: string | Record<string, unknown>,
  headers: Record<string, string> = {},
) {
  const res = await fetch(`${api.url}${path}`, {
    method,
    headers: {
      ...(key ? { authorization: `Bearer ${key}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/**
 * A graphql-ws client over a real WebSocket, sending the key as connection params. It
 * connects for its first operation and closes when none is left, unless `keepOpen`.
 */
export function wsClient(
  api: TestApi,
  key: string | null,
  onClosed?: (event: { code: number; reason: string }) => void,
  keepOpen = false,
): Client {
  return createClient({
    url: `${api.url.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: key ? { Authorization: `Bearer ${key}` } : {},
    retryAttempts: 0,
    lazy: !keepOpen,
    onNonLazyError: () => {},
    on: onClosed ? { closed: (e) => onClosed(e as { code: number; reason: string }) } : undefined,
  });
}

/** Reads Server-Sent Events from a streaming fetch response, one `data:` payload at a time. */
export async function* sseEvents(res: Response): AsyncGenerator<any> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = block
          .split('\n')
          .filter((line) => line.startsWith('data:'))
          .map((line) => line.slice(5).trimStart())
          .join('\n');
        if (data) yield JSON.parse(data);
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}

export const CREATE_LEAD = /* GraphQL */ `
  mutation ($input: CreateLeadInput!) {
    createLead(input: $input) { id email firstName lastName company createdAt crmMetadata { sourceSystem syncVersion } }
  }
`;

/**
 * A subscription gives no sign of being live. Produces (one HTTP call per round) until
 * the first event has arrived, and returns it with everything produced.
 */
export async function firstEventWhileProducing<E, P>(
  first: Promise<E>,
  produce: (round: number) => Promise<P>,
  maxRounds = 300,
): Promise<{ event: E; produced: P[] }> {
  let arrived = false;
  let event: E | undefined;
  const done = first.then((e) => {
    event = e;
    arrived = true;
  });
  done.catch(() => {});
  const produced: P[] = [];
  for (let round = 0; !arrived && round < maxRounds; round++) {
    produced.push(await produce(round));
    await new Promise((resolve) => setImmediate(resolve));
  }
  await done;
  return { event: event as E, produced };
}
