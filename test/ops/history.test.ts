// Sync history over GraphQL against the real service and the HubSpot sandbox: a lead's
// history, failed pushes and their retry, live activity over graphql-ws, and tenant
// isolation of the history and of retries.
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HubSpotSandbox } from '../../sandboxes/hubspot/server.ts';
import { eventually } from '../helpers/net.ts';
import { connectHubSpot, startHubSpotFor, startStack, type Stack } from '../helpers/stack.ts';
import { settle } from './helpers.ts';

const EVENT_FIELDS = 'id direction kind status reason errorCode error provider integrationId leadId externalId via retryable retriedAt createdAt';

type SyncEventView = {
  id: string;
  direction: 'INBOUND' | 'OUTBOUND';
  kind: string;
  status: 'SUCCEEDED' | 'SKIPPED' | 'FAILED';
  reason: string | null;
  errorCode: string | null;
  provider: string;
  integrationId: string;
  leadId: string | null;
  externalId: string | null;
  via: string;
  retryable: boolean;
  retriedAt: string | null;
};

describe('sync history', () => {
  let stack: Stack;
  let hs: HubSpotSandbox;
  let integrationId: string;
  let ws: Client;

  const leadByEmail = async (email: string, key?: string) => {
    const d = await stack.gqlOk(
      `query($e: String) { leads(email: $e, first: 1) { edges { node { id syncHistory(first: 50) { ${EVENT_FIELDS} } } } } }`,
      { e: email },
      key,
    );
    return d.leads.edges[0]?.node as { id: string; syncHistory: SyncEventView[] } | undefined;
  };
  const failedEvents = async (key?: string) => {
    const d = await stack.gqlOk(
      `query($f: SyncEventFilter) { syncEvents(filter: $f, first: 50) { totalCount edges { node { ${EVENT_FIELDS} } } } }`,
      { f: { status: 'FAILED' } },
      key,
    );
    return d.syncEvents as { totalCount: number; edges: { node: SyncEventView }[] };
  };
  const contacts = (email: string) => hs.listContacts().filter((c) => c.properties.email === email);

  beforeAll(async () => {
    stack = await startStack({ RETRY_BASE_MS: '50' });
    hs = await startHubSpotFor(stack);
    integrationId = await connectHubSpot(stack, hs);
    ws = createClient({ url: stack.url.replace('http', 'ws') + '/graphql', webSocketImpl: WebSocket, connectionParams: { Authorization: `Bearer ${stack.apiKey}` } });
  });
  afterAll(async () => {
    await ws?.dispose();
    await hs?.close();
    await stack?.stop();
  });

  it("shows a lead's inbound creation from HubSpot, then the push of a platform edit", async () => {
    const contactId = hs.createContactAsUser({ email: 'history@example.com', firstname: 'Hedy' });
    await settle(stack, hs);
    let lead = await leadByEmail('history@example.com');
    expect(lead).toBeDefined();
    // HubSpot also sends a propertyChange per initial property: those changed nothing.
    const oldest = lead!.syncHistory.at(-1);
    for (const e of lead!.syncHistory.slice(0, -1)) expect(e).toMatchObject({ direction: 'INBOUND', status: 'SKIPPED', externalId: contactId });
    expect(oldest).toMatchObject({
      direction: 'INBOUND',
      kind: 'created',
      status: 'SUCCEEDED',
      provider: 'HUBSPOT',
      integrationId,
      leadId: lead!.id,
      externalId: contactId,
      via: 'webhook',
      retryable: false,
    });

    await stack.gqlOk(`mutation($i: UpdateLeadInput!) { updateLead(input: $i) { id } }`, { i: { id: lead!.id, company: 'Frequency Hopping Inc' } });
    await settle(stack, hs);
    expect(hs.getContact(contactId)!.properties.company).toBe('Frequency Hopping Inc');
    lead = await leadByEmail('history@example.com');
    // Oldest first, what changed something: the creation from HubSpot, then our push.
    const changes = [...lead!.syncHistory].reverse().filter((e) => e.status !== 'SKIPPED');
    expect(changes.map((e) => [e.direction, e.kind, e.status])).toEqual([
      ['INBOUND', 'created', 'SUCCEEDED'],
      ['OUTBOUND', 'updated', 'SUCCEEDED'],
    ]);
    expect(changes[1]).toMatchObject({ externalId: contactId, via: 'push', leadId: lead!.id, provider: 'HUBSPOT' });
    // The echo of our write (HubSpot's propertyChange) was recorded as skipped, after the push.
    const afterPush = lead!.syncHistory.slice(0, lead!.syncHistory.findIndex((e) => e.direction === 'OUTBOUND'));
    expect(afterPush.length).toBeGreaterThan(0);
    for (const e of afterPush) expect(e).toMatchObject({ direction: 'INBOUND', status: 'SKIPPED' });
    expect(afterPush.map((e) => e.reason)).toContain('skipped_echo');
  });

  it('lists a push that failed under status FAILED, and retrySyncEvent makes it succeed', async () => {
    hs.controls.injectFault('forbidden', 1, { method: 'POST', path: '/crm/v3/objects/contacts/batch' });
    const created = await stack.gqlOk(`mutation($i: CreateLeadInput!) { createLead(input: $i) { id } }`, { i: { email: 'denied@example.com' } });
    const leadId = created.createLead.id as string;
    const failed = await eventually(async () => {
      const f = await failedEvents();
      return f.edges.find((e) => e.node.leadId === leadId)?.node;
    }, 20_000, 'failed push in syncEvents(status: FAILED)');
    expect(failed).toMatchObject({ direction: 'OUTBOUND', kind: 'failed', status: 'FAILED', errorCode: 'PERMISSION', provider: 'HUBSPOT', retryable: true });
    expect(contacts('denied@example.com')).toHaveLength(0);

    const r = await stack.gqlOk(`mutation($id: ID!) { retrySyncEvent(id: $id) { id status retryable retriedAt } }`, { id: failed.id });
    expect(r.retrySyncEvent).toMatchObject({ id: failed.id, status: 'FAILED', retryable: false });
    expect(r.retrySyncEvent.retriedAt).not.toBeNull();
    await eventually(() => contacts('denied@example.com').length === 1, 20_000, 'push after retrySyncEvent');
    await settle(stack, hs);
    const lead = await leadByEmail('denied@example.com');
    const outbound = lead!.syncHistory.filter((e) => e.direction === 'OUTBOUND');
    // Newest first: the successful push after the retry, then the failure.
    expect(outbound.map((e) => [e.kind, e.status])).toEqual([
      ['created', 'SUCCEEDED'],
      ['failed', 'FAILED'],
    ]);
    expect(outbound[0].externalId).toBe(contacts('denied@example.com')[0].id);
    // HubSpot's creation webhook for our own contact came back and was skipped as ours.
    const inbound = lead!.syncHistory.filter((e) => e.direction === 'INBOUND');
    for (const e of inbound) expect(e.status).toBe('SKIPPED');
    expect(inbound.map((e) => e.reason)).toContain('skipped_own_origin');

    // The same event cannot be replayed twice.
    const again = await stack.gql(`mutation($id: ID!) { retrySyncEvent(id: $id) { id } }`, { id: failed.id });
    expect(again.errors?.[0].extensions?.code).toBe('CONFLICT');
  });

  it('retryFailed puts back every failed push of the integration', async () => {
    hs.controls.injectFault('forbidden', 2, { method: 'POST', path: '/crm/v3/objects/contacts/batch' });
    await stack.gqlOk(`mutation($i: CreateLeadInput!) { createLead(input: $i) { id } }`, { i: { email: 'denied2@example.com' } });
    await eventually(async () => (await failedEvents()).edges.filter((e) => e.node.retryable).length >= 1 || undefined, 20_000, 'a retryable failure');
    const r = await stack.gqlOk(`mutation($id: ID) { retryFailed(integrationId: $id) }`, { id: integrationId });
    expect(r.retryFailed).toBeGreaterThanOrEqual(1);
    // The fault may have caught the retry too; the second retryFailed then finishes the job.
    await eventually(async () => {
      if (contacts('denied2@example.com').length === 1) return true;
      await stack.gqlOk(`mutation { retryFailed }`);
      return undefined;
    }, 20_000, 'push after retryFailed');
    expect((await failedEvents()).edges.filter((e) => e.node.retryable)).toEqual([]);
  });

  it('streams new sync events of the organization over graphql-ws', async () => {
    const received: any[] = [];
    const unsubscribe = ws.subscribe(
      { query: `subscription { syncActivity { ${EVENT_FIELDS} } }` },
      { next: (v) => received.push(v), error: (e) => received.push({ error: e }), complete: () => {} },
    );
    // Produce until the subscription (registering asynchronously) sees an event.
    let n = 0;
    const event = await eventually(async () => {
      const hit = received.find((r) => r.data?.syncActivity?.kind === 'created' && r.data.syncActivity.direction === 'INBOUND');
      if (hit) return hit;
      hs.createContactAsUser({ email: `live${n++}@example.com`, firstname: 'Live' });
      await settle(stack, hs);
      return undefined;
    }, 20_000, 'syncActivity over graphql-ws');
    unsubscribe();
    expect(received.filter((r) => r.error)).toEqual([]);
    const got = event.data.syncActivity;
    expect(got).toMatchObject({ provider: 'HUBSPOT', integrationId, status: 'SUCCEEDED', via: 'webhook' });
    const lead = await stack.gqlOk(`query($id: ID!) { lead(id: $id) { email } }`, { id: got.leadId });
    expect(lead.lead.email).toMatch(/^live\d+@example.com$/);
  });

  it("keeps another organization out of the history and the retries", async () => {
    hs.controls.injectFault('forbidden', 1, { method: 'POST', path: '/crm/v3/objects/contacts/batch' });
    await stack.gqlOk(`mutation($i: CreateLeadInput!) { createLead(input: $i) { id } }`, { i: { email: 'isolated@example.com' } });
    const ours = await eventually(async () => (await failedEvents()).edges.find((e) => e.node.retryable)?.node, 20_000, 'a retryable failure');
    const other = await stack.newOrg('Globex');

    const theirs = await stack.gqlOk(`{ syncEvents(first: 50) { totalCount edges { node { id } } } }`, undefined, other.apiKey);
    expect(theirs.syncEvents).toEqual({ totalCount: 0, edges: [] });
    const node = await stack.gqlOk(`query($id: ID!) { node(id: $id) { id } }`, { id: ours.id }, other.apiKey).catch((e: Error) => e);
    expect(node instanceof Error ? 'error' : node.node).toBeNull();

    const retry = await stack.gql(`mutation($id: ID!) { retrySyncEvent(id: $id) { id } }`, { id: ours.id }, other.apiKey);
    expect(retry.errors?.[0].extensions?.code).toBe('NOT_FOUND');
    const all = await stack.gqlOk(`mutation { retryFailed }`, undefined, other.apiKey);
    expect(all.retryFailed).toBe(0);
    const foreignIntegration = await stack.gql(`mutation($id: ID) { retryFailed(integrationId: $id) }`, { id: integrationId }, other.apiKey);
    expect(foreignIntegration.errors?.[0].extensions?.code).toBe('NOT_FOUND');
    // Still failed, still ours to retry.
    const still = (await failedEvents()).edges.find((e) => e.node.id === ours.id)!.node;
    expect(still.retryable).toBe(true);
    expect(contacts('isolated@example.com')).toHaveLength(0);
  });
});
