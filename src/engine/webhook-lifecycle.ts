// Webhooks of an integration: enable (provision at the CRM), renew before expiry, rotate
// secrets with a grace period, disable (the emergency brake), and the status people see.
import { isCrmError } from '../../adapters/contract.ts';
import { AppError } from '../errors.ts';
import type { PrismaClient } from '../generated/prisma/client.ts';
import { breakerView } from './breaker.ts';
import { connectionStatus, requireConnected } from './connection-state.ts';
import { settingsOf, tagValuesFor } from './connections.ts';
import { apiErrorOf } from './crm-errors.ts';
import { getIntegration, type IntegrationDeps } from './integrations.ts';
import { outcomeStatus } from './outcomes.ts';
import type { EnableWebhooksResult, RotateWebhookSecretResult, WebhookStatus } from './types.ts';
import {
  channelOf,
  ENDPOINT_SECRET_GRACE_MS,
  newEndpointSecret,
  readWebhookSecrets,
  usesEndpointSecret,
  webhookUrlFor,
  withoutLegacySecrets,
  writeWebhookSecrets,
  type WebhookSecretSet,
} from './webhook-secrets.ts';

export async function enableWebhooks(deps: IntegrationDeps, organizationId: string, integrationId: string): Promise<EnableWebhooksResult> {
  const integration = await getIntegration(deps.prisma, organizationId, integrationId);
  requireConnected(integration, 'enable webhooks');
  const adapter = deps.connections.adapter(integration.provider);
  const settings = withoutLegacySecrets(settingsOf(integration));
  // Secrets are generated here, once, and kept encrypted; a legacy clear token is taken over.
  const secrets: WebhookSecretSet = { ...readWebhookSecrets(integration, deps.connections.keyring) };
  // A CRM routing by channel gets the integration's channel (made by its adapter, the id
  // kept in its own column, the token encrypted); one that signs nothing calls a URL
  // ending with our secret. Other CRMs get neither.
  const channel = channelOf(adapter, integration, secrets);
  if (channel) secrets.channelToken = channel.token;
  if (usesEndpointSecret(adapter)) secrets.endpoint ??= newEndpointSecret();
  const webhookUrl = webhookUrlFor(deps.config.PUBLIC_BASE_URL, adapter, usesEndpointSecret(adapter) ? secrets.endpoint! : null);
  let report;
  try {
    report = await deps.connections.client(integration).provision({
      webhookUrl,
      tagValues: tagValuesFor(integration.provider, deps.platformTag),
      ...(channel ? { channel } : {}),
    });
  } catch (e) {
    throw apiErrorOf(e, `${integration.provider} refused the set-up`);
  }
  // The reconciling poll covers changes from now on (the import covers the past).
  const client = deps.connections.client(integration);
  const pollCursor = integration.pollCursor ?? client.cursorAt?.(new Date(Date.now() - 5 * 60_000)) ?? null;
  const updated = await deps.prisma.integration.update({
    where: { id: integration.id },
    data: {
      pollCursor,
      webhooksEnabled: true,
      webhookSubscriptionId: report.subscriptionId,
      webhookEvents: report.events,
      webhookExpiresAt: report.expiresAt,
      channelId: channel?.id ?? integration.channelId,
      webhookSecrets: Object.keys(secrets).length ? writeWebhookSecrets(secrets, deps.connections.keyring) : integration.webhookSecrets,
      settings: deps.connections.settingsToStore(integration.provider, { ...settings, ...withoutLegacySecrets(report.settings), prepared: report.originFieldReady }),
    },
  });
  deps.connections.forget(integration.id);
  deps.logger.info(
    { integrationId: integration.id, subscriptionId: report.subscriptionId, manualSteps: report.manualSteps.length },
    'webhooks enabled',
  );
  const { settings: _s, ...provision } = report;
  void _s;
  return { status: await webhookStatus(deps.prisma, organizationId, updated.id), provision, webhookUrl };
}

/** Renews webhook channels that expire within `withinMs` (Zoho channels live at most a week). */
export async function renewExpiringWebhooks(deps: IntegrationDeps, withinMs = 24 * 3_600_000): Promise<number> {
  const due = await deps.prisma.integration.findMany({
    where: { webhooksEnabled: true, connectionState: 'connected', webhookExpiresAt: { lt: new Date(Date.now() + withinMs) } },
  });
  let renewed = 0;
  for (const integration of due) {
    const client = deps.connections.client(integration);
    if (!client.renewWebhooks) continue;
    const adapter = deps.connections.adapter(integration.provider);
    const settings = withoutLegacySecrets(settingsOf(integration));
    try {
      const secrets = { ...readWebhookSecrets(integration, deps.connections.keyring) };
      const channel = channelOf(adapter, integration, secrets);
      if (channel) secrets.channelToken = channel.token;
      const report = await client.renewWebhooks({
        webhookUrl: webhookUrlFor(deps.config.PUBLIC_BASE_URL, adapter, null),
        tagValues: tagValuesFor(integration.provider, deps.platformTag),
        ...(channel ? { channel } : {}),
      });
      await deps.prisma.integration.update({
        where: { id: integration.id },
        data: {
          webhookExpiresAt: report.expiresAt,
          webhookSubscriptionId: report.subscriptionId ?? integration.webhookSubscriptionId,
          channelId: channel?.id ?? integration.channelId,
          // A clear token of an older row moves into the encrypted column here.
          webhookSecrets: writeWebhookSecrets(secrets, deps.connections.keyring),
          settings: deps.connections.settingsToStore(integration.provider, { ...settings, ...withoutLegacySecrets(report.settings) }),
        },
      });
      deps.logger.info({ integrationId: integration.id, expiresAt: report.expiresAt }, 'webhook channel renewed');
      renewed++;
    } catch (e) {
      deps.logger.error(
        { integrationId: integration.id, expiresAt: integration.webhookExpiresAt, err: isCrmError(e) ? { code: e.code, message: e.message } : e },
        'webhook channel renewal failed; retried on the next round',
      );
    }
  }
  return renewed;
}

/**
 * Replaces the integration's webhook secret. Salesforce: a new endpoint URL (answered, to
 * paste into the Outbound Message); the previous URL keeps working for
 * ENDPOINT_SECRET_GRACE_MS unless `revokePrevious` (a leaked URL). Zoho: a new channel
 * token, registered with Zoho at once (the old one stops being accepted). Other CRMs sign
 * their webhooks with an app secret the service does not own: UNSUPPORTED.
 */
export async function rotateWebhookSecret(
  deps: IntegrationDeps,
  organizationId: string,
  integrationId: string,
  opts: { revokePrevious?: boolean } = {},
): Promise<RotateWebhookSecretResult> {
  const integration = await getIntegration(deps.prisma, organizationId, integrationId);
  const adapter = deps.connections.adapter(integration.provider);
  const secrets = { ...readWebhookSecrets(integration, deps.connections.keyring) };
  const now = new Date();
  if (usesEndpointSecret(adapter)) {
    const previous = secrets.endpoint;
    secrets.endpoint = newEndpointSecret();
    if (previous && !opts.revokePrevious) {
      secrets.previousEndpoint = previous;
      secrets.previousEndpointUntil = new Date(now.getTime() + ENDPOINT_SECRET_GRACE_MS).toISOString();
    } else {
      delete secrets.previousEndpoint;
      delete secrets.previousEndpointUntil;
    }
    await deps.prisma.integration.update({
      where: { id: integration.id },
      data: { webhookSecrets: writeWebhookSecrets(secrets, deps.connections.keyring) },
    });
    deps.logger.info({ integrationId: integration.id, previousValid: Boolean(secrets.previousEndpoint) }, 'webhook endpoint secret rotated');
    return {
      integrationId: integration.id,
      webhookUrl: webhookUrlFor(deps.config.PUBLIC_BASE_URL, adapter, secrets.endpoint),
      previousValidUntil: secrets.previousEndpointUntil ? new Date(secrets.previousEndpointUntil) : null,
    };
  }
  // A CRM routing by channel: the same channel, a new token.
  const channel = channelOf(adapter, integration, secrets, { rotate: true });
  if (channel) {
    secrets.channelToken = channel.token;
    const channelId = channel.id;
    const client = deps.connections.client(integration);
    if (integration.webhooksEnabled && client.renewWebhooks) {
      try {
        const report = await client.renewWebhooks({
          webhookUrl: webhookUrlFor(deps.config.PUBLIC_BASE_URL, adapter, null),
          tagValues: tagValuesFor(integration.provider, deps.platformTag),
          channel,
        });
        await deps.prisma.integration.update({
          where: { id: integration.id },
          data: {
            channelId,
            webhookExpiresAt: report.expiresAt,
            webhookSecrets: writeWebhookSecrets(secrets, deps.connections.keyring),
            settings: deps.connections.settingsToStore(integration.provider, { ...withoutLegacySecrets(settingsOf(integration)), ...withoutLegacySecrets(report.settings) }),
          },
        });
      } catch (e) {
        throw apiErrorOf(e, `${integration.provider} refused the new channel token`);
      }
    } else {
      await deps.prisma.integration.update({
        where: { id: integration.id },
        data: { channelId, webhookSecrets: writeWebhookSecrets(secrets, deps.connections.keyring) },
      });
    }
    deps.connections.forget(integration.id);
    deps.logger.info({ integrationId: integration.id }, 'webhook channel token rotated');
    return { integrationId: integration.id, webhookUrl: webhookUrlFor(deps.config.PUBLIC_BASE_URL, adapter, null), previousValidUntil: null };
  }
  throw new AppError('UNSUPPORTED', `${integration.provider} webhooks are signed with the app's client secret, which is rotated in ${integration.provider}`);
}

/** The emergency brake: from now on no event of this integration creates or changes a lead. */
export async function disableWebhooks(deps: IntegrationDeps, organizationId: string, integrationId: string): Promise<WebhookStatus> {
  const integration = await getIntegration(deps.prisma, organizationId, integrationId);
  await deps.prisma.integration.update({ where: { id: integration.id }, data: { webhooksEnabled: false } });
  deps.logger.warn({ integrationId: integration.id }, 'webhooks disabled: events are acknowledged and not applied');
  // Unsubscribing at the CRM is best effort: the brake above already holds.
  const client = deps.connections.client(integration);
  if (client.unprovision) {
    try {
      await client.unprovision();
    } catch (e) {
      deps.logger.warn({ integrationId: integration.id, err: isCrmError(e) ? { code: e.code, message: e.message } : e }, 'could not remove the CRM-side subscription; events will keep arriving and be ignored');
    }
  }
  return webhookStatus(deps.prisma, organizationId, integration.id);
}

export async function webhookStatus(prisma: PrismaClient, organizationId: string, integrationId: string): Promise<WebhookStatus> {
  const integration = await getIntegration(prisma, organizationId, integrationId);
  const groups = await prisma.inboxEvent.groupBy({
    by: ['status', 'outcome'],
    where: { integrationId },
    _count: { _all: true },
  });
  let created = 0;
  let updated = 0;
  let skipped = 0;
  let failed = 0;
  let pending = 0;
  for (const g of groups) {
    const n = g._count._all;
    if (g.status === 'failed') failed += n;
    else if (g.status === 'pending' || g.status === 'processing') pending += n;
    else if (g.outcome === 'created') created += n;
    else if (outcomeStatus(g.outcome) === 'succeeded') updated += n;
    else if (outcomeStatus(g.outcome) === 'skipped') skipped += n;
  }
  const [pushes, due] = await Promise.all([
    prisma.outboxItem.groupBy({ by: ['status'], where: { integrationId }, _count: { _all: true } }),
    Promise.all([
      prisma.inboxEvent.aggregate({ where: { integrationId, status: { in: ['pending', 'processing'] } }, _min: { nextAttemptAt: true } }),
      prisma.outboxItem.aggregate({ where: { integrationId, status: { in: ['pending', 'processing'] } }, _min: { nextAttemptAt: true } }),
    ]),
  ]);
  const countOf = (...statuses: string[]) => pushes.filter((g) => statuses.includes(g.status)).reduce((n, g) => n + g._count._all, 0);
  const breaker = breakerView(integration);
  const firstDue = due
    .map((d) => d._min.nextAttemptAt)
    .filter((d): d is Date => d !== null)
    .sort((a, b) => a.getTime() - b.getTime())[0];
  // Work waits for the later of its own time and the breaker's cool-down.
  const nextAttemptAt = firstDue ? (breaker.until && breaker.until > firstDue ? breaker.until : firstDue) : null;
  return {
    integrationId: integration.id,
    provider: integration.provider,
    enabled: integration.webhooksEnabled,
    subscriptionId: integration.webhookSubscriptionId,
    events: integration.webhookEvents,
    expiresAt: integration.webhookExpiresAt,
    totalReceived: integration.totalReceived,
    lastReceivedAt: integration.lastReceivedAt,
    created,
    updated,
    skipped,
    failed,
    pending,
    pendingPushes: countOf('pending', 'processing'),
    failedPushes: countOf('failed'),
    nextAttemptAt,
    breaker,
    connection: connectionStatus(integration),
  };
}

