// /metrics against the real service and the HubSpot sandbox: the counters move when the
// flows run, the queue gauges follow the queues, each app counts for itself, and the
// log lines of a request carry its id.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.ts';
import { createSyncEngine } from '../../src/engine/index.ts';
import type { HubSpotSandbox } from '../../sandboxes/hubspot/server.ts';
import { memoryLogger } from '../helpers/engine.ts';
import { eventually } from '../helpers/net.ts';
import { connectHubSpot, startHubSpotFor, startStack, type Stack } from '../helpers/stack.ts';
import { parseMetrics, scrape, settle, value } from './helpers.ts';

const HS = { provider: 'HUBSPOT' };

describe('/metrics', () => {
  let stack: Stack;
  let hs: HubSpotSandbox;

  beforeAll(async () => {
    // Workers off: the queues only move when the test drains them, so depths are exact.
    stack = await startStack({ WORKERS: 'false', RETRY_BASE_MS: '50' });
    hs = await startHubSpotFor(stack);
    await connectHubSpot(stack, hs);
  });
  afterAll(async () => {
    await hs?.close();
    await stack?.stop();
  });

  it('counts a contact created in HubSpot: webhook received, lead created, queue depth up then down', async () => {
    const before = await scrape(stack.url);
    hs.createContactAsUser({ email: 'metrics@example.com', firstname: 'Metric' });
    await hs.flushWebhooks();

    const waiting = await scrape(stack.url);
    expect(value(waiting, 'crm_sync_webhook_events_received_total', HS)).toBeGreaterThan(value(before, 'crm_sync_webhook_events_received_total', HS));
    expect(value(waiting, 'crm_sync_queue_depth', { queue: 'inbox' })).toBeGreaterThanOrEqual(1);
    expect(value(waiting, 'crm_sync_queue_oldest_pending_age_seconds', { queue: 'inbox' })).toBeGreaterThanOrEqual(0);
    expect(value(waiting, 'crm_sync_webhook_leads_created_total', HS)).toBe(value(before, 'crm_sync_webhook_leads_created_total', HS));

    await settle(stack, hs);
    const after = await scrape(stack.url);
    expect(await stack.db.prisma.lead.count({ where: { email: 'metrics@example.com' } })).toBe(1);
    expect(value(after, 'crm_sync_webhook_leads_created_total', HS) - value(before, 'crm_sync_webhook_leads_created_total', HS)).toBe(1);
    expect(value(after, 'crm_sync_queue_depth', { queue: 'inbox' })).toBe(0);
    expect(value(after, 'crm_sync_queue_oldest_pending_age_seconds', { queue: 'inbox' })).toBe(0);
    // The contact was read back from HubSpot: one more measured readRecords call.
    const reads = { provider: 'HUBSPOT', operation: 'readRecords' };
    expect(value(after, 'crm_sync_crm_api_calls_total', reads)).toBeGreaterThan(value(before, 'crm_sync_crm_api_calls_total', reads));
    expect(value(after, 'crm_sync_crm_api_call_duration_seconds_count', reads)).toBe(value(after, 'crm_sync_crm_api_calls_total', reads));
    // The webhook deliveries are counted by route pattern, not by raw path.
    expect(value(after, 'crm_sync_http_requests_total', { method: 'POST', route: '/api/v1/webhooks/:provider', status: '200' })).toBeGreaterThan(0);
  });

  it('counts skipped events by reason: no email, and our own contacts coming back', async () => {
    const before = await scrape(stack.url);
    hs.createContactAsUser({ firstname: 'No email' });
    await settle(stack, hs);
    await stack.gqlOk(`mutation CreateLead($i: CreateLeadInput!) { createLead(input: $i) { id } }`, { i: { email: 'ours@example.com' } });
    await settle(stack, hs);
    const after = await scrape(stack.url);
    const delta = (name: string, labels: Record<string, string>) => value(after, name, labels) - value(before, name, labels);
    expect(delta('crm_sync_webhook_events_skipped_total', { provider: 'HUBSPOT', reason: 'skipped_no_email' })).toBeGreaterThanOrEqual(1);
    expect(delta('crm_sync_webhook_events_skipped_total', { provider: 'HUBSPOT', reason: 'skipped_own_origin' })).toBeGreaterThanOrEqual(1);
    expect(delta('crm_sync_webhook_leads_created_total', HS)).toBe(0);
    // The push, and the GraphQL mutation timed under its operation name.
    expect(delta('crm_sync_crm_api_calls_total', { provider: 'HUBSPOT', operation: 'pushLeads' })).toBeGreaterThanOrEqual(1);
    expect(delta('crm_sync_graphql_operation_duration_seconds_count', { type: 'mutation', operation: 'CreateLead', status: 'ok' })).toBe(1);
    expect(delta('crm_sync_sync_events_total', { provider: 'HUBSPOT', direction: 'outbound', status: 'succeeded' })).toBeGreaterThanOrEqual(1);
  });

  it('counts a 429 from HubSpot, and the outbox depth while a push waits', async () => {
    const before = await scrape(stack.url);
    hs.controls.injectFault({ kind: 'rate_limit', policy: 'TEN_SECONDLY_ROLLING', retryAfterSeconds: 1 }, 1, { method: 'POST', path: '/crm/v3/objects/contacts/batch' });
    await stack.gqlOk(`mutation($i: CreateLeadInput!) { createLead(input: $i) { id } }`, { i: { email: 'limited@example.com' } });
    const queued = await scrape(stack.url);
    expect(value(queued, 'crm_sync_queue_depth', { queue: 'outbox' })).toBeGreaterThanOrEqual(1);

    await eventually(async () => {
      await settle(stack, hs);
      return hs.listContacts().some((c) => c.properties.email === 'limited@example.com') || undefined;
    }, 20_000, 'push after the 429');
    const after = await scrape(stack.url);
    expect(value(after, 'crm_sync_crm_api_rate_limited_total', HS) - value(before, 'crm_sync_crm_api_rate_limited_total', HS)).toBe(1);
    expect(value(after, 'crm_sync_crm_api_errors_total', { provider: 'HUBSPOT', code: 'RATE_LIMITED' }) - value(before, 'crm_sync_crm_api_errors_total', { provider: 'HUBSPOT', code: 'RATE_LIMITED' })).toBe(1);
    expect(value(after, 'crm_sync_queue_depth', { queue: 'outbox' })).toBe(0);
  });

  it('keeps one registry per app: a second app in this process counts only its own', async () => {
    const mem = memoryLogger();
    const engine = createSyncEngine({ config: stack.config, prisma: stack.db.prisma, logger: mem.logger, pubsub: stack.pubsub });
    const other = buildApp({ config: stack.config, db: stack.db, logger: mem.logger, pubsub: stack.pubsub, service: engine });
    const res = await other.fetch(new Request('http://127.0.0.1/metrics'));
    expect(res.status).toBe(200);
    const samples = parseMetrics(await res.text());
    expect(value(samples, 'crm_sync_webhook_events_received_total')).toBe(0);
    expect(value(await scrape(stack.url), 'crm_sync_webhook_events_received_total')).toBeGreaterThan(0);
    await engine.stop();
  });

  it("puts the request id on every log line of the request, the engine's too, and not on background work", async () => {
    const requestId = 'ops-metrics-request-1';
    const res = await fetch(`${stack.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.apiKey}`, 'x-request-id': requestId },
      body: JSON.stringify({ query: `mutation($i: CreateLeadInput!) { createLead(input: $i) { id } }`, variables: { i: { email: 'traced@example.com' } } }),
    });
    expect(res.headers.get('x-request-id')).toBe(requestId);
    expect(res.status).toBe(200);
    await settle(stack, hs);
    const lines = stack.logs();
    // The engine's own line, written by createLead while serving the request.
    const engineLine = lines.find((l) => typeof l.leadId === 'string' && l.msg === `lead ${l.leadId} created on the platform` && l.instance !== undefined && l.requestId === requestId);
    expect(engineLine).toBeDefined();
    const leadDbId = engineLine!.leadId as string;
    expect(await stack.db.prisma.lead.findUnique({ where: { id: leadDbId } })).toMatchObject({ email: 'traced@example.com' });
    // One JSON key each (the mixin does not repeat what a request logger already carries).
    const completed = lines.filter((l) => l.msg === 'request completed' && l.requestId === requestId);
    expect(completed).toHaveLength(1);
    // The push ran later, in the worker pass: its lines carry no request id.
    const pushed = lines.find((l) => String(l.msg).includes(`record`) && String(l.msg).endsWith(`for lead ${leadDbId}`));
    expect(pushed).toBeDefined();
    expect(pushed!.requestId).toBeUndefined();
  });
});
