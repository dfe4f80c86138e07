// One hung CRM does not stall the others: a call to tenant A's HubSpot that never
// answers holds A's work only; tenant B's webhooks and pushes go through meanwhile.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HubSpotSandbox } from '../../sandboxes/hubspot/server.ts';
import { eventually } from '../helpers/net.ts';
import { connectHubSpot, startHubSpotFor, startStack, type Stack } from '../helpers/stack.ts';

describe('isolation between integrations', () => {
  let stack: Stack;
  let hsA: HubSpotSandbox;
  let hsB: HubSpotSandbox;
  let orgB: { orgId: string; apiKey: string };
  let releaseA: () => void = () => {};

  beforeAll(async () => {
    stack = await startStack({ RETRY_BASE_MS: '50' });
    hsA = await startHubSpotFor(stack, { portalId: 3003 });
    hsB = await startHubSpotFor(stack, { portalId: 4004 });
    orgB = await stack.newOrg('Initech');
    await connectHubSpot(stack, hsA);
    await connectHubSpot(stack, hsB, { key: orgB.apiKey });
  });
  afterAll(async () => {
    releaseA();
    await hsA?.close();
    await hsB?.close();
    await stack?.stop();
  });

  it("processes B's webhooks and pushes while a call to A's CRM hangs", async () => {
    // A's record reads hang until released (the sandbox holds the request unanswered).
    let aHanging = false;
    let aAnswered = false;
    const gate = new Promise<void>((resolve) => (releaseA = resolve));
    hsA.controls.beforeRequest({ method: 'POST', path: '/crm/v3/objects/contacts/batch/read' }, async () => {
      aHanging = true;
      await gate;
      aAnswered = true;
    });
    hsA.createContactAsUser({ email: 'a@example.com', firstname: 'A' });
    await hsA.flushWebhooks();
    await eventually(() => aHanging, 30_000, "A's read to start hanging");

    // Meanwhile tenant B: a contact created in B's HubSpot and a lead created on the platform.
    hsB.createContactAsUser({ email: 'b@example.com', firstname: 'B' });
    await hsB.flushWebhooks();
    const lead = await eventually(() => stack.db.prisma.lead.findFirst({ where: { organizationId: orgB.orgId, email: 'b@example.com' } }).then((l) => l ?? undefined), 60_000, "B's lead");
    expect(lead.firstName).toBe('B');
    await stack.engine.createLead(orgB.orgId, { email: 'b-push@example.com' });
    await eventually(() => hsB.listContacts().some((c) => c.properties.email === 'b-push@example.com'), 60_000, "B's push");
    // All of it happened while A's call was still unanswered, and A's event was not given up.
    expect(aAnswered).toBe(false);
    expect(await stack.db.prisma.lead.findFirst({ where: { email: 'a@example.com', organizationId: stack.orgId } })).toBeNull();
    const aEvents = await stack.db.prisma.inboxEvent.findMany({ where: { integration: { accountId: '3003' } } });
    expect(aEvents.some((e) => e.status === 'failed')).toBe(false);

    // Once A answers (or its call times out and is retried), A's lead arrives too.
    releaseA();
    await eventually(() => stack.db.prisma.lead.findFirst({ where: { email: 'a@example.com', organizationId: stack.orgId } }).then((l) => l ?? undefined), 60_000, "A's lead");
  });

  it('abandons a call after CRM_CALL_TIMEOUT_MS and retries it', async () => {
    const timed = await startStack({ RETRY_BASE_MS: '50', CRM_CALL_TIMEOUT_MS: '3000' });
    const hs = await startHubSpotFor(timed, { portalId: 5005 });
    try {
      await connectHubSpot(timed, hs);
      let release: () => void = () => {};
      const gate = new Promise<void>((resolve) => (release = resolve));
      hs.controls.beforeRequest({ method: 'POST', path: '/crm/v3/objects/contacts/batch/read' }, () => gate);
      hs.createContactAsUser({ email: 'slow@example.com', firstname: 'Slow' });
      await hs.flushWebhooks();
      // The hung read is given up on (NETWORK) and the next read answers: the lead arrives
      // while the first read is still unanswered.
      await eventually(() => timed.db.prisma.lead.findFirst({ where: { email: 'slow@example.com' } }).then((l) => l ?? undefined), 60_000, 'the lead');
      const reads = hs.controls.requests.filter((c) => c.path === '/crm/v3/objects/contacts/batch/read');
      release();
      expect(reads.length).toBeGreaterThanOrEqual(1);
      // The deadline that ended it was the configured one, not the adapter's old 30 s.
      const timeouts = timed.logs().filter((l) => (l.err as { code?: string } | undefined)?.code === 'NETWORK');
      expect(timeouts.some((l) => String((l.err as { message?: string }).message).includes('3000 ms'))).toBe(true);
    } finally {
      await hs.close();
      await timed.stop();
    }
  });
});
