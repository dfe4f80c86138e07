// Integrations: creation, webhook enable/disable (the emergency brake) and status.
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { isCrmError, type CrmAdapter, type CrmProvider } from '../../adapters/contract.ts';
import type { Config } from '../config.ts';
import { AppError, notFound, validationError } from '../errors.ts';
import type { Integration, PrismaClient } from '../generated/prisma/client.ts';
import type { Logger } from '../logger.ts';
import { isUniqueViolation } from '../db/errors.ts';
import { breakerView } from './breaker.ts';
import { settingsOf, tagValuesFor, writeCredentials, type Connections } from './connections.ts';
import { checkIntegrationUrls } from './integration-urls.ts';
import { apiErrorOf, refusesCredentials } from './crm-errors.ts';
import { outcomeStatus } from './outcomes.ts';
import type { CreateIntegrationInput, EnableWebhooksResult, RotateWebhookSecretResult, WebhookStatus } from './types.ts';
import {
  ENDPOINT_SECRET_GRACE_MS,
  newEndpointSecret,
  readWebhookSecrets,
  usesChannelToken,
  usesEndpointSecret,
  webhookUrlFor,
  withoutLegacySecrets,
  writeWebhookSecrets,
  type WebhookSecretSet,
} from './webhook-secrets.ts';

export interface IntegrationDeps {
  config: Config;
  prisma: PrismaClient;
  logger: Logger;
  connections: Connections;
}

/** What every integration takes, whatever its CRM: the credentials are its adapter's (CrmAdapter.credentials). */
function commonInput(providers: readonly CrmProvider[]) {
  return z.object({
    provider: z.enum(providers as [CrmProvider, ...CrmProvider[]]),
    name: z.string().trim().min(1, 'is required').max(200),
    /** Optional: the CRM names the account of the token (whoami); when given it must match. */
    accountId: z.string().trim().min(1, 'must not be empty').max(100).nullable().optional(),
    apiBaseUrl: z.string().trim().url('must be a URL').nullable().optional(),
    autoSync: z.boolean().nullable().optional(),
  });
}

type Issue = { field: string; message: string };
const issuesOf = (error: z.ZodError): Issue[] => error.issues.map((i) => ({ field: i.path.join('.') || 'input', message: i.message }));

/**
 * The input checked: the common fields, and the credentials by the provider's adapter
 * (fields it does not take are dropped). Every problem is named at once; nothing is stored.
 */
function parseInput(connections: Connections, input: CreateIntegrationInput) {
  const common = commonInput(connections.providers()).safeParse(input);
  const adapter = common.success ? connections.adapter(common.data.provider) : connections.find(input.provider);
  const credentials = adapter ? adapter.credentials.safeParse(input) : null;
  const issues = [...(common.success ? [] : issuesOf(common.error)), ...(credentials && !credentials.success ? issuesOf(credentials.error) : [])];
  if (!common.success || !adapter || !credentials?.success) {
    // In the order of the fields: the common ones, the credentials, autoSync last.
    const order = ['provider', 'name', 'accountId', 'apiBaseUrl', ...Object.keys(adapter?.credentials.shape ?? {}), 'autoSync'];
    const rank = (field: string) => {
      const i = order.indexOf(field.split('.')[0]);
      return i === -1 ? order.length : i;
    };
    throw validationError(issues.sort((a, b) => rank(a.field) - rank(b.field)));
  }
  return { ...common.data, adapter, credentials: credentials.data as Record<string, string | null | undefined> };
}

export async function createIntegration(deps: IntegrationDeps, organizationId: string, input: CreateIntegrationInput): Promise<Integration> {
  const v = parseInput(deps.connections, input);
  const adapter = v.adapter;
  // The network guard's verdict on the URLs, before anything is stored or asked.
  const urls = checkIntegrationUrls(
    adapter,
    deps.connections.network,
    { apiBaseUrl: v.apiBaseUrl, accountsUrl: v.credentials.accountsUrl },
    adapter.defaultApiBaseUrl(deps.config),
  );
  const credentials = Object.fromEntries(
    Object.entries({ ...v.credentials, accountsUrl: urls.accountsUrl }).filter(([, x]) => x != null),
  ) as Record<string, string>;
  // Prove the account: the CRM says whose token this is; a claimed account must match it.
  const accountId = await verifiedAccountId(deps, adapter, {
    baseUrl: urls.apiBaseUrl,
    credentials,
    claimed: v.accountId ?? null,
    organizationId,
  });
  try {
    const integration = await deps.prisma.integration.create({
      data: {
        organizationId,
        provider: v.provider,
        name: v.name,
        accountId,
        apiBaseUrl: urls.apiBaseUrl,
        credentials: writeCredentials(credentials, deps.connections.keyring),
        autoSync: v.autoSync ?? true,
      },
    });
    deps.logger.info({ integrationId: integration.id, organizationId, provider: v.provider }, 'integration created');
    return integration;
  } catch (e) {
    if (isUniqueViolation(e)) {
      // Another organization holds it (connected between the check and the insert): the
      // same answer as any failed verification, so nothing is learnt about other tenants.
      const mine = await deps.prisma.integration.findFirst({ where: { provider: v.provider, accountId, organizationId }, select: { id: true } });
      if (mine) throw alreadyConnected(v.provider);
      throw accountNotVerified();
    }
    throw e;
  }
}

/** One answer for every failed proof of an account: wrong token, another account, or an account another organization holds. */
export function accountNotVerified(): AppError {
  return new AppError('ACCOUNT_NOT_VERIFIED', 'The CRM did not confirm that these credentials belong to an account this organization can connect.', {
    fields: [{ field: 'accessToken', message: 'not verified for this account' }],
  });
}

function alreadyConnected(provider: CrmProvider): AppError {
  return new AppError('CONFLICT', `This ${provider} account is already connected to this organization`, {
    fields: [{ field: 'accountId', message: 'already connected' }],
  });
}

/**
 * Asks the CRM whose token this is (CrmClient.whoami) and answers the account id to store:
 * the CRM's, which a claimed id must equal (in the form webhooks name it). A token the CRM
 * refuses, another account, or an account another organization has connected all answer
 * the same ACCOUNT_NOT_VERIFIED; a CRM that cannot be reached answers CRM_ERROR (retry).
 */
export async function verifiedAccountId(
  deps: IntegrationDeps,
  adapter: CrmAdapter,
  opts: { baseUrl: string; credentials: Record<string, string>; claimed: string | null; organizationId: string; integrationId?: string },
): Promise<string> {
  const normalise = (id: string) => adapter.normaliseAccountId?.(id) ?? id;
  const log = deps.logger.child({ provider: adapter.provider, organizationId: opts.organizationId });
  let actual: string;
  try {
    const client = adapter.connect({ baseUrl: opts.baseUrl, accountId: opts.claimed ?? '', credentials: opts.credentials, settings: {}, logger: log, network: deps.connections.network });
    actual = normalise((await client.whoami()).accountId);
  } catch (e) {
    if (refusesCredentials(e)) {
      log.warn({ code: e.code }, 'account verification failed: the CRM refused the credentials');
      throw accountNotVerified();
    }
    throw apiErrorOf(e, `${adapter.provider} could not be asked whose credentials these are`);
  }
  if (opts.claimed !== null && normalise(opts.claimed) !== actual) {
    log.warn('account verification failed: the credentials belong to another account than the one named');
    throw accountNotVerified();
  }
  const holder = await deps.prisma.integration.findFirst({
    where: { provider: adapter.provider, accountId: actual, ...(opts.integrationId ? { id: { not: opts.integrationId } } : {}) },
    select: { organizationId: true },
  });
  if (holder && holder.organizationId !== opts.organizationId) {
    log.warn('account verification failed: the account is connected to another organization');
    throw accountNotVerified();
  }
  if (holder) throw alreadyConnected(adapter.provider);
  return actual;
}

export async function getIntegration(prisma: PrismaClient, organizationId: string, integrationId: string): Promise<Integration> {
  const integration = await prisma.integration.findFirst({ where: { id: integrationId, organizationId } });
  if (!integration) throw notFound('Integration');
  return integration;
}

export async function enableWebhooks(deps: IntegrationDeps, organizationId: string, integrationId: string): Promise<EnableWebhooksResult> {
  const integration = await getIntegration(deps.prisma, organizationId, integrationId);
  const adapter = deps.connections.adapter(integration.provider);
  const settings = withoutLegacySecrets(settingsOf(integration));
  // Secrets are generated here, once, and kept encrypted; a legacy clear token is taken over.
  const secrets: WebhookSecretSet = { ...readWebhookSecrets(integration, deps.connections.keyring) };
  // A CRM may echo a channel token we choose, or call a URL ending with our secret.
  const channel = adapter.webhookAuth?.channelToken;
  if (channel) secrets.channelToken ??= channel.newToken();
  if (usesEndpointSecret(adapter)) secrets.endpoint ??= newEndpointSecret();
  const webhookUrl = webhookUrlFor(deps.config.PUBLIC_BASE_URL, adapter, usesEndpointSecret(adapter) ? secrets.endpoint! : null);
  const webhookToken = secrets.channelToken ?? '';
  // A CRM that routes by channel gets a channel id in its own format, kept in its own column.
  const channelId = integration.channelId ?? channel?.newChannelId() ?? '';
  let report;
  try {
    report = await deps.connections.client(integration).provision({
      webhookUrl,
      tagValues: tagValuesFor(integration.provider, deps.config.PLATFORM_SOURCE_TAG),
      webhookToken,
      channelId,
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
      channelId: usesChannelToken(adapter) ? channelId : integration.channelId,
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
    where: { webhooksEnabled: true, webhookExpiresAt: { lt: new Date(Date.now() + withinMs) } },
  });
  let renewed = 0;
  for (const integration of due) {
    const client = deps.connections.client(integration);
    if (!client.renewWebhooks) continue;
    const adapter = deps.connections.adapter(integration.provider);
    const settings = withoutLegacySecrets(settingsOf(integration));
    try {
      const secrets = { ...readWebhookSecrets(integration, deps.connections.keyring) };
      const channel = adapter.webhookAuth?.channelToken;
      if (channel) secrets.channelToken ??= channel.newToken();
      const channelId = integration.channelId ?? channel?.newChannelId() ?? null;
      const report = await client.renewWebhooks({
        webhookUrl: webhookUrlFor(deps.config.PUBLIC_BASE_URL, adapter, null),
        tagValues: tagValuesFor(integration.provider, deps.config.PLATFORM_SOURCE_TAG),
        webhookToken: secrets.channelToken ?? '',
        channelId: channelId ?? '',
      });
      await deps.prisma.integration.update({
        where: { id: integration.id },
        data: {
          webhookExpiresAt: report.expiresAt,
          webhookSubscriptionId: report.subscriptionId ?? integration.webhookSubscriptionId,
          channelId,
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
  const channel = adapter.webhookAuth?.channelToken;
  if (channel) {
    secrets.channelToken = channel.newToken();
    const channelId = integration.channelId ?? channel.newChannelId();
    const client = deps.connections.client(integration);
    if (integration.webhooksEnabled && client.renewWebhooks) {
      try {
        const report = await client.renewWebhooks({
          webhookUrl: webhookUrlFor(deps.config.PUBLIC_BASE_URL, adapter, null),
          tagValues: tagValuesFor(integration.provider, deps.config.PLATFORM_SOURCE_TAG),
          webhookToken: secrets.channelToken,
          channelId,
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
  };
}

export const newInstanceId = () => `i-${randomUUID().slice(0, 8)}`;
