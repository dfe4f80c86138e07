// A push or an event is never given up for transient reasons within the retry window
// (24 hours by default: HubSpot re-sends a failed webhook up to 10 times with
// exponential backoff over about a day, and Salesforce keeps an undelivered Outbound
// Message queued "until sent successfully, or until they're 24 hours old"); failures
// are charged to the lead whose call failed only; a CRM that is down is not hammered
// (circuit breaker) and what waits is visible in webhookStatus.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HubSpotSandbox } from '../../sandboxes/hubspot/server.ts';
import { eventually } from '../helpers/net.ts';
import { connectHubSpot, startHubSpotFor, startStack, type Stack } from '../helpers/stack.ts';

const STATUS_FIELDS = `pending pendingPushes failedPushes nextAttemptAt breaker { state failures until lastErrorCode }`;

describe('transient CRM failures', () => {
  let stack: Stack;
  let hs: HubSpotSandbox;
  let integrationId: string;

  beforeAll(async () => {
    stack = await startStack({ RETRY_BASE_MS: '20', RETRY_MAX_DELAY_MS: '400', BREAKER_THRESHOLD: '3', BREAKER_COOLDOWN_MS: '300' });
    hs = await startHubSpotFor(stack);
    integrationId = await connectHubSpot(stack, hs);
  });
  afterAll(async () => {
    await hs?.close();
    await stack?.stop();
  });

  const lead = (email: string) => stack.db.prisma.lead.findFirstOrThrow({ where: { email } });
  const outboxOf = async (email: string) => stack.db.prisma.outboxItem.findMany({ where: { leadId: (await lead(email)).id } });
  const contacts = (email: string) => hs.listContacts().filter((c) => c.properties.email === email);
  const status = async () =>
    (await stack.gqlOk(`query($id: ID!) { webhookStatus(integrationId: $id) { ${STATUS_FIELDS} } }`, { id: integrationId })).webhookStatus;

  it('keeps a push through 503, 503, 429, 502, 429, 503, 503, 502 and delivers it once the CRM answers', async () => {
    const batch = { method: 'POST', path: '/crm/v3/objects/contacts/batch' };
    for (const f of [
      { kind: 'server_error', status: 503 },
      { kind: 'server_error', status: 503 },
      { kind: 'rate_limit', retryAfterSeconds: 1 },
      { kind: 'server_error', status: 502 },
      { kind: 'rate_limit', retryAfterSeconds: 1 },
      { kind: 'server_error', status: 503 },
      { kind: 'server_error', status: 503 },
      { kind: 'server_error', status: 502 },
    ] as const) {
      hs.controls.injectFault(f, 1, batch);
    }
    await stack.engine.createLead(stack.orgId, { email: 'unlucky@example.com' });
    const [item] = await eventually(async () => {
      const items = await outboxOf('unlucky@example.com');
      return items[0] && items[0].status !== 'pending' && items[0].status !== 'processing' ? items : undefined;
    }, 90_000, 'the push to finish');
    expect(item.status).toBe('done');
    expect(contacts('unlucky@example.com')).toHaveLength(1);
    // Eight failed attempts and the one that went through, each counted once.
    expect(item.attempts).toBe(9);
    const failed = await stack.db.prisma.syncEvent.count({ where: { outboxItemId: item.id, status: 'failed' } });
    expect(failed).toBe(0);
  });

  it("charges a failed batch update to the lead it belonged to, not to another lead's create halted by it", async () => {
    // A linked lead Y and a new lead X queued together (as one transaction would).
    await stack.engine.createLead(stack.orgId, { email: 'y@example.com' });
    await eventually(async () => (await outboxOf('y@example.com')).every((i) => i.status === 'done'), 30_000, 'Y linked');
    hs.controls.injectFault({ kind: 'server_error', status: 502 }, 1, { method: 'POST', path: '/crm/v3/objects/contacts/batch/update' });
    const { prisma } = stack.db;
    const y = await lead('y@example.com');
    await prisma.$transaction(async (tx) => {
      const updated = await tx.lead.update({ where: { id: y.id }, data: { firstName: 'Changed', syncVersion: { increment: 1 } } });
      const x = await tx.lead.create({ data: { organizationId: stack.orgId, email: 'x@example.com', sourceSystem: 'jazzaam' } });
      await tx.outboxItem.createMany({
        data: [
          { organizationId: stack.orgId, integrationId, leadId: updated.id, leadVersion: updated.syncVersion },
          { organizationId: stack.orgId, integrationId, leadId: x.id, leadVersion: x.syncVersion },
        ],
      });
    });
    await eventually(async () => {
      const all = [...(await outboxOf('x@example.com')), ...(await outboxOf('y@example.com'))];
      return all.every((i) => i.status === 'done');
    }, 60_000, 'both pushes');
    const [x] = await outboxOf('x@example.com');
    const yItems = (await outboxOf('y@example.com')).sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
    expect(contacts('x@example.com')).toHaveLength(1);
    expect(hs.getContact(contacts('y@example.com')[0].id)!.properties.firstname).toBe('Changed');
    // Y's update failed once, then went through: two attempts. X was never tried in the
    // failed push (the CRM call that failed was Y's): one attempt, the one that worked.
    expect(yItems[yItems.length - 1].attempts).toBe(2);
    expect(x.attempts).toBe(1);
  });

  it('reads records back through more transient failures than before and applies the webhook', async () => {
    // Nothing else is reading: the webhooks of the earlier pushes are all processed.
    await hs.flushWebhooks();
    await stack.engine.drain();
    hs.controls.injectFault({ kind: 'server_error', status: 503 }, 12, { method: 'POST', path: '/crm/v3/objects/contacts/batch/read' });
    hs.createContactAsUser({ email: 'inbound@example.com', firstname: 'In' });
    await hs.flushWebhooks();
    const outcome = await eventually(async () => {
      if (await stack.db.prisma.lead.findFirst({ where: { email: 'inbound@example.com' } })) return 'applied';
      if (await stack.db.prisma.inboxEvent.count({ where: { integrationId, status: 'failed' } })) return 'failed';
      return undefined;
    }, 90_000, 'the event to be applied');
    expect(outcome).toBe('applied');
    expect((await lead('inbound@example.com')).firstName).toBe('In');
  });

  it("fails a permanent refusal at once, with the administrator's steps, and leaves the breaker closed", async () => {
    hs.controls.injectFault('forbidden', 1, { method: 'POST', path: '/crm/v3/objects/contacts/batch' });
    await stack.engine.createLead(stack.orgId, { email: 'refused@example.com' });
    const [item] = await eventually(async () => {
      const items = await outboxOf('refused@example.com');
      return items[0]?.status === 'failed' ? items : undefined;
    }, 30_000, 'the refused push');
    expect(item).toMatchObject({ errorCode: 'PERMISSION', attempts: 1 });
    expect(item.lastError).toContain('crm.objects.contacts.write');
    const s = await status();
    expect(s.failedPushes).toBe(1);
    expect(s.breaker.state).toBe('CLOSED');
    await stack.engine.retryFailedPushes(stack.orgId, integrationId);
    await eventually(() => contacts('refused@example.com').length === 1, 30_000, 'the push after the fix');
  });

  it('opens the breaker of a CRM that is down, calls nothing until the cool-down ends, probes once and resumes', async () => {
    const down = { path: '/crm/v3/objects/contacts' };
    hs.controls.injectFault({ kind: 'server_error', status: 503 }, 10_000, down);
    for (let i = 0; i < 3; i++) await stack.engine.createLead(stack.orgId, { email: `down${i}@example.com` });
    const open = await eventually(async () => {
      const s = await status();
      return s.breaker.state === 'OPEN' ? s : undefined;
    }, 60_000, 'the breaker to open');
    expect(open.breaker.failures).toBeGreaterThanOrEqual(3);
    expect(open.breaker.lastErrorCode).toBe('UPSTREAM');
    expect(open.pendingPushes).toBeGreaterThanOrEqual(3);
    expect(open.nextAttemptAt).not.toBeNull();
    const openedAt = Date.now();
    const until = new Date(open.breaker.until).getTime();
    // Still down after a few probes: every call made after it opened was at or after the
    // end of a cool-down, never in between.
    await eventually(async () => (await status()).breaker.failures >= 5, 60_000, 'more probes');
    const after = hs.controls.requests.filter((c) => c.path.startsWith('/crm/v3/objects/contacts') && c.at > openedAt);
    expect(after.every((c) => c.at >= until - 5)).toBe(true);
    hs.controls.clearFaults();
    await eventually(async () => (await status()).breaker.state === 'CLOSED', 60_000, 'the breaker to close');
    for (let i = 0; i < 3; i++) {
      await eventually(async () => (await outboxOf(`down${i}@example.com`)).every((x) => x.status === 'done'), 60_000, `down${i}`);
      expect(contacts(`down${i}@example.com`)).toHaveLength(1);
    }
    const closed = await status();
    expect(closed).toMatchObject({ pendingPushes: 0, failedPushes: 0, breaker: { state: 'CLOSED', failures: 0, until: null } });
  });
});
