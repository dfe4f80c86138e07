// Configuration: read from the environment once, validated, frozen. Nothing else in
// src/ reads process.env.
import path from 'node:path';
import { z } from 'zod';
import { KEY_ID_PATTERN, parseKeyMaterial, parsePreviousKeys } from './secrets.ts';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const schema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  HOST: z.string().default('0.0.0.0'),
  DATA_DIR: z.string().default('./.data'),
  DATABASE_URL: z.string().url().optional(),
  PUBLIC_BASE_URL: z.string().url().optional(),
  PLATFORM_SOURCE_TAG: z
    .string()
    .regex(/^[a-z0-9_\-]{1,40}$/, 'lower-case letters, digits, - and _ only (at most 40)')
    .default('jazzaam'),
  HUBSPOT_CLIENT_SECRET: z.string().min(1).optional(),
  HUBSPOT_ALLOW_LEGACY_SIGNATURES: bool.default(false),
  HUBSPOT_API_BASE_URL: z.string().url().default('https://api.hubapi.com'),
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
  /** Worker tasks in flight at once across every integration (each integration has at most one per queue). */
  WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(8),
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
});

function keyIsValid(v: string): boolean {
  try {
    parseKeyMaterial(v);
    return true;
  } catch {
    return false;
  }
}

export type Config = Readonly<
  Omit<z.infer<typeof schema>, 'PUBLIC_BASE_URL'> & { PUBLIC_BASE_URL: string; DATA_DIR: string }
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
  return Object.freeze({
    ...c,
    DATA_DIR: path.resolve(c.DATA_DIR),
    PUBLIC_BASE_URL: (c.PUBLIC_BASE_URL ?? `http://localhost:${c.PORT}`).replace(/\/+$/, ''),
  });
}
