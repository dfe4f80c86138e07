// A refused grant (OAuth invalid_grant: the customer uninstalled the app) moves the
// integration to NEEDS_RECONNECT: pushes and applies wait (not claimed, never failed, no
// attempt counted, nothing lost) until the customer connects the same portal again, then
// everything is delivered. HubSpot's changelog ("New OAuth v3 API Endpoints and
// Standardized Error Responses") answers invalid_grant / BAD_REFRESH_TOKEN for a refresh
// token that is "invalid, expired or revoked"; uninstalling an app revokes its tokens.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HubSpotSandbox } from '../../../sandboxes/hubspot/server.ts';
import { eventually } from '../../helpers/net.ts';
import type { Stack } from '../../helpers/stack.ts';
import { connectThroughOAuth, startOAuthHubSpot } from './dance.ts';

let stack: Stack;
let hs: HubSpotSandbox;
let integrationId: string;

beforeAll(async () => {
  ({ stack, hs } = await startOAuthHubSpot());
  ({ integrationId } = await connectThroughOAuth(stack, 'HUBSPOT'));
  await stack.gqlOk(`mutation($id: ID!) { enableWebhooks(integrationId: $id) { status { enabled } } }`, { id: integrationId });
}, 120_000);
afterAll(async () => {
  await hs?.close();
  await stack?.stop();
});

const refreshCalls = () => hs.controls.requests.filter((r) => r.method === 'POST' && r.path === '/oauth/2026-03/token').length;
const createLead = (email: string, firstName: string) => stack.gqlOk(`mutation($input: CreateLeadInput!) { createLead(input: $input) { id } }`, { input: { email, firstName } });

describe('a revoked grant holds the work until the customer reconnects', () => {
  it('holds pushes and applies under NEEDS_RECONNECT, then delivers everything after the reconnection', async () => {
    await createLead('before@example.com', 'Before');
    await eventually(() => hs.findContactByEmail('before@example.com') ?? undefined, 15_000, 'first push');

    hs.uninstallApp();
    const tokenCallsBefore = refreshCalls();
    await createLead('held@example.com', 'Held');
    const personId = hs.createContactAsUser({ email: 'person@example.com', firstname: 'Person' });

    const status = async () =>
      (await stack.gqlOk(`query($id: ID!) { webhookStatus(integrationId: $id) { pending pendingPushes failed failedPushes connection { state errorCode } } }`, { id: integrationId })).webhookStatus;
    await eventually(async () => (await status()).connection.state === 'NEEDS_RECONNECT', 20_000, 'NEEDS_RECONNECT');
    await eventually(() => hs.deliveries.some((d) => JSON.stringify(d).includes(personId)), 15_000, 'the webhook of the person');
    await eventually(async () => (await stack.db.prisma.inboxEvent.count({ where: { integrationId, externalId: personId } })) > 0, 15_000, 'event stored');
    // Workers keep waking meanwhile; nothing they do may fail, count or lose the held work.
    await new Promise((r) => setTimeout(r, 1_500));
    const held = await status();
    expect(held).toMatchObject({ failed: 0, failedPushes: 0, connection: { state: 'NEEDS_RECONNECT', errorCode: 'AUTH_REVOKED' } });
    expect(held.pendingPushes).toBeGreaterThan(0);
    expect(held.pending).toBeGreaterThan(0);
    const outbox = await stack.db.prisma.outboxItem.findMany({ where: { integrationId, status: { not: 'done' } } });
    expect(outbox.every((o) => o.status === 'pending' && o.attempts === 0)).toBe(true);
    const inbox = await stack.db.prisma.inboxEvent.findMany({ where: { integrationId, status: { not: 'done' } } });
    expect(inbox.every((e) => e.status === 'pending' && e.attempts === 0)).toBe(true);
    expect(await stack.db.prisma.syncEvent.count({ where: { integrationId, status: 'failed' } })).toBe(0);
    // One refused refresh, not one per worker pass.
    expect(refreshCalls() - tokenCallsBefore).toBe(1);
    expect(hs.findContactByEmail('held@example.com')).toBeNull();
    // Reading the state needs no CRM call; calls that need one are refused clearly.
    const imp = await stack.gql(`mutation($id: ID!) { importFromCrm(integrationId: $id) { id } }`, { id: integrationId });
    expect(imp.errors?.[0]?.extensions?.code).toBe('CONFLICT');

    const again = await connectThroughOAuth(stack, 'HUBSPOT');
    expect(again).toMatchObject({ result: 'reconnected', integrationId });
    await eventually(() => hs.findContactByEmail('held@example.com') ?? undefined, 20_000, 'held push delivered');
    await eventually(async () => (await stack.db.prisma.lead.findFirst({ where: { email: 'person@example.com' } })) ?? undefined, 20_000, 'held apply delivered');
    const after = await status();
    expect(after).toMatchObject({ failed: 0, failedPushes: 0, connection: { state: 'CONNECTED', errorCode: null } });
    expect(hs.listContacts().filter((c) => c.properties.email === 'held@example.com')).toHaveLength(1);
  });
});
