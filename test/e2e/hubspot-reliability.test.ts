// The correctness rules of the reference design, against the real service and the
// HubSpot sandbox: idempotent intake, signatures, bad input, CRM failures, import,
// the emergency brake and tenant isolation.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HubSpotSandbox } from '../../sandboxes/hubspot/server.ts';
import { eventually } from '../helpers/net.ts';
import { connectHubSpot, HUBSPOT_SECRET, startHubSpotFor, startStack, type Stack, hubspotMoves, settle as settleAll } from '../helpers/stack.ts';

const settle = (stack: Stack, hs: HubSpotSandbox) => settleAll(stack, hubspotMoves(hs));

const countLeads = (stack: Stack, email?: string) => stack.db.prisma.lead.count({ where: { organizationId: stack.orgId, ...(email ? { email } : {}) } });

describe('HubSpot webhook intake', () => {
  let stack: Stack;
  let hs: HubSpotSandbox;
  let integrationId: string;
  const webhookUrl = () => `${stack.url}/api/v1/webhooks/hubspot`;

  beforeAll(async () => {
    stack = await startStack({ RETRY_BASE_MS: '50' });
    hs = await startHubSpotFor(stack);
    integrationId = await connectHubSpot(stack, hs);
  });
  afterAll(async () => {
    await hs?.close();
    await stack?.stop();
  });

  it('turns 10 redeliveries and concurrent copies of one creation into exactly one lead', async () => {
    hs.setWebhookBehavior({ duplicates: 9, concurrentCopies: 3 });
    hs.createContactAsUser({ email: 'once@example.com', firstname: 'Once' });
    await settle(stack, hs);
    hs.setWebhookBehavior({});
    const sent = hs.deliveries.filter((d) => d.events.some((e) => e.subscriptionType === 'contact.creation'));
    expect(sent.length).toBeGreaterThanOrEqual(10);
    expect(sent.every((d) => d.status === 200)).toBe(true);
    expect(await countLeads(stack, 'once@example.com')).toBe(1);
    // The duplicates were stored once: one inbox row per distinct event.
    const rows = await stack.db.prisma.inboxEvent.findMany({ where: { integrationId, kind: 'created' } });
    expect(new Set(rows.map((r) => r.dedupeKey)).size).toBe(rows.length);
  });

  it('makes one lead of out-of-order, delayed, re-sent batches racing each other', async () => {
    hs.setWebhookBehavior({ reorder: true, concurrentCopies: 4, delayMs: 30 });
    for (let i = 0; i < 5; i++) hs.createContactAsUser({ email: `race${i}@example.com`, firstname: `R${i}` });
    await settle(stack, hs);
    hs.setWebhookBehavior({});
    for (let i = 0; i < 5; i++) expect(await countLeads(stack, `race${i}@example.com`)).toBe(1);
  });

  it('rejects missing, forged and stale signatures with 401 and stores nothing', async () => {
    const event = hs.makeEvent('contact.creation', '999999');
    const good = hs.signedWebhook([event], { url: webhookUrl() });
    const before = await stack.db.prisma.inboxEvent.count();
    const send = (headers: Record<string, string>, body = good.body) =>
      fetch(webhookUrl(), { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    const strip = (h: Record<string, string>, ...names: string[]) =>
      Object.fromEntries(Object.entries(h).filter(([k]) => !names.includes(k.toLowerCase())));

    expect((await send(strip(good.headers, 'x-hubspot-signature-v3', 'x-hubspot-signature', 'x-hubspot-signature-version'))).status).toBe(401);
    const forged = hs.signedWebhook([event], { url: webhookUrl(), clientSecret: 'not-the-secret' });
    expect((await send(forged.headers)).status).toBe(401);
    const stale = hs.signedWebhook([event], { url: webhookUrl(), timestampMs: Date.now() - 6 * 60_000 });
    expect((await send(stale.headers)).status).toBe(401);
    // A valid signature over a different body.
    expect((await send(good.headers, good.body.replace('999999', '999998'))).status).toBe(401);
    // v1 alone is refused unless legacy signatures are allowed.
    expect((await send(strip(good.headers, 'x-hubspot-signature-v3'))).status).toBe(401);
    expect(await stack.db.prisma.inboxEvent.count()).toBe(before);
    // And the genuine one is accepted.
    expect((await send(good.headers)).status).toBe(200);
    expect(await stack.db.prisma.inboxEvent.count()).toBe(before + 1);
  });

  it('opens no notification channel for HubSpot, whose webhooks are routed by the portal they name', async () => {
    const row = await stack.db.prisma.integration.findUniqueOrThrow({ where: { id: integrationId } });
    expect(row.webhooksEnabled).toBe(true);
    expect(row.channelId).toBeNull();
    expect(row.webhookSecrets).toBeNull();
  });

  it('answers malformed JSON with 400 and bodies over 1 MB with 413, storing nothing', async () => {
    const before = await stack.db.prisma.inboxEvent.count();
    const bad = await fetch(webhookUrl(), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[{"eventId": 1,' });
    expect(bad.status).toBe(400);
    const notEvents = await fetch(webhookUrl(), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"hello":"world"}' });
    expect(notEvents.status).toBe(400);
    const huge = await fetch(webhookUrl(), { method: 'POST', headers: { 'content-type': 'application/json' }, body: `[${'"x",'.repeat(300_000)}"x"]` });
    expect(huge.status).toBe(413);
    expect(await stack.db.prisma.inboxEvent.count()).toBe(before);
  });

  it('disableWebhooks stops creating leads at once, still answering HubSpot 2xx, and counts what it ignored', async () => {
    const status = await stack.gqlOk(`mutation($id: ID!) { disableWebhooks(integrationId: $id) { enabled } }`, { id: integrationId });
    expect(status.disableWebhooks.enabled).toBe(false);
    const received = (await stack.db.prisma.integration.findUniqueOrThrow({ where: { id: integrationId } })).totalReceived;
    hs.createContactAsUser({ email: 'braked@example.com' });
    await settle(stack, hs);
    expect(await countLeads(stack, 'braked@example.com')).toBe(0);
    const last = hs.deliveries[hs.deliveries.length - 1];
    expect(last.status).toBe(200);
    const after = await stack.gqlOk(`query($id: ID!) { webhookStatus(integrationId: $id) { enabled totalReceived lastReceivedAt skipped } }`, { id: integrationId });
    expect(after.webhookStatus.enabled).toBe(false);
    expect(after.webhookStatus.totalReceived).toBeGreaterThan(received);
    expect(await stack.db.prisma.inboxEvent.count({ where: { integrationId, outcome: 'skipped_disabled' } })).toBeGreaterThan(0);
    await stack.gqlOk(`mutation($id: ID!) { enableWebhooks(integrationId: $id) { status { enabled } } }`, { id: integrationId });
  });
});

describe('HubSpot pushes under failure', () => {
  let stack: Stack;
  let hs: HubSpotSandbox;
  let integrationId: string;

  beforeAll(async () => {
    stack = await startStack({ RETRY_BASE_MS: '50' });
    hs = await startHubSpotFor(stack);
    integrationId = await connectHubSpot(stack, hs);
  });
  afterAll(async () => {
    await hs?.close();
    await stack?.stop();
  });

  const create = (email: string) => stack.gqlOk(`mutation($i: CreateLeadInput!) { createLead(input: $i) { id } }`, { i: { email } });
  const contacts = (email: string) => hs.listContacts().filter((c) => c.properties.email === email);
  const outboxOf = async (email: string) => {
    const lead = await stack.db.prisma.lead.findFirstOrThrow({ where: { email } });
    return stack.db.prisma.outboxItem.findMany({ where: { leadId: lead.id }, orderBy: { createdAt: 'asc' } });
  };

  it('waits out a 429 (honouring Retry-After) and then pushes', async () => {
    hs.controls.injectFault({ kind: 'rate_limit', policy: 'TEN_SECONDLY_ROLLING', retryAfterSeconds: 1 }, 2, { method: 'POST', path: '/crm/v3/objects/contacts/batch' });
    await create('limited@example.com');
    await eventually(() => contacts('limited@example.com').length === 1, 20_000, 'push after 429');
    const [item] = await eventually(async () => {
      const items = await outboxOf('limited@example.com');
      return items[0]?.status === 'done' ? items : undefined;
    });
    expect(item.attempts).toBeGreaterThan(1);
    expect(hs.controls.requests.some((c) => c.status === 429)).toBe(true);
  });

  it('retries 5xx with backoff and succeeds', async () => {
    hs.controls.injectFault({ kind: 'server_error', status: 503 }, 2, { method: 'POST', path: '/crm/v3/objects/contacts/batch' });
    await create('flaky@example.com');
    await eventually(() => contacts('flaky@example.com').length === 1, 20_000, 'push after 5xx');
  });

  it('never duplicates a create whose response was lost', async () => {
    hs.controls.injectFault({ kind: 'lost_response' }, 1, { method: 'POST', path: '/crm/v3/objects/contacts/batch/create' });
    await create('lost@example.com');
    await eventually(async () => (await outboxOf('lost@example.com')).every((i) => i.status === 'done'), 20_000, 'push after lost response');
    expect(contacts('lost@example.com')).toHaveLength(1);
    const link = await stack.db.prisma.crmLink.findFirstOrThrow({ where: { lead: { email: 'lost@example.com' } } });
    expect(link.externalId).toBe(contacts('lost@example.com')[0].id);
  });

  it('links a contact that already exists in HubSpot (409 or found by email) instead of creating another', async () => {
    await stack.gqlOk(`mutation($id: ID!) { disableWebhooks(integrationId: $id) { enabled } }`, { id: integrationId });
    const existing = hs.createContactAsUser({ email: 'exists@example.com', firstname: 'Human' });
    await settle(stack, hs);
    await stack.gqlOk(`mutation($id: ID!) { enableWebhooks(integrationId: $id) { status { enabled } } }`, { id: integrationId });
    await create('exists@example.com');
    await settle(stack, hs);
    expect(contacts('exists@example.com').map((c) => c.id)).toEqual([existing]);
    const items = await outboxOf('exists@example.com');
    expect(items.map((i) => [i.status, i.result])).toEqual([['done', 'linked']]);
    // Linking does not claim the contact as ours.
    expect(hs.getContact(existing)!.properties.lead_source_system ?? null).toBeNull();
  });

  it('shows a push that keeps failing as failed, with its error code, and can retry it later', async () => {
    hs.controls.injectFault('forbidden', 1, { method: 'POST', path: '/crm/v3/objects/contacts/batch' });
    await create('denied@example.com');
    const [item] = await eventually(async () => {
      const items = await outboxOf('denied@example.com');
      return items[0]?.status === 'failed' ? items : undefined;
    }, 20_000, 'failed push');
    expect(item.errorCode).toBe('PERMISSION');
    expect(contacts('denied@example.com')).toHaveLength(0);
    expect(await stack.engine.retryFailedPushes(stack.orgId, integrationId)).toBe(1);
    await eventually(() => contacts('denied@example.com').length === 1, 20_000, 'push after retry');
    expect(stack.logs().some((l) => l.level === 50 && String(l.msg).startsWith('failed to push lead'))).toBe(true);
  });

  it('batches pushes: 150 new leads take two batch calls, not 150', async () => {
    const before = hs.controls.requests.filter((c) => c.path === '/crm/v3/objects/contacts/batch/create').length;
    for (let i = 0; i < 150; i++) await stack.engine.createLead(stack.orgId, { email: `bulk${i}@example.com` });
    await settle(stack, hs);
    const creates = hs.controls.requests.filter((c) => c.path === '/crm/v3/objects/contacts/batch/create' && c.status < 300).length - before;
    expect(hs.listContacts().filter((c) => c.properties.email?.startsWith('bulk')).length).toBe(150);
    expect(creates).toBeLessThanOrEqual(4);
  });
});

describe('import from HubSpot', () => {
  let stack: Stack;
  let hs: HubSpotSandbox;
  let integrationId: string;

  beforeAll(async () => {
    stack = await startStack();
    hs = await startHubSpotFor(stack, { webhookTargetUrl: null, rateLimit: null });
    integrationId = await connectHubSpot(stack, hs, { autoSync: false });
  });
  afterAll(async () => {
    await hs?.close();
    await stack?.stop();
  });

  it('pages through every contact, creates or links leads, reports progress, and creates nothing the second time', async () => {
    for (let i = 0; i < 230; i++) hs.createContactAsUser({ email: `imp${i}@example.com`, firstname: `I${i}` });
    for (let i = 0; i < 5; i++) hs.createContactAsUser({ firstname: `no email ${i}` });
    // Contacts we created earlier (our tag) whose leads exist: linked, not duplicated.
    for (let i = 0; i < 3; i++) {
      await stack.engine.createLead(stack.orgId, { email: `ours${i}@example.com` });
      hs.createContactAsUser({ email: `ours${i}@example.com`, lead_source_system: 'jazzaam' });
    }
    // A person that exists on both sides already.
    await stack.engine.createLead(stack.orgId, { email: 'both@example.com', firstName: 'Kept' });
    hs.createContactAsUser({ email: 'BOTH@example.com', firstname: 'Other', company: 'Filled in' });

    const progress: any[] = [];
    const sub = stack.pubsub.subscribe('import.progress');
    const collecting = (async () => {
      for await (const job of sub) {
        progress.push(job);
        if (job.status !== 'running') break;
      }
    })();
    const started = await stack.gqlOk(`mutation($id: ID!) { importFromCrm(integrationId: $id) { id status } }`, { id: integrationId });
    expect(started.importFromCrm.status).toBe('running');
    await collecting;
    const job = await stack.gqlOk(`query($id: ID!) { importJob(id: $id) { status pages created linked skipped failed } }`, { id: started.importFromCrm.id });
    expect(job.importJob).toMatchObject({ status: 'completed', pages: 3, created: 230, linked: 4, skipped: 5, failed: 0 });
    expect(progress.length).toBe(3);
    expect(progress.map((p) => p.pages)).toEqual([1, 2, 3]);
    const both = await stack.db.prisma.lead.findFirstOrThrow({ where: { email: 'both@example.com' } });
    expect(both.firstName).toBe('Kept');
    expect(both.company).toBe('Filled in');
    const leads = await stack.db.prisma.lead.count({ where: { organizationId: stack.orgId } });

    const again = await stack.gqlOk(`mutation($id: ID!) { importFromCrm(integrationId: $id) { id } }`, { id: integrationId });
    const second = await eventually(async () => {
      const r = await stack.gqlOk(`query($id: ID!) { importJob(id: $id) { status created linked } }`, { id: again.importFromCrm.id });
      return r.importJob.status === 'completed' ? r.importJob : undefined;
    });
    expect(second).toMatchObject({ created: 0, linked: 0 });
    expect(await stack.db.prisma.lead.count({ where: { organizationId: stack.orgId } })).toBe(leads);
  });
});

describe('tenant isolation of webhooks', () => {
  let stack: Stack;
  let hsA: HubSpotSandbox;
  let hsB: HubSpotSandbox;
  let orgB: { orgId: string; apiKey: string };

  beforeAll(async () => {
    stack = await startStack();
    hsA = await startHubSpotFor(stack, { portalId: 1001 });
    hsB = await startHubSpotFor(stack, { portalId: 2002 });
    orgB = await stack.newOrg('Globex');
    await connectHubSpot(stack, hsA);
    await connectHubSpot(stack, hsB, { key: orgB.apiKey });
  });
  afterAll(async () => {
    await hsA?.close();
    await hsB?.close();
    await stack?.stop();
  });

  it('routes each portal\'s webhooks to its own organization only', async () => {
    hsA.createContactAsUser({ email: 'same@example.com', firstname: 'A' });
    hsB.createContactAsUser({ email: 'same@example.com', firstname: 'B' });
    for (const hs of [hsA, hsB]) await settle(stack, hs);
    const a = await stack.db.prisma.lead.findMany({ where: { organizationId: stack.orgId } });
    const b = await stack.db.prisma.lead.findMany({ where: { organizationId: orgB.orgId } });
    expect(a.map((l) => l.firstName)).toEqual(['A']);
    expect(b.map((l) => l.firstName)).toEqual(['B']);
    const seenByA = await stack.gqlOk(`{ leads(first: 10) { totalCount edges { node { firstName } } } }`);
    expect(seenByA.leads.edges.map((e: any) => e.node.firstName)).toEqual(['A']);
  });

  it('does not let one organization read or steer another\'s integration', async () => {
    const theirs = await stack.gqlOk(`{ integrations { id } }`, undefined, orgB.apiKey);
    const id = theirs.integrations[0].id;
    const r = await stack.gql(`query($id: ID!) { webhookStatus(integrationId: $id) { enabled } }`, { id });
    expect(r.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const d = await stack.gql(`mutation($id: ID!) { disableWebhooks(integrationId: $id) { enabled } }`, { id });
    expect(d.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const rest = await fetch(`${stack.url}/api/v1/crm-integration/${id}/disable-webhooks`, { method: 'POST', headers: { authorization: `Bearer ${stack.apiKey}` } });
    expect(rest.status).toBe(404);
    expect((await stack.db.prisma.integration.findUniqueOrThrow({ where: { id } })).webhooksEnabled).toBe(true);
  });
});
