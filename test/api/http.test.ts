// The HTTP shell: body limits, malformed JSON, unknown routes, request ids, webhook
// pass-through, and unexpected errors (masked for the client, logged for operators).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebhookRequest } from '../../src/engine/types.ts';
import { AppError } from '../../src/errors.ts';
import { CREATE_LEAD, gql, newTenant, onlyError, rest, startApi, type Tenant, type TestApi, PUBLIC_BASE_URL } from './harness.ts';

const MB = 1024 * 1024;

describe('HTTP layer', () => {
  let api: TestApi;
  let acme: Tenant;
  const webhooks: { provider: string; req: WebhookRequest }[] = [];
  let webhookAnswer: () => Promise<{ status: number; contentType: string; body: string }>;

  beforeAll(async () => {
    api = await startApi({
      // The real engine, with two functions replaced: one records webhooks, one fails the
      // way a bug or a lost database would.
      service: (engine) => ({
        ...engine,
        receiveWebhook: async (provider, req) => {
          webhooks.push({ provider, req });
          return webhookAnswer();
        },
        webhookStatus: async () => {
          throw new Error('database connection lost (password=hunter2)');
        },
      }),
    });
    acme = await newTenant(api, 'Acme');
  });
  afterAll(() => api.close());

  it('is healthy when the database answers', async () => {
    const res = await fetch(`${api.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('answers 400 to malformed JSON on GraphQL and REST', async () => {
    const g = await fetch(`${api.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${acme.key}` },
      body: '{"query": "{ integrations { id } }"',
    });
    expect(g.status).toBe(400);
    const r = await rest(api, acme.key, 'POST', '/api/v1/crm-integration/import', '{"integrationId": ');
    expect(r.status).toBe(400);
    expect(r.json).toEqual({ error: { code: 'BAD_REQUEST', message: expect.any(String) } });
  });

  it('answers 400 VALIDATION naming the field when the import body lacks integrationId', async () => {
    const r = await rest(api, acme.key, 'POST', '/api/v1/crm-integration/import', { integration: 'x' });
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('VALIDATION');
    expect(r.json.error.fields).toEqual([expect.objectContaining({ field: 'integrationId' })]);
  });

  it('answers 413 to bodies over 1 MB on every route, and writes nothing', async () => {
    const leadsBefore = await api.db.prisma.lead.count();
    const huge = 'x'.repeat(MB + 1);
    const g = await gql(api, acme.key, CREATE_LEAD, { input: { email: 'big@acme.io', firstName: huge } });
    expect(g.status).toBe(413);
    expect(onlyError(g).extensions?.code).toBe('PAYLOAD_TOO_LARGE');

    const r = await rest(api, acme.key, 'POST', '/api/v1/crm-integration/import', { integrationId: huge });
    expect(r.status).toBe(413);
    expect(r.json.error.code).toBe('PAYLOAD_TOO_LARGE');

    const w = await rest(api, null, 'POST', '/api/v1/webhooks/hubspot', huge);
    expect(w.status).toBe(413);

    // Without a Content-Length: the limit holds while the body streams in.
    const chunk = new TextEncoder().encode('y'.repeat(64 * 1024));
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 20; i++) controller.enqueue(chunk);
        controller.close();
      },
    });
    const s = await fetch(`${api.url}/api/v1/webhooks/hubspot`, { method: 'POST', body: stream, duplex: 'half' } as RequestInit);
    expect(s.status).toBe(413);
    expect((await s.json()).error.code).toBe('PAYLOAD_TOO_LARGE');

    expect(webhooks).toHaveLength(0);
    expect(await api.db.prisma.lead.count()).toBe(leadsBefore);
    expect(await api.db.prisma.importJob.count()).toBe(0);
  });

  it('answers unknown routes with a JSON 404', async () => {
    for (const [method, path] of [
      ['GET', '/'],
      ['GET', '/api/v1/nothing-here'],
      ['DELETE', '/healthz'],
    ]) {
      const r = await rest(api, null, method, path);
      expect(r.status).toBe(404);
      expect(r.json.error.code).toBe('NOT_FOUND');
    }
  });

  it('echoes a caller’s x-request-id, makes one up otherwise, and logs with it', async () => {
    const echoed = await fetch(`${api.url}/healthz`, { headers: { 'x-request-id': 'trace-abc-123' } });
    expect(echoed.headers.get('x-request-id')).toBe('trace-abc-123');
    const made = await gql(api, acme.key, '{ integrations { id } }');
    const id = made.headers.get('x-request-id');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const insane = await fetch(`${api.url}/healthz`, { headers: { 'x-request-id': 'a b\tc' } });
    expect(insane.headers.get('x-request-id')).not.toBe('a b\tc');
    const lines = api.logs().filter((l) => l.requestId === 'trace-abc-123');
    expect(lines).toContainEqual(expect.objectContaining({ msg: 'request completed', path: '/healthz', status: 200 }));
  });

  it('hands a webhook to the service as received: raw body, public URL, lower-cased headers', async () => {
    webhookAnswer = async () => ({ status: 202, contentType: 'application/xml', body: '<ack/>' });
    const body = '[{"eventId":1,"subscriptionType":"contact.creation"}]';
    const res = await fetch(`${api.url}/api/v1/webhooks/hubspot?portal=42&x=%20y`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-HubSpot-Signature-v3': 'sig==', 'X-HubSpot-Request-Timestamp': '1700000000000' },
      body,
    });
    expect(res.status).toBe(202);
    expect(res.headers.get('content-type')).toBe('application/xml');
    expect(await res.text()).toBe('<ack/>');
    const got = webhooks.at(-1)!;
    expect(got.provider).toBe('hubspot');
    expect(got.req.method).toBe('POST');
    expect(got.req.url).toBe(`${PUBLIC_BASE_URL}/api/v1/webhooks/hubspot?portal=42&x=%20y`);
    expect(got.req.rawBody.toString('utf8')).toBe(body);
    expect(got.req.headers['x-hubspot-signature-v3']).toBe('sig==');
    expect(got.req.headers['x-hubspot-request-timestamp']).toBe('1700000000000');
    expect(Object.keys(got.req.headers).every((h) => h === h.toLowerCase())).toBe(true);
  });

  it('hands a webhook sent without a Content-Length (chunked, under the limit) to the service whole', async () => {
    webhookAnswer = async () => ({ status: 200, contentType: 'application/json', body: '{}' });
    const parts = ['[{"eventId":7,', '"subscriptionType":"contact.creation",', `"pad":"${'z'.repeat(100_000)}"}]`];
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const p of parts) controller.enqueue(new TextEncoder().encode(p));
        controller.close();
      },
    });
    const res = await fetch(`${api.url}/api/v1/webhooks/hubspot`, { method: 'POST', body: stream, duplex: 'half' } as RequestInit);
    expect(res.status).toBe(200);
    expect(webhooks.at(-1)!.req.rawBody.toString('utf8')).toBe(parts.join(''));
  });

  it('answers a webhook the service rejects with its status and code, without an API key', async () => {
    webhookAnswer = async () => {
      throw new AppError('UNAUTHENTICATED', 'Invalid webhook signature');
    };
    const res = await rest(api, null, 'POST', '/api/v1/webhooks/hubspot?token=s3cr3t-query', '[]');
    expect(res.status).toBe(401);
    expect(res.json).toEqual({ error: { code: 'UNAUTHENTICATED', message: 'Invalid webhook signature' } });
    // Query strings can carry tokens: request logs keep the path only.
    expect(JSON.stringify(api.logs())).not.toContain('s3cr3t-query');
  });

  it('masks unexpected errors as INTERNAL on REST and GraphQL, and logs them with the request id', async () => {
    const r = await rest(api, acme.key, 'GET', '/api/v1/crm-integration/whatever/webhook-status', undefined, { 'x-request-id': 'rest-boom' });
    expect(r.status).toBe(500);
    expect(r.json).toEqual({ error: { code: 'INTERNAL', message: 'Unexpected error.' } });

    const g = await gql(api, acme.key, '{ webhookStatus(integrationId: "whatever") { enabled } }', undefined, { 'x-request-id': 'gql-boom' });
    const error = onlyError(g);
    expect(error.message).toBe('Unexpected error.');
    expect(error.extensions?.code).toBe('INTERNAL');
    expect(JSON.stringify(g.body)).not.toContain('hunter2');
    expect(r.text).not.toContain('hunter2');

    const errors = api.logs().filter((l) => l.level === 50);
    expect(errors).toContainEqual(expect.objectContaining({ requestId: 'rest-boom', err: expect.objectContaining({ message: expect.stringContaining('connection lost') }) }));
    expect(errors).toContainEqual(
      expect.objectContaining({ requestId: 'gql-boom', organizationId: acme.organizationId, path: 'webhookStatus', err: expect.objectContaining({ message: expect.stringContaining('connection lost') }) }),
    );
  });
});
