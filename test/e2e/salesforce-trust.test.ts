// Forged and stale Salesforce outbound messages against the real service: a message is
// taken only at the integration's secret endpoint URL and from its organization, and even
// then no field value it carries is applied — the Lead is read back through the API.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildEnvelope, isAck, type SalesforceSandbox } from '../../sandboxes/salesforce/index.ts';
import { connectSalesforce, startSalesforceFor, startStack, salesforceMoves, settle as settleAll, type Connected, type Stack } from '../helpers/stack.ts';

const SOAP = { 'content-type': 'text/xml; charset=utf-8', soapaction: '""' };

describe('Salesforce outbound messages are never trusted', () => {
  let stack: Stack;
  let sf: SalesforceSandbox;
  let conn: Connected;
  const settle = () => settleAll(stack, salesforceMoves(sf));
  const path = (url: string) => new URL(url).pathname;
  const post = (p: string, body: string) => fetch(`${stack.url}${p}`, { method: 'POST', headers: SOAP, body });
  const lead = (email: string) => stack.db.prisma.lead.findFirst({ where: { organizationId: stack.orgId, email } });

  /** An outbound message as anyone can write it: the tenant's org id, any Lead id, any values. */
  function forged(leadId: string, values: Record<string, string>) {
    return buildEnvelope(
      { organizationId: sf.controls.organizationId, actionId: '04k5g000000Forg', instanceUrl: sf.url, apiVersion: '62.0', sessionId: null },
      [{ notificationId: `04l5g${randomBytes(5).toString('hex').toUpperCase()}AAA`, lead: { values: { Id: leadId, ...values } } as never }],
      ['Email', 'FirstName', 'LastName', 'Company', 'Lead_Source_System__c', 'CreatedDate', 'LastModifiedDate'],
    );
  }

  beforeAll(async () => {
    stack = await startStack({ RETRY_BASE_MS: '50' });
    sf = await startSalesforceFor(stack);
    conn = await connectSalesforce(stack, sf);
  });
  afterAll(async () => {
    await sf?.close();
    await stack?.stop();
  });

  it('refuses a message naming the tenant organization at the bare endpoint or with a guessed secret: SOAP fault (HTTP 500), nothing stored, no lead changed', async () => {
    const id = sf.controls.createLeadAsUser({ Email: 'victim@example.com', FirstName: 'Vic', LastName: 'Tim', Company: 'Acme' });
    await settle();
    expect((await lead('victim@example.com'))?.firstName).toBe('Vic');
    const inbox = await stack.db.prisma.inboxEvent.count();
    const attacks = [
      forged(id, { Email: 'victim@example.com', FirstName: 'Mallory', LastName: 'Tim', Company: 'Evil', LastModifiedDate: new Date().toISOString() }),
      forged('00Q5g00000NEWxyzAA', { Email: 'planted@example.com', FirstName: 'Planted', LastName: 'Lead', Company: 'Evil', CreatedDate: new Date().toISOString(), LastModifiedDate: new Date().toISOString() }),
    ];
    // The real endpoint with its secret's last character changed (to one it is not).
    const real = path(conn.enabled.webhookUrl);
    const nearMiss = `${real.slice(0, -1)}${real.endsWith('A') ? 'B' : 'A'}`;
    for (const body of attacks) {
      for (const p of ['/api/v1/webhooks/salesforce', `/api/v1/webhooks/salesforce/${randomBytes(32).toString('base64url')}`, nearMiss]) {
        const res = await post(p, body);
        const text = await res.text();
        // SOAP 1.1 HTTP binding: a fault goes with 500; it is no Ack, so Salesforce would retry.
        expect(res.status).toBe(500);
        expect(isAck(res.status, text)).toBe(false);
        expect(text).toContain('<faultcode>soapenv:Client</faultcode><faultstring>UNAUTHENTICATED: ');
      }
    }
    await stack.engine.drain();
    expect(await stack.db.prisma.inboxEvent.count()).toBe(inbox);
    expect((await lead('victim@example.com'))?.firstName).toBe('Vic');
    expect(await lead('planted@example.com')).toBeNull();
    // The secret never reaches a log line.
    const secret = path(conn.enabled.webhookUrl).split('/').pop()!;
    expect(JSON.stringify(stack.logs())).not.toContain(secret);
  });

  it('applies what the Salesforce API returns, never the values a message carries, even at the right endpoint', async () => {
    const id = sf.controls.createLeadAsUser({ Email: 'real@example.com', FirstName: 'Real', LastName: 'Person', Company: 'Acme' });
    await settle();
    const now = new Date().toISOString();
    const tampered = forged(id, { Email: 'real@example.com', FirstName: 'Mallory', LastName: 'Person', Company: 'Evil', LastModifiedDate: now });
    const planted = forged('00Q5g00000PLANTAAA', { Email: 'planted2@example.com', FirstName: 'Planted', LastName: 'Lead', Company: 'Evil', CreatedDate: now, LastModifiedDate: now });
    for (const body of [tampered, planted]) {
      const res = await post(path(conn.enabled.webhookUrl), body);
      expect(isAck(res.status, await res.text())).toBe(true);
    }
    await settle();
    expect(await lead('real@example.com')).toMatchObject({ firstName: 'Real', company: 'Acme' });
    // A Lead the API does not return is skipped, not created from the message.
    expect(await lead('planted2@example.com')).toBeNull();
    const missing = await stack.db.prisma.inboxEvent.findFirstOrThrow({ where: { integrationId: conn.integrationId, externalId: '00Q5g00000PLANTAAA' } });
    expect(missing.outcome).toBe('skipped_missing');
    expect(sf.controls.getLead(id)!.values.FirstName).toBe('Real');
  });

  it('does not roll a lead back when a message built before a newer change is delivered after it', async () => {
    const id = sf.controls.createLeadAsUser({ Email: 'order@example.com', FirstName: 'First', LastName: 'Version', Company: 'Old Co' });
    await settle();
    const older = sf.controls.outbound.envelopeFor([id]).body; // carries First / Old Co
    sf.controls.setClock(new Date(Date.now() + 2_000));
    sf.controls.updateLeadAsUser(id, { FirstName: 'Second', Company: 'New Co' });
    sf.controls.setClock(null);
    await settle();
    expect(await lead('order@example.com')).toMatchObject({ firstName: 'Second', company: 'New Co' });
    const res = await post(path(conn.enabled.webhookUrl), older);
    expect(isAck(res.status, await res.text())).toBe(true);
    await settle();
    expect(await lead('order@example.com')).toMatchObject({ firstName: 'Second', company: 'New Co' });
  });

  it('keeps the endpoint secret encrypted at rest and out of the settings', async () => {
    const row = await stack.db.prisma.integration.findUniqueOrThrow({ where: { id: conn.integrationId } });
    const secret = path(conn.enabled.webhookUrl).split('/').pop()!;
    expect(row.webhookSecrets).toMatch(/^enc:v1:/);
    expect(JSON.stringify(row)).not.toContain(secret);
  });

  it('rotateWebhookEndpoint answers a new URL; the previous one is taken for 24 hours, or not at all with revokePrevious', async () => {
    const rotate = (revokePrevious: boolean) =>
      stack.gqlOk<{ rotateWebhookEndpoint: { webhookUrl: string; previousValidUntil: string | null } }>(
        `mutation($id: ID!, $r: Boolean) { rotateWebhookEndpoint(integrationId: $id, revokePrevious: $r) { webhookUrl previousValidUntil } }`,
        { id: conn.integrationId, r: revokePrevious },
      );
    const first = path(conn.enabled.webhookUrl);
    const { rotateWebhookEndpoint: second } = await rotate(false);
    expect(second.webhookUrl).toMatch(/\/api\/v1\/webhooks\/salesforce\/[A-Za-z0-9_-]{43}$/);
    expect(path(second.webhookUrl)).not.toBe(first);
    const until = new Date(second.previousValidUntil!).getTime() - Date.now();
    expect(until).toBeGreaterThan(23 * 3_600_000);
    expect(until).toBeLessThanOrEqual(24 * 3_600_000);

    const id = sf.controls.createLeadAsUser({ Email: 'rotated@example.com', LastName: 'Rotated', Company: 'Acme' });
    const message = () => sf.controls.outbound.envelopeFor([id]).body;
    for (const p of [first, path(second.webhookUrl)]) {
      const res = await post(p, message());
      expect(isAck(res.status, await res.text())).toBe(true);
    }
    const { rotateWebhookEndpoint: third } = await rotate(true);
    expect(third.previousValidUntil).toBeNull();
    const before = await stack.db.prisma.inboxEvent.count();
    for (const p of [first, path(second.webhookUrl)]) expect((await post(p, message())).status).toBe(500);
    expect(await stack.db.prisma.inboxEvent.count()).toBe(before);
    const ok = await post(path(third.webhookUrl), message());
    expect(isAck(ok.status, await ok.text())).toBe(true);
    // The org's real messages follow once the administrator pastes the new URL.
    sf.controls.outbound.configure({ targetUrl: third.webhookUrl });
    await settle();
    expect(await lead('rotated@example.com')).not.toBeNull();
  });
});
