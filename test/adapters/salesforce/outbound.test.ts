// Outbound Messages from the sandbox org to a local HTTP receiver that handles them with
// the adapter's codec (parse, verify, acknowledge) the way the webhook route does.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isCrmError, type ChangeEvent, type CrmRecord } from '../../../adapters/contract.ts';
import { salesforceAdapter } from '../../../adapters/salesforce/index.ts';
import { outboundMessageRecords } from '../../../adapters/salesforce/webhooks.ts';
import { startSalesforceSandbox, type SalesforceSandbox } from '../../../sandboxes/salesforce/index.ts';
import { connect, lead, ok, TAG } from './helpers.ts';

type Answer = 'ack' | 'fail' | 'nack';

/** The secret last segment of the endpoint URL the receiver accepts. */
const SECRET = 'test-endpoint-secret-0123456789abcdef';

interface Receiver {
  url: string;
  events: ChangeEvent[];
  /** The Lead as the message carried it, for the notification of an event (what Salesforce sent). */
  recordOf(ev: ChangeEvent | undefined): CrmRecord | null | undefined;
  bodies: string[];
  /** How to answer the n-th request (0-based); acknowledges by default. */
  answer: (n: number) => Answer;
  rejected: string[];
  close(): Promise<void>;
}

async function startReceiver(accountId: () => string): Promise<Receiver> {
  const carried = new Map<string, CrmRecord | null>();
  const r: Receiver = {
    url: '',
    events: [],
    recordOf: (ev) => (ev ? carried.get(ev.dedupeKey) : undefined),
    bodies: [],
    answer: () => 'ack',
    rejected: [],
    close: async () => {},
  };
  let n = 0;
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const rawBody = Buffer.concat(chunks);
    const endpointSecret = decodeURIComponent((req.url ?? '').split('/').pop() ?? '');
    const wreq = { method: req.method ?? 'POST', url: `${r.url}${req.url}`, headers: req.headers as Record<string, string>, rawBody, endpointSecret };
    const answer = r.answer(n++);
    r.bodies.push(rawBody.toString('utf8'));
    try {
      const codec = salesforceAdapter.codec;
      codec.verify(wreq, { accountId: accountId(), endpointSecrets: [SECRET] });
      const parsed = codec.parse(wreq);
      if (answer === 'fail') {
        res.writeHead(503).end('busy');
        return;
      }
      r.events.push(...parsed.events);
      for (const m of outboundMessageRecords(rawBody)) carried.set(m.notificationId, m.record);
      if (answer === 'nack') {
        res.writeHead(200, { 'content-type': 'text/xml' }).end('<ok/>');
        return;
      }
      const ack = codec.acknowledge();
      res.writeHead(ack.status, { 'content-type': ack.contentType }).end(ack.body);
    } catch (e) {
      r.rejected.push(isCrmError(e) ? e.code : String(e));
      res.writeHead(400).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  r.close = () => new Promise((resolve) => server.close(() => resolve()));
  return r;
}

let sb: SalesforceSandbox;
let rx: Receiver;

beforeEach(async () => {
  sb = await startSalesforceSandbox();
  rx = await startReceiver(() => sb.controls.organizationId);
  sb.controls.outbound.configure({ targetUrl: `${rx.url}/api/v1/webhooks/salesforce/${SECRET}`, retryIntervalsMs: [10, 20, 40] });
});

afterEach(async () => {
  await sb.close();
  await rx.close();
});

describe('Salesforce outbound messages', () => {
  it('notifies creations made through the API (our echo, tagged) and by a person (untagged)', async () => {
    const [pushed] = await connect(sb).pushLeads([lead('echo-1', { email: 'echo@example.com', lastName: 'Echo', company: 'Acme' })], TAG);
    const ours = ok(pushed).externalId;
    const theirs = sb.controls.createLeadAsUser({ LastName: 'Person', Company: 'Acme', Email: 'person@example.com' });
    await sb.controls.flushNotifications();

    expect(rx.rejected).toEqual([]);
    const byId = new Map(rx.events.map((e) => [e.externalId, e]));
    expect(byId.get(ours)).toMatchObject({ kind: 'created', accountId: sb.controls.organizationId });
    expect(rx.recordOf(byId.get(ours))?.originTag).toBe(TAG);
    expect(rx.recordOf(byId.get(ours))?.fields).toMatchObject({ email: 'echo@example.com', lastName: 'Echo', company: 'Acme' });
    expect(byId.get(theirs)?.kind).toBe('created');
    expect(rx.recordOf(byId.get(theirs))?.originTag).toBeNull();
  });

  it('notifies updates, with the latest values', async () => {
    const id = sb.controls.createLeadAsUser({ LastName: 'Before', Company: 'Acme' });
    await sb.controls.flushNotifications();
    sb.controls.setClock(new Date(Date.now() + 5_000));
    sb.controls.updateLeadAsUser(id, { LastName: 'After' });
    await sb.controls.flushNotifications();
    const last = rx.events.at(-1)!;
    expect(last).toMatchObject({ externalId: id, kind: 'updated' });
    expect(rx.recordOf(last)?.fields.lastName).toBe('After');
  });

  it('sends several changes in one SOAP message when they are queued together', async () => {
    sb.controls.outbound.configure({ auto: false });
    const ids = [0, 1, 2].map((i) => sb.controls.createLeadAsUser({ LastName: `B${i}`, Company: 'Acme' }));
    expect(rx.bodies).toHaveLength(0);
    const deliveries = await sb.controls.flushNotifications();
    expect(deliveries).toHaveLength(1);
    expect(deliveries[0].notificationIds).toHaveLength(3);
    expect(rx.events.map((e) => e.externalId)).toEqual(ids);
    expect(new Set(rx.events.map((e) => e.dedupeKey)).size).toBe(3);
  });

  it('retries a message until it is acknowledged, with the same notification ids', async () => {
    rx.answer = (n) => (n < 2 ? 'fail' : 'ack');
    const id = sb.controls.createLeadAsUser({ LastName: 'Retry', Company: 'Acme' });
    const deliveries = await sb.controls.flushNotifications();
    expect(deliveries.map((d) => d.acked)).toEqual([false, false, true]);
    expect(new Set(deliveries.map((d) => d.notificationIds.join()))).toHaveProperty('size', 1);
    expect(rx.events.map((e) => e.externalId)).toEqual([id]);
    expect(sb.controls.outbound.pending()).toBe(0);
  });

  it('treats a 200 without <Ack>true</Ack> as not delivered and sends again', async () => {
    rx.answer = (n) => (n === 0 ? 'nack' : 'ack');
    sb.controls.createLeadAsUser({ LastName: 'Nack', Company: 'Acme' });
    const deliveries = await sb.controls.flushNotifications();
    expect(deliveries.map((d) => [d.status, d.acked])).toEqual([
      [200, false],
      [200, true],
    ]);
    // The receiver saw the change twice: the notification id is what makes it one change.
    expect(rx.events).toHaveLength(2);
    expect(rx.events[0].dedupeKey).toBe(rx.events[1].dedupeKey);
  });

  it('can deliver a message twice; both copies carry the same dedupe keys', async () => {
    sb.controls.outbound.duplicateNext(1);
    sb.controls.createLeadAsUser({ LastName: 'Twice', Company: 'Acme' });
    const deliveries = await sb.controls.flushNotifications();
    expect(deliveries.map((d) => d.duplicate)).toEqual([false, true]);
    expect(rx.events).toHaveLength(2);
    expect(rx.events[0].dedupeKey).toBe(rx.events[1].dedupeKey);
  });

  it('can deliver out of order; each notification carries the data as of sending', async () => {
    sb.controls.outbound.configure({ auto: false, maxPerMessage: 1 });
    const id = sb.controls.createLeadAsUser({ LastName: 'V1', Company: 'Acme' });
    sb.controls.updateLeadAsUser(id, { LastName: 'V2' });
    sb.controls.outbound.reorderNext();
    const deliveries = await sb.controls.flushNotifications();
    expect(deliveries).toHaveLength(2);
    const [first, second] = rx.events;
    expect(first.dedupeKey > second.dedupeKey).toBe(true); // the later notification came first
    expect(rx.recordOf(first)?.fields.lastName).toBe('V2');
    expect(rx.recordOf(second)?.fields.lastName).toBe('V2');
  });

  it('only fires on the configured trigger fields and carries only the configured fields', async () => {
    sb.controls.outbound.configure({ triggerFields: ['Status'], fields: ['Email', 'LastModifiedDate'] });
    const id = sb.controls.createLeadAsUser({ LastName: 'Trig', Company: 'Acme', Email: 'trig@example.com' });
    await sb.controls.flushNotifications();
    sb.controls.updateLeadAsUser(id, { FirstName: 'Ignored' });
    sb.controls.updateLeadAsUser(id, { Status: 'Working - Contacted' });
    await sb.controls.flushNotifications();
    expect(rx.events).toHaveLength(2);
    // Without LastName/Company the message is partial: no record, the engine reads the Lead.
    expect(rx.events.every((e) => rx.recordOf(e) === null)).toBe(true);
    expect(rx.bodies[1]).not.toContain('<sf:FirstName>');
  });

  it('a message from another org is refused by the receiver and retried until Salesforce gives up', async () => {
    const other = await startSalesforceSandbox({ organizationId: '00D5g000009Forg' });
    try {
      // Even at the right endpoint URL (secret included), another org's message is refused.
      other.controls.outbound.configure({ targetUrl: `${rx.url}/api/v1/webhooks/salesforce/${SECRET}`, retryIntervalsMs: [5], maxAttempts: 3 });
      other.controls.createLeadAsUser({ LastName: 'Intruder', Company: 'Evil' });
      await expect(other.controls.flushNotifications({ timeoutMs: 2_000 })).resolves.toBeDefined();
      expect(rx.rejected).toEqual(['SIGNATURE_INVALID', 'SIGNATURE_INVALID', 'SIGNATURE_INVALID']);
      expect(other.controls.outbound.deliveries.every((d) => !d.acked)).toBe(true);
      expect(rx.events).toEqual([]);
    } finally {
      await other.close();
    }
  });
});
