// Prometheus metrics (prom-client). One registry per Metrics instance, never the global
// default one: tests build several apps in one process, and each must count its own.
// The engine creates the instance (it counts webhooks, CRM calls and pushes) and the HTTP
// app serves it on /metrics, adding HTTP and GraphQL timings and the queue gauges, which
// are computed at scrape time. What measures lives next to what it measures: CRM calls
// in engine/crm-call-metrics.ts, queues in engine/queue-metrics.ts, GraphQL operations in
// graphql/metrics-plugin.ts.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

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
    tokenRefreshes: new Counter({
      name: 'crm_sync_token_refreshes_total',
      help: 'OAuth token refreshes made by the service (one per integration at a time, across instances), per provider and outcome (renewed, revoked: the CRM refused the grant, failed).',
      labelNames: ['provider', 'outcome'] as const,
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
