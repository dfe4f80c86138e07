// Configuration: read from the environment once, validated, frozen. Nothing else in
// src/ reads process.env.
import path from 'node:path';
import { z } from 'zod';
import { adapterEnvShape, envFlag } from './adapters.ts';
import { KEY_ID_PATTERN, parseKeyMaterial, parsePreviousKeys } from './secrets.ts';

const bool = envFlag();

const schema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  HOST: z.string().default('0.0.0.0'),
  DATA_DIR: z.string().default('./.data'),
  /** The embedded database's shared_buffers (Postgres memory units). */
  PGLITE_SHARED_BUFFERS: z
    .string()
    .regex(/^[1-9][0-9]{0,5}(kB|MB|GB)$/, 'a Postgres memory size such as 16MB')
    .default('16MB'),
  /**
   * PGlite: statements outside transactions wait at most this long (ms) while a webhook's
   * insert is queued or running, so intake is acknowledged ahead of the workers; 0: no priority.
   */
  PGLITE_INTAKE_PRIORITY_MS: z.coerce.number().int().min(0).max(1_000).default(50),
  /**
   * While webhooks flood in (src/engine/intake-first.ts), the workers' next claim waits for
   * the flood to pause, at most this long (ms): intake keeps the CPU and the CRM gets its
   * acknowledgement; the stored events are processed right after. 0: never wait. Any database.
   */
  INTAKE_FIRST_MS: z.coerce.number().int().min(0).max(1_000).default(250),
  /**
   * How far the JavaScript heap may grow past what a full collection kept, in percent
   * (src/heap-growth.ts); 0 leaves V8's own rule, which lets it reach about four times that.
   */
  HEAP_GROWTH_PERCENT: z.coerce.number().int().min(0).max(300).default(20),
  DATABASE_URL: z.string().url().optional(),
  PUBLIC_BASE_URL: z.string().url().optional(),
  /**
   * Where the browser is sent (303) after an OAuth connection, with the result in the
   * query; the dashboard below PUBLIC_BASE_URL when absent.
   */
  OAUTH_RETURN_URL: z.string().url().optional(),
  /** How long a connection started by connectCrm may take to come back (its state expires). */
  OAUTH_STATE_TTL_MS: z.coerce.number().int().min(10_000).max(3_600_000).default(600_000),
  PLATFORM_SOURCE_TAG: z
    .string()
    .regex(/^[a-z0-9_\-]{1,40}$/, 'lower-case letters, digits, - and _ only (at most 40)')
    .default('jazzaam'),
  /** Each CRM adapter's own settings (its `env` schema): read here, once, with the rest. */
  ...adapterEnvShape(),
  /**
   * Sandboxes, tests and the demo only: CRM connections may also use http and hosts that
   * resolve to loopback. Private, link-local and metadata addresses stay refused.
   */
  CRM_ALLOW_LOCAL_HOSTS: bool.default(false),
  BOOTSTRAP_API_KEY: z.string().min(16, 'must be at least 16 characters').optional(),
  REDIS_URL: z.string().url().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  WORKERS: bool.default(true),
  POLL_INTERVAL_MS: z.coerce.number().int().min(0).default(300_000),
  /**
   * How far behind its cursor each poll reads again: records stamped before the cursor but
   * committed (or indexed) after the previous poll read that time are found. 0 disables.
   */
  POLL_OVERLAP_MS: z.coerce.number().int().min(0).max(86_400_000).default(120_000),
  INSTANCE_ID: z.string().optional(),
  /** How long a claimed inbox event or outbox item stays with an instance that stopped answering. */
  WORK_LEASE_MS: z.coerce.number().int().min(1_000).default(60_000),
  /** First retry delay of a failed CRM call; doubles per attempt (with jitter) up to 5 minutes. */
  RETRY_BASE_MS: z.coerce.number().int().min(10).default(1_000),
  /** Longest wait between two retries of one push or event (backoff ceiling). */
  RETRY_MAX_DELAY_MS: z.coerce.number().int().min(10).default(300_000),
  /**
   * How long transient failures (429, 5xx, network) of a push or event are retried before
   * it is left failed: 24 hours by default, as long as the CRMs retry their own webhooks.
   */
  RETRY_WINDOW_MS: z.coerce.number().int().min(1_000).default(86_400_000),
  /** Consecutive transient failures of calls to one CRM that open its circuit breaker. */
  BREAKER_THRESHOLD: z.coerce.number().int().min(1).default(5),
  /** How long an open breaker lets no call through before one probe (doubles while probes fail, up to 16x). */
  BREAKER_COOLDOWN_MS: z.coerce.number().int().min(10).default(30_000),
  /** Deadline of one CRM call; a call without an answer by then fails as NETWORK and is retried. */
  CRM_CALL_TIMEOUT_MS: z.coerce.number().int().min(100).default(30_000),
  /** How long the integrations a webhook routes to (and their decrypted secrets) are reused before being read again; 0: read per request. */
  WEBHOOK_ROUTE_CACHE_MS: z.coerce.number().int().min(0).max(60_000).default(1_000),
  /** Worker tasks in flight at once across every integration (each integration has at most one per queue). */
  WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(8),
  /**
   * How long a push of fewer than 100 leads may wait for more while leads keep arriving for
   * its CRM (its previous push started less than this ago): one call per full batch instead
   * of one per few leads. A lead after a quiet spell is pushed at once. 0: never wait.
   */
  OUTBOX_BATCH_WAIT_MS: z.coerce.number().int().min(0).max(10_000).default(1_000),
  /** Key encrypting CRM credentials at rest: 32 bytes, base64 or hex. */
  ENCRYPTION_KEY: z
    .string()
    .refine((v) => keyIsValid(v), 'must be 32 bytes written as base64 or 64 hex digits')
    .optional(),
  ENCRYPTION_KEY_ID: z.string().regex(KEY_ID_PATTERN, 'letters, digits, - and _ only (at most 40)').optional(),
  /** Keys still able to decrypt (comma list of id:key) while a rotation runs. */
  ENCRYPTION_PREVIOUS_KEYS: z
    .string()
    .superRefine((v, ctx) => {
      try {
        parsePreviousKeys(v);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: e instanceof Error ? e.message : 'invalid' });
      }
    })
    .optional(),
  /** Requests per minute per API key (token bucket, per instance); 0 disables. */
  API_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(0).default(600),
  /** Deepest selection a GraphQL operation may nest. */
  GRAPHQL_MAX_DEPTH: z.coerce.number().int().min(2).max(100).default(10),
  /** Largest estimated cost of a GraphQL operation (fields, multiplied by page sizes). */
  GRAPHQL_MAX_COST: z.coerce.number().int().min(10).default(5_000),
  /** Most aliased fields one GraphQL document may hold. */
  GRAPHQL_MAX_ALIASES: z.coerce.number().int().min(0).max(10_000).default(50),
  /** `production` turns introspection, suggestions and GraphiQL off unless set explicitly. */
  NODE_ENV: z.string().default('development'),
  /** Schema introspection (__schema, __type); default: on, off in production. */
  GRAPHQL_INTROSPECTION: bool.optional(),
  /** "Did you mean ...?" hints in GraphQL errors (they reveal the schema); default: on, off in production. */
  GRAPHQL_SUGGESTIONS: bool.optional(),
  /** GraphiQL on GET /graphql in a browser (served from local assets); default: on, off in production. */
  GRAPHQL_GRAPHIQL: bool.optional(),
  /** Distinct GraphQL operation names kept as metric labels; later names are counted as `other`. */
  GRAPHQL_METRICS_MAX_OPERATIONS: z.coerce.number().int().min(0).max(10_000).default(100),
  /** Bearer token /metrics requires (at least 16 characters). */
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  /** Serve /metrics on this port (on HOST) instead of the API port. */
  METRICS_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  /** Browser origins allowed to call the API (CORS) and open WebSockets, comma list; same-origin only when empty. */
  CORS_ORIGINS: z
    .string()
    .superRefine((v, ctx) => {
      for (const item of splitList(v)) {
        if (!isOrigin(item)) ctx.addIssue({ code: 'custom', message: `${item} is not an origin like https://app.example.com` });
      }
    })
    .optional(),
});

function splitList(v: string): string[] {
  return v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** scheme://host[:port] and nothing else (what browsers send in Origin). */
function isOrigin(v: string): boolean {
  try {
    const u = new URL(v);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.origin === v.replace(/\/$/, '');
  } catch {
    return false;
  }
}

function keyIsValid(v: string): boolean {
  try {
    parseKeyMaterial(v);
    return true;
  } catch {
    return false;
  }
}

type Parsed = z.infer<typeof schema>;

export type Config = Readonly<
  Omit<Parsed, 'PUBLIC_BASE_URL' | 'OAUTH_RETURN_URL' | 'GRAPHQL_INTROSPECTION' | 'GRAPHQL_SUGGESTIONS' | 'GRAPHQL_GRAPHIQL' | 'CORS_ORIGINS'> & {
    PUBLIC_BASE_URL: string;
    OAUTH_RETURN_URL: string;
    DATA_DIR: string;
    GRAPHQL_INTROSPECTION: boolean;
    GRAPHQL_SUGGESTIONS: boolean;
    GRAPHQL_GRAPHIQL: boolean;
    /** Allowed foreign origins, normalised (no trailing slash); empty: same-origin only. */
    CORS_ORIGINS: readonly string[];
  }
>;

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
}

/** Parses an environment (process.env by default). Throws ConfigError listing every problem. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(cleaned);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ConfigError(`Invalid configuration: ${problems}`);
  }
  const c = parsed.data;
  const development = c.NODE_ENV !== 'production';
  const publicBase = (c.PUBLIC_BASE_URL ?? `http://localhost:${c.PORT}`).replace(/\/+$/, '');
  return Object.freeze({
    ...c,
    GRAPHQL_INTROSPECTION: c.GRAPHQL_INTROSPECTION ?? development,
    GRAPHQL_SUGGESTIONS: c.GRAPHQL_SUGGESTIONS ?? development,
    GRAPHQL_GRAPHIQL: c.GRAPHQL_GRAPHIQL ?? development,
    CORS_ORIGINS: Object.freeze(splitList(c.CORS_ORIGINS ?? '').map((o) => new URL(o).origin)),
    DATA_DIR: path.resolve(c.DATA_DIR),
    PUBLIC_BASE_URL: publicBase,
    OAUTH_RETURN_URL: c.OAUTH_RETURN_URL ?? `${publicBase}/dashboard`,
  });
}
