// The Zoho webhook codec against notifications the sandbox really POSTs to a local
// receiver: parse, verify (token + channel id), dedupe keys, malformed bodies.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CrmError, type WebhookRequest } from '../../../adapters/contract.ts';
import type { ZohoWebhookSecrets } from '../../../adapters/zoho/webhooks.ts';
import { zohoAdapter } from '../../../adapters/zoho/index.ts';
import { lead, provisionOptions, setup, TAG, type Setup } from './helpers.ts';

interface Received {
  req: WebhookRequest;
}

/** A minimal webhook endpoint standing in for the platform's public route. */
async function startReceiver(): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const headers: Record<string, string | undefined> = {};
      for (const [k, v] of Object.entries(req.headers)) headers[k] = Array.isArray(v) ? v.join(',') : v;
      received.push({
        req: { method: req.method ?? 'POST', url: `http://127.0.0.1${req.url}`, headers, rawBody: Buffer.concat(chunks), now: new Date() },
      });
      const ack = zohoAdapter.codec.acknowledge();
      res.writeHead(ack.status, { 'content-type': ack.contentType });
      res.end(ack.body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/api/v1/webhooks/zoho?integration=abc`,
    received,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

const codec = zohoAdapter.codec;
const TOKEN = 'channel-token-0123456789';
const CHANNEL = '1000000068001';
const secrets: ZohoWebhookSecrets = { channelToken: TOKEN, channelId: CHANNEL };

function errorOf(fn: () => unknown): CrmError {
  try {
    fn();
  } catch (e) {
    if (e instanceof CrmError) return e;
    throw e;
  }
  throw new Error('expected a CrmError');
}

describe('Zoho webhook codec', () => {
  let s: Setup;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  beforeEach(async () => {
    s = await setup();
    receiver = await startReceiver();
    await s.client.provision(provisionOptions({ webhookUrl: receiver.url, channel: { id: CHANNEL, token: TOKEN } }));
  });

  afterEach(async () => {
    await s.close();
    await receiver.close();
  });

  it('turns each delivered insert, update and delete into one event per record, verified', async () => {
    const [created] = await s.client.pushLeads([lead('a', { email: 'a@example.com' }), lead('b', { email: 'b@example.com' })], TAG);
    const a = created!.ok ? created!.externalId : '';
    s.sandbox.controls.updateLeadAsUser(a, { First_Name: 'Changed' });
    s.sandbox.controls.deleteLead(a);
    await s.sandbox.controls.flushNotifications();

    expect(receiver.received).toHaveLength(3);
    const parsed = receiver.received.map(({ req }) => {
      expect(() => codec.verify(req, secrets)).not.toThrow();
      return codec.parse(req);
    });
    expect(parsed[0]!.events.map((e) => e.kind)).toEqual(['created', 'created']);
    expect(parsed[0]!.events.map((e) => e.externalId)).toContain(a);
    expect(parsed[1]!.events.map((e) => [e.kind, e.externalId])).toEqual([['updated', a]]);
    expect(parsed[2]!.events.map((e) => [e.kind, e.externalId])).toEqual([['deleted', a]]);
    for (const p of parsed) {
      // Routed by the channel only: a Zoho callback names no account.
      expect(p.channelIds).toEqual([CHANNEL]);
      expect(p.accountIds).toEqual([]);
      for (const ev of p.events) {
        expect(ev.channelId).toBe(CHANNEL);
        expect(ev.accountId).toBeNull();
        expect(ev.occurredAt.getTime()).toBeGreaterThan(0);
      }
    }
    const keys = parsed.flatMap((p) => p.events.map((e) => e.dedupeKey));
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('gives a redelivered notification the same dedupe keys', async () => {
    s.sandbox.controls.duplicateNextNotifications(1);
    s.sandbox.controls.createLeadAsUser({ Email: 'dup@example.com', Last_Name: 'Dup' });
    await s.sandbox.controls.flushNotifications();
    expect(receiver.received).toHaveLength(2);
    const [first, second] = receiver.received.map(({ req }) => codec.parse(req).events.map((e) => e.dedupeKey));
    expect(second).toEqual(first);
  });

  it('keeps events of reordered deliveries apart (no key collides)', async () => {
    const id = s.sandbox.controls.createLeadAsUser({ Email: 'order@example.com', Last_Name: 'Order' });
    await s.sandbox.controls.flushNotifications();
    s.sandbox.controls.holdNotifications();
    s.sandbox.controls.updateLeadAsUser(id, { First_Name: 'One' });
    s.sandbox.controls.updateLeadAsUser(id, { First_Name: 'Two' });
    s.sandbox.controls.releaseNotifications({ reverse: true });
    await s.sandbox.controls.flushNotifications();
    const updates = receiver.received.slice(1).map(({ req }) => codec.parse(req).events[0]!);
    expect(updates.map((e) => e.kind)).toEqual(['updated', 'updated']);
    // Delivered newest first; their times still tell the order.
    expect(updates[0]!.occurredAt.getTime()).toBeGreaterThan(updates[1]!.occurredAt.getTime());
    expect(updates[0]!.dedupeKey).not.toBe(updates[1]!.dedupeKey);
  });

  it('rejects a notification with the wrong token, the wrong channel, or no configured secret', async () => {
    s.sandbox.controls.createLeadAsUser({ Email: 'v@example.com', Last_Name: 'V' });
    await s.sandbox.controls.flushNotifications();
    const { req } = receiver.received[0]!;
    expect(errorOf(() => codec.verify(req, { channelToken: 'channel-token-0123456788', channelId: CHANNEL })).code).toBe('SIGNATURE_INVALID');
    expect(errorOf(() => codec.verify(req, { channelToken: `${TOKEN}x`, channelId: CHANNEL })).code).toBe('SIGNATURE_INVALID');
    expect(errorOf(() => codec.verify(req, { channelToken: TOKEN, channelId: '1000000068002' })).code).toBe('SIGNATURE_INVALID');
    expect(errorOf(() => codec.verify(req, { channelToken: null, channelId: CHANNEL })).code).toBe('SIGNATURE_INVALID');
    const body = JSON.parse(req.rawBody.toString()) as Record<string, unknown>;
    const forged = { ...req, rawBody: Buffer.from(JSON.stringify({ ...body, token: null })) };
    expect(errorOf(() => codec.verify(forged, secrets)).code).toBe('SIGNATURE_INVALID');
  });

  it('stops delivering once the channel has expired', async () => {
    const [channel] = s.sandbox.controls.channels();
    s.sandbox.controls.setClock(new Date(channel!.expiresAt.getTime() + 1000));
    s.sandbox.controls.createLeadAsUser({ Email: 'late@example.com', Last_Name: 'Late' });
    await s.sandbox.controls.flushNotifications();
    expect(receiver.received).toHaveLength(0);
  });
});

describe('Zoho webhook codec: malformed bodies', () => {
  const base = {
    server_time: 1718117126473,
    query_params: {},
    module: 'Leads',
    resource_uri: 'https://www.zohoapis.com/crm/v2/Leads',
    ids: ['5725767000003000064'],
    affected_fields: [],
    operation: 'insert',
    channel_id: CHANNEL,
    token: TOKEN,
  };
  const req = (body: string): WebhookRequest => ({ method: 'POST', url: 'https://sync.example.com/api/v1/webhooks/zoho', headers: {}, rawBody: Buffer.from(body) });

  it('answers VALIDATION for non-JSON, non-object and incomplete bodies', () => {
    for (const body of ['{"server_time":', '[]', JSON.stringify({ ...base, ids: undefined }), JSON.stringify({ ...base, channel_id: '' }), JSON.stringify({ ...base, server_time: 'soon' }), JSON.stringify({ ...base, ids: [{}] })]) {
      expect(errorOf(() => codec.parse(req(body))).code).toBe('VALIDATION');
    }
  });

  it('reads a numeric channel_id larger than 2^53 digit for digit', () => {
    const raw = JSON.stringify({ ...base, channel_id: 0 }).replace('"channel_id":0', '"channel_id":9223372036854775807');
    const parsed = codec.parse(req(raw));
    expect(parsed.channelIds).toEqual(['9223372036854775807']);
    expect(() => codec.verify(req(raw), { channelToken: TOKEN, channelId: '9223372036854775807' })).not.toThrow();
  });

  it('ignores operations it does not know instead of failing the delivery', () => {
    const parsed = codec.parse(req(JSON.stringify({ ...base, operation: 'merge' })));
    expect(parsed.events).toEqual([]);
    expect(parsed.channelIds).toEqual([CHANNEL]);
  });
});
