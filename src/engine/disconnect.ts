// Disconnecting an integration: what it registered at the CRM is removed (webhook
// subscriptions, channels: CrmClient.unprovision), its tokens are revoked at the CRM
// (CrmAdapter.oauth.revoke), its credentials and webhook secrets are deleted, and later
// webhooks for it are refused (its account routes nowhere: webhook-routes.ts). The leads
// and the sync history stay; its links (which CRM record each lead is) stay unless asked
// otherwise, so connecting the same account again later finds them. Work still queued
// for it is closed as skipped: nothing will be sent to a CRM the customer left.
import { isCrmError, type CrmError } from '../../adapters/contract.ts';
import type { Integration } from '../generated/prisma/client.ts';
import { readCredentials, writeCredentials } from './connections.ts';
import { CONNECTED, DISCONNECTED } from './connection-state.ts';
import type { EngineContext } from './context.ts';
import { apiErrorOf } from './crm-errors.ts';
import { getIntegration } from './integrations.ts';
import { appFor } from './token-keeper.ts';

export type DisconnectDeps = Pick<EngineContext, 'config' | 'prisma' | 'logger' | 'connections'>;

/** Errors meaning the grant is gone already: nothing left to remove with it, not a failure of the disconnect. */
const GRANT_GONE = new Set(['AUTH_REVOKED', 'AUTH_EXPIRED']);
const grantGone = (e: unknown): e is CrmError => isCrmError(e) && GRANT_GONE.has(e.code);

export async function disconnectCrm(deps: DisconnectDeps, organizationId: string, integrationId: string, keepLinks = true): Promise<Integration> {
  const { prisma, connections } = deps;
  const integration = await getIntegration(prisma, organizationId, integrationId);
  if (integration.connectionState === DISCONNECTED) return integration;
  const log = deps.logger.child({ integrationId, organizationId, provider: integration.provider });
  const adapter = connections.adapter(integration.provider);
  const credentials = readCredentials(integration, connections.keyring);

  // 1. The CRM-side registrations, while the tokens still work. A CRM that cannot be
  //    reached now fails the disconnect (nothing changed here; try again).
  if (integration.connectionState === CONNECTED) {
    const client = connections.client(integration);
    if (client.unprovision && (integration.webhooksEnabled || integration.webhookSubscriptionId || integration.channelId)) {
      try {
        await client.unprovision();
      } catch (e) {
        if (!grantGone(e)) throw apiErrorOf(e, `${integration.provider} could not remove the webhook registrations`);
        log.warn({ code: e.code }, 'webhook registrations not removed: the CRM no longer accepts the grant');
      }
    }
  }
  // 2. The grant itself (revoking the refresh token ends its access tokens too).
  const app = appFor(deps, adapter, credentials);
  if (adapter.oauth && app && (credentials.refreshToken || credentials.accessToken)) {
    try {
      await adapter.oauth.revoke({
        env: deps.config,
        app,
        credentials,
        baseUrl: integration.apiBaseUrl,
        network: connections.network,
        callTimeoutMs: deps.config.CRM_CALL_TIMEOUT_MS,
        logger: log,
      });
    } catch (e) {
      if (!grantGone(e)) throw apiErrorOf(e, `${integration.provider} could not revoke the tokens`);
    }
  }
  // 3. Here: credentials and secrets gone, queued work closed, links kept or dropped.
  const now = new Date();
  const [updated] = await prisma.$transaction([
    prisma.integration.update({
      where: { id: integrationId },
      data: {
        credentials: writeCredentials({}, connections.keyring),
        webhookSecrets: null,
        channelId: null,
        webhooksEnabled: false,
        webhookSubscriptionId: null,
        webhookEvents: [],
        webhookExpiresAt: null,
        pollCursor: null,
        connectionState: DISCONNECTED,
        connectionError: null,
        connectionChangedAt: now,
        refreshLeaseBy: null,
        refreshLeaseUntil: null,
      },
    }),
    prisma.outboxItem.updateMany({
      where: { integrationId, status: { in: ['pending', 'processing'] } },
      data: { status: 'done', result: 'skipped: integration disconnected', doneAt: now, lockedBy: null, lockedUntil: null },
    }),
    prisma.inboxEvent.updateMany({
      where: { integrationId, status: { in: ['pending', 'processing'] } },
      data: { status: 'done', outcome: 'skipped_disabled', processedAt: now, lockedBy: null, lockedUntil: null },
    }),
    ...(keepLinks ? [] : [prisma.crmLink.deleteMany({ where: { integrationId } })]),
  ]);
  connections.forget(integrationId);
  log.info({ keepLinks }, 'integration disconnected: CRM registrations removed, tokens revoked, credentials deleted');
  return updated;
}
