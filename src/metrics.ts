// Prometheus metrics (prom-client). One registry per Metrics instance, never the global
// default one: tests build several apps in one process, and each must count its own.
// The engine creates the instance (it counts webhooks, CRM calls and pushes) and the HTTP
// app serves it on /metrics, adding HTTP and GraphQL timings and the queue gauges, which
// are computed at scrape time.
import { getOperationAST, type DocumentNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { isCrmError } from '../adapters/contract.ts';
import type { PrismaClient } from './generated/prisma/client.ts';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export function createMetrics(opts: { processMetrics?: boolean } = {}) {
  const registry = new Registry();
  if (opts.processMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'crm_sync_' });
  const r = [registry];

  const m = {
    registry,
    webhookEventsReceived: new Counter({
      name: 'crm_sync_webhook_events_received_total',
      help: 'Webhook events received and stored (duplicates included), per provider.',
      labelNames: ['provider'] as const,
      registers: r,
    }),
    webhookEventsSkipped: new Counter({
      name: 'crm_sync_webhook_events_skipped_total',
      help: 'Webhook events that changed nothing, per provider and inbox outcome (skipped_own_origin, skipped_no_email, skipped_echo, ...).',
      labelNames: ['provider', 'reason'] as const,
      registers: r,
    }),
    webhookLeadsCreated: new Counter({
      name: 'crm_sync_webhook_leads_created_total',
      help: 'Leads created from webhook events, per provider.',
      labelNames: ['provider'] as const,
      registers: r,
    }),
    webhookEventsApplied: new Counter({
      name: 'crm_sync_webhook_events_applied_total',
      help: 'Webhook events that changed a lead, per provider and outcome (created, updated, linked, deleted, merged).',
      labelNames: ['provider', 'outcome'] as const,
      registers: r,
    }),
    webhookEventsFailed: new Counter({
      name: 'crm_sync_webhook_events_failed_total',
      help: 'Webhook events given up on (left failed), per provider.',
      labelNames: ['provider'] as const,
      registers: r,
    }),
    syncEvents: new Counter({
      name: 'crm_sync_sync_events_total',
      help: 'Sync history entries recorded, per provider, direction and status.',
      labelNames: ['provider', 'direction', 'status'] as const,
      registers: r,
    }),
    queueDepth: new Gauge({
      name: 'crm_sync_queue_depth',
      help: 'Inbox events / outbox items waiting or being processed (pending + processing).',
      labelNames: ['queue'] as const,
      registers: r,
    }),
    queueOldestAge: new Gauge({
      name: 'crm_sync_queue_oldest_pending_age_seconds',
      help: 'Age of the oldest waiting inbox event / outbox item (0 when empty).',
      labelNames: ['queue'] as const,
      registers: r,
    }),
    queueFailed: new Gauge({
      name: 'crm_sync_queue_failed',
      help: 'Inbox events / outbox items left failed (retryable with retryFailed).',
      labelNames: ['queue'] as const,
      registers: r,
    }),
    crmCalls: new Counter({
      name: 'crm_sync_crm_api_calls_total',
      help: 'Calls of CRM client operations, per provider and operation.',
      labelNames: ['provider', 'operation'] as const,
      registers: r,
    }),
    crmLatency: new Histogram({
      name: 'crm_sync_crm_api_call_duration_seconds',
      help: 'Duration of CRM client operations (a batched operation is one observation).',
      labelNames: ['provider', 'operation'] as const,
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: r,
    }),
    crmErrors: new Counter({
      name: 'crm_sync_crm_api_errors_total',
      help: 'Failed CRM client operations, per provider and error code (RATE_LIMITED, AUTH_EXPIRED, NETWORK, ...).',
      labelNames: ['provider', 'code'] as const,
      registers: r,
    }),
    crmRateLimited: new Counter({
      name: 'crm_sync_crm_api_rate_limited_total',
      help: 'CRM answers 429 (rate limited), per provider.',
      labelNames: ['provider'] as const,
      registers: r,
    }),
    graphqlDuration: new Histogram({
      name: 'crm_sync_graphql_operation_duration_seconds',
      help: 'Execution time of GraphQL operations (subscriptions: until their stream is set up).',
      labelNames: ['type', 'operation', 'status'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: r,
    }),
    httpRequests: new Counter({
      name: 'crm_sync_http_requests_total',
      help: 'HTTP requests answered, per method, route pattern and status.',
      labelNames: ['method', 'route', 'status'] as const,
      registers: r,
    }),
  };
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;

/** Operation names are the client's choice: keep label values short and tame. */
export function operationLabel(name: string | null | undefined): string {
  if (!name) return 'anonymous';
  return /^[_A-Za-z][_0-9A-Za-z]{0,63}$/.test(name) ? name : 'invalid';
}

export const OTHER_OPERATIONS = 'other';

/**
 * Labels operation names with a bounded set of values: the first `max` distinct names
 * this instance sees keep their own label, later ones are counted as `other` (so a
 * client inventing names cannot grow the number of series without bound).
 */
export function boundedOperationLabels(max: number): (name: string | null | undefined) => string {
  const known = new Set<string>();
  return (name) => {
    const label = operationLabel(name);
    if (label === 'anonymous' || label === 'invalid' || known.has(label)) return label;
    if (known.size >= max) return OTHER_OPERATIONS;
    known.add(label);
    return label;
  };
}

/**
 * Wraps a CRM client so every method call is counted and timed, and failures are
 * counted by their CrmError code (RATE_LIMITED also as a 429). Generic: any object
 * whose methods return promises.
 */
export function measured<T extends object>(client: T, provider: string, metrics: Metrics): T {
  return new Proxy(client, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function' || typeof prop !== 'string') return value;
      return function (this: unknown, ...args: unknown[]) {
        const labels = { provider, operation: prop };
        const started = performance.now();
        const done = () => {
          metrics.crmCalls.inc(labels);
          metrics.crmLatency.observe(labels, (performance.now() - started) / 1000);
        };
        const countError = (err: unknown) => {
          const code = isCrmError(err) ? err.code : 'UNEXPECTED';
          metrics.crmErrors.inc({ provider, code });
          if (code === 'RATE_LIMITED' || (isCrmError(err) && err.status === 429)) metrics.crmRateLimited.inc({ provider });
        };
        const failed = (err: unknown) => {
          done();
          countError(err);
        };
        // Batched writes answer per input (contract WriteResult): a call-level failure
        // (a 429, a 5xx) comes back as one error object shared by the inputs it failed.
        const partial = (v: unknown) => {
          if (!Array.isArray(v)) return;
          const errors = new Set<unknown>();
          for (const r of v as { ok?: unknown; error?: unknown }[]) if (r && r.ok === false && isCrmError(r.error)) errors.add(r.error);
          for (const e of errors) countError(e);
        };
        let result: unknown;
        try {
          result = (value as (...a: unknown[]) => unknown).apply(this === receiver ? target : this, args);
        } catch (err) {
          failed(err);
          throw err;
        }
        if (result && typeof (result as Promise<unknown>).then === 'function') {
          return (result as Promise<unknown>).then(
            (v) => {
              done();
              partial(v);
              return v;
            },
            (err: unknown) => {
              failed(err);
              throw err;
            },
          );
        }
        // Synchronous helpers (cursorAt, ...) are not CRM calls.
        return result;
      };
    },
  });
}

/** Sets the queue gauges: one cheap aggregate query per queue. */
export async function refreshQueueGauges(prisma: PrismaClient, metrics: Metrics): Promise<void> {
  type Row = { waiting: bigint; failed: bigint; oldest: number | null };
  const [inbox, outbox] = await Promise.all([
    prisma.$queryRaw<Row[]>`
      SELECT count(*) FILTER (WHERE status IN ('pending', 'processing')) AS waiting,
             count(*) FILTER (WHERE status = 'failed') AS failed,
             EXTRACT(EPOCH FROM ((now() AT TIME ZONE 'UTC') - min("receivedAt") FILTER (WHERE status IN ('pending', 'processing'))))::float8 AS oldest
      FROM "InboxEvent" WHERE status <> 'done'`,
    prisma.$queryRaw<Row[]>`
      SELECT count(*) FILTER (WHERE status IN ('pending', 'processing')) AS waiting,
             count(*) FILTER (WHERE status = 'failed') AS failed,
             EXTRACT(EPOCH FROM ((now() AT TIME ZONE 'UTC') - min("createdAt") FILTER (WHERE status IN ('pending', 'processing'))))::float8 AS oldest
      FROM "OutboxItem" WHERE status <> 'done'`,
  ]);
  for (const [queue, row] of [['inbox', inbox[0]], ['outbox', outbox[0]]] as const) {
    metrics.queueDepth.set({ queue }, Number(row?.waiting ?? 0));
    metrics.queueFailed.set({ queue }, Number(row?.failed ?? 0));
    metrics.queueOldestAge.set({ queue }, Math.max(0, Number(row?.oldest ?? 0)));
  }
}

/**
 * Envelop/yoga plugin: times every GraphQL operation (execution; for subscriptions, until
 * the stream is set up) by type, operation name (bounded: see boundedOperationLabels) and
 * status (ok / error).
 */
export function useGraphQLMetrics(metrics: Metrics, opts: { maxOperations?: number } = {}): Plugin {
  const label = boundedOperationLabels(opts.maxOperations ?? 100);
  const observe = (args: { document: DocumentNode; operationName?: string | null }, started: number, errors: boolean) => {
    const op = getOperationAST(args.document, args.operationName);
    metrics.graphqlDuration.observe(
      { type: op?.operation ?? 'unknown', operation: label(args.operationName ?? op?.name?.value), status: errors ? 'error' : 'ok' },
      (performance.now() - started) / 1000,
    );
  };
  const hasErrors = (result: unknown) => Boolean((result as { errors?: unknown[] } | null)?.errors?.length);
  return {
    onExecute({ args }) {
      const started = performance.now();
      return {
        onExecuteDone({ result }) {
          observe(args, started, Symbol.asyncIterator in Object(result) ? false : hasErrors(result));
        },
      };
    },
    onSubscribe({ args }) {
      const started = performance.now();
      return {
        onSubscribeResult({ result }) {
          observe(args, started, Symbol.asyncIterator in Object(result) ? false : hasErrors(result));
        },
        onSubscribeError() {
          observe(args, started, true);
        },
      };
    },
  };
}
