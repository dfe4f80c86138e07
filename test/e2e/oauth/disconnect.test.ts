// Disconnecting: the grant is revoked at HubSpot (POST /oauth/2026-03/token/revoke: "This
// will only delete the refresh token", so the service also stops using the access token:
// its credentials are deleted), the leads and the history stay, links are kept or dropped
// as asked, and later webhooks for the portal are neither stored nor applied.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HubSpotSandbox } from '../../../sandboxes/hubspot/server.ts';
import { eventually } from '../../helpers/net.ts';
import { HUBSPOT_SECRET, type Stack } from '../../helpers/stack.ts';
import { callback, connectThroughOAuth, consent, startOAuthHubSpot } from './dance.ts';

let stack: Stack;
let hs: HubSpotSandbox;

beforeAll(async () => {
  ({ stack, hs } = await startOAuthHubSpot());
}, 120_000);
afterAll(async () => {
  await hs?.close();
  await stack?.stop();
});

/** What HubSpot's token introspection says of a token (RFC 7662: an unknown or revoked one is inactive). */
async function active(token: string): Promise<boolean> {
  const res = await fetch(`${hs.url}/oauth/2026-03/token/introspect`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: hs.oauthClientId, client_secret: HUBSPOT_SECRET, token }).toString(),
  });
  return ((await res.json()) as { active: boolean }).active;
}

const DISCONNECT = `mutation($id: ID!, $keep: Boolean) { disconnectCrm(integrationId: $id, keepLinks: $keep) { id connectionState webhooksEnabled } }`;

describe('disconnectCrm', () => {
  it('revokes the grant at HubSpot, deletes the credentials, keeps leads, links and history, and refuses later webhooks', async () => {
    const { integrationId } = await connectThroughOAuth(stack, 'HUBSPOT');
    await stack.gqlOk(`mutation($id: ID!) { enableWebhooks(integrationId: $id) { status { enabled } } }`, { id: integrationId });
    const personId = hs.createContactAsUser({ email: 'kept@example.com', firstname: 'Kept' });
    await eventually(async () => (await stack.db.prisma.lead.findFirst({ where: { email: 'kept@example.com' } })) ?? undefined, 15_000, 'lead from HubSpot');
    const creds = stack.keyringCredentials(await stack.db.prisma.integration.findUniqueOrThrow({ where: { id: integrationId } }));
    expect(await active(creds.refreshToken)).toBe(true);

    const r = await stack.gqlOk(DISCONNECT, { id: integrationId });
    expect(r.disconnectCrm).toEqual({ id: integrationId, connectionState: 'DISCONNECTED', webhooksEnabled: false });
    // Nothing left at HubSpot: the refresh token is revoked.
    expect(await active(creds.refreshToken)).toBe(false);
    const row = await stack.db.prisma.integration.findUniqueOrThrow({ where: { id: integrationId } });
    expect(stack.keyringCredentials(row)).toEqual({});
    expect(row.webhookSecrets).toBeNull();
    // Leads, links and history stay.
    const lead = await stack.db.prisma.lead.findFirstOrThrow({ where: { email: 'kept@example.com' } });
    expect(await stack.db.prisma.crmLink.count({ where: { integrationId, leadId: lead.id, externalId: personId } })).toBe(1);
    expect(await stack.db.prisma.syncEvent.count({ where: { integrationId } })).toBeGreaterThan(0);

    // Later webhooks for the portal: not stored, not applied.
    const inboxBefore = await stack.db.prisma.inboxEvent.count();
    const deliveriesBefore = hs.deliveries.length;
    hs.createContactAsUser({ email: 'after@example.com', firstname: 'After' });
    await eventually(() => hs.deliveries.length > deliveriesBefore, 15_000, 'the webhook after the disconnect');
    await hs.flushWebhooks();
    expect(await stack.db.prisma.inboxEvent.count()).toBe(inboxBefore);
    expect(await stack.db.prisma.lead.findFirst({ where: { email: 'after@example.com' } })).toBeNull();
    // New platform leads queue no push to it.
    await stack.gqlOk(`mutation { createLead(input: { email: "platform@example.com" }) { id } }`);
    expect(await stack.db.prisma.outboxItem.count({ where: { integrationId, status: 'pending' } })).toBe(0);
    // It says so, and does it once: a second disconnect changes nothing.
    const status = await stack.gqlOk(`query($id: ID!) { webhookStatus(integrationId: $id) { enabled connection { state } } }`, { id: integrationId });
    expect(status.webhookStatus).toEqual({ enabled: false, connection: { state: 'DISCONNECTED' } });
    expect((await stack.gqlOk(DISCONNECT, { id: integrationId })).disconnectCrm.connectionState).toBe('DISCONNECTED');
  });

  it('over REST with keepLinks false drops the links; connecting the portal again brings the same integration back', async () => {
    const { integrationId } = await connectThroughOAuth(stack, 'HUBSPOT');
    expect(await stack.db.prisma.crmLink.count({ where: { integrationId } })).toBeGreaterThan(0);
    const res = await fetch(`${stack.url}/api/v1/crm-integration/${integrationId}/disconnect`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ keepLinks: false }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id: integrationId, connectionState: 'DISCONNECTED', keepLinks: false });
    expect(await stack.db.prisma.crmLink.count({ where: { integrationId } })).toBe(0);
    expect(await stack.db.prisma.lead.count({ where: { email: 'kept@example.com' } })).toBe(1);

    const bad = await fetch(`${stack.url}/api/v1/crm-integration/${integrationId}/disconnect`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ keepLinks: 'no' }),
    });
    expect(bad.status).toBe(400);

    const again = await connectThroughOAuth(stack, 'HUBSPOT');
    expect(again).toMatchObject({ result: 'reconnected', integrationId });
    const row = await stack.db.prisma.integration.findUniqueOrThrow({ where: { id: integrationId } });
    expect(row.connectionState).toBe('connected');
    expect(stack.keyringCredentials(row).refreshToken).toMatch(/^na1-/);
  });

  it('refuses another organization disconnecting an integration that is not its own (not found, nothing changed)', async () => {
    const other = await stack.newOrg('Globex');
    const integration = await stack.db.prisma.integration.findFirstOrThrow({ where: { organizationId: stack.orgId } });
    const r = await stack.gql(DISCONNECT, { id: integration.id }, other.apiKey);
    expect(r.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect((await stack.db.prisma.integration.findUniqueOrThrow({ where: { id: integration.id } })).connectionState).toBe('connected');
  });

  it('frees the account: once disconnected, another organization can connect the portal, and A keeps its history', async () => {
    const integration = await stack.db.prisma.integration.findFirstOrThrow({ where: { organizationId: stack.orgId } });
    await stack.gqlOk(DISCONNECT, { id: integration.id });
    const other = await stack.newOrg('Initech');
    const theirs = await connectThroughOAuth(stack, 'HUBSPOT', { key: other.apiKey });
    expect(theirs.result).toBe('created');
    expect(theirs.integrationId).not.toBe(integration.id);
    expect(await stack.db.prisma.integration.findUniqueOrThrow({ where: { id: theirs.integrationId } })).toMatchObject({ organizationId: other.orgId, accountId: String(hs.portalId) });
    expect(await stack.db.prisma.syncEvent.count({ where: { integrationId: integration.id } })).toBeGreaterThan(0);
    // And now it is theirs: A connecting it again is refused.
    expect((await callback(await consent(stack, 'HUBSPOT'))).status).toBe(409);
  });
});
