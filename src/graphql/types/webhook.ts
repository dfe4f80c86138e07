// Webhook status and provisioning of an integration.
import type { BreakerStatus, ConnectionStatus, EnableWebhooksResult, RotateWebhookSecretResult, WebhookStatus } from '../../engine/types.ts';
import { builder } from '../builder.ts';
import { ConnectedViaEnum, ConnectionStateEnum, CrmProviderEnum } from './scalars.ts';

const BreakerStateEnum = builder.enumType('BreakerState', {
  description: 'CLOSED: calls to the CRM flow. OPEN: the CRM kept failing; no call until `until`. HALF_OPEN: one probe call is in flight.',
  values: ['CLOSED', 'OPEN', 'HALF_OPEN'] as const,
});

const BreakerStatusType = builder.objectRef<BreakerStatus>('BreakerStatus').implement({
  description: "The circuit breaker of calls to an integration's CRM.",
  fields: (t) => ({
    state: t.expose('state', { type: BreakerStateEnum }),
    failures: t.exposeInt('failures', { description: 'Consecutive transient failures (429, 5xx, network, timeouts).' }),
    until: t.expose('until', { type: 'DateTime', nullable: true, description: 'OPEN: no call before this time. HALF_OPEN: the probe deadline.' }),
    openedAt: t.expose('openedAt', { type: 'DateTime', nullable: true }),
    lastErrorCode: t.exposeString('lastErrorCode', { nullable: true }),
  }),
});

const ConnectionStatusType = builder.objectRef<ConnectionStatus>('ConnectionStatus').implement({
  description: "An integration's connection to its CRM.",
  fields: (t) => ({
    state: t.expose('state', { type: ConnectionStateEnum }),
    via: t.expose('via', { type: ConnectedViaEnum }),
    errorCode: t.exposeString('errorCode', { nullable: true, description: 'Why it is not CONNECTED (AUTH_REVOKED).' }),
    changedAt: t.expose('changedAt', { type: 'DateTime', nullable: true, description: 'When it last left or regained CONNECTED.' }),
  }),
});

export const WebhookStatusType = builder.objectRef<WebhookStatus>('WebhookStatus').implement({
  description: "An integration's webhook subscription and what its webhooks have done.",
  fields: (t) => ({
    integrationId: t.exposeID('integrationId'),
    provider: t.expose('provider', { type: CrmProviderEnum }),
    enabled: t.exposeBoolean('enabled'),
    subscriptionId: t.exposeString('subscriptionId', { nullable: true }),
    events: t.exposeStringList('events'),
    expiresAt: t.expose('expiresAt', { type: 'DateTime', nullable: true }),
    totalReceived: t.exposeInt('totalReceived'),
    lastReceivedAt: t.expose('lastReceivedAt', { type: 'DateTime', nullable: true }),
    created: t.exposeInt('created', { description: 'Webhook events that created a lead.' }),
    updated: t.exposeInt('updated', { description: 'Webhook events that updated a lead.' }),
    skipped: t.exposeInt('skipped', { description: 'Webhook events with nothing to do (echoes, duplicates).' }),
    failed: t.exposeInt('failed'),
    pending: t.exposeInt('pending', { description: 'Webhook events received and not processed yet.' }),
    pendingPushes: t.exposeInt('pendingPushes', { description: 'Pushes to the CRM waiting (queued, retrying or in progress).' }),
    failedPushes: t.exposeInt('failedPushes', { description: 'Pushes left failed (see retryFailed).' }),
    nextAttemptAt: t.expose('nextAttemptAt', {
      type: 'DateTime',
      nullable: true,
      description: "When the next waiting event or push is due (the breaker's cool-down included).",
    }),
    breaker: t.expose('breaker', { type: BreakerStatusType }),
    connection: t.expose('connection', { type: ConnectionStatusType }),
  }),
});

type ProvisionView = EnableWebhooksResult['provision'];

const WebhookProvisionType = builder.objectRef<ProvisionView>('WebhookProvision').implement({
  description: 'What enabling webhooks did on the CRM side.',
  fields: (t) => ({
    originFieldReady: t.exposeBoolean('originFieldReady', {
      description: 'The origin-tag field exists in the CRM (created now or already there).',
    }),
    originFieldCreated: t.exposeBoolean('originFieldCreated'),
    subscriptionId: t.exposeString('subscriptionId', { nullable: true }),
    events: t.exposeStringList('events'),
    expiresAt: t.expose('expiresAt', { type: 'DateTime', nullable: true }),
    manualSteps: t.exposeStringList('manualSteps', {
      description: 'What an administrator must still configure in the CRM, if anything.',
    }),
  }),
});

const EnableWebhooksResultType = builder.objectRef<EnableWebhooksResult>('EnableWebhooksResult').implement({
  fields: (t) => ({
    status: t.expose('status', { type: WebhookStatusType }),
    provision: t.expose('provision', { type: WebhookProvisionType }),
    webhookUrl: t.exposeString('webhookUrl', { description: 'The URL the CRM must call.' }),
  }),
});

const RotateWebhookSecretResultType = builder.objectRef<RotateWebhookSecretResult>('WebhookEndpointRotation').implement({
  fields: (t) => ({
    integrationId: t.exposeID('integrationId'),
    webhookUrl: t.exposeString('webhookUrl', {
      description: 'The URL the CRM must call from now on (Salesforce: paste it as the Outbound Message endpoint URL).',
    }),
    previousValidUntil: t.expose('previousValidUntil', {
      type: 'DateTime',
      nullable: true,
      description: 'Until when the previous URL is still accepted (24 hours after rotating); null when it no longer is.',
    }),
  }),
});

builder.queryFields((t) => ({
  webhookStatus: t.field({
    type: WebhookStatusType,
    authScopes: { 'integrations:admin': true },
    nullable: true,
    args: { integrationId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.sync.webhookStatus(ctx.organizationId, String(args.integrationId)),
  }),
}));

builder.mutationFields((t) => ({
  enableWebhooks: t.field({
    type: EnableWebhooksResultType,
    authScopes: { 'integrations:admin': true },
    args: { integrationId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.sync.enableWebhooks(ctx.organizationId, String(args.integrationId)),
  }),
  rotateWebhookEndpoint: t.field({
    type: RotateWebhookSecretResultType,
    authScopes: { 'integrations:admin': true },
    description:
      "Replaces the integration's webhook secret: Salesforce gets a new outbound message endpoint URL (the previous one stays " +
      'valid for 24 hours unless revokePrevious), Zoho a new channel token registered at once. UNSUPPORTED for HubSpot ' +
      "(its webhooks are signed with the app's client secret).",
    args: {
      integrationId: t.arg.id({ required: true }),
      revokePrevious: t.arg.boolean({ description: 'Refuse the previous URL at once (it leaked) instead of after 24 hours.' }),
    },
    resolve: (_root, args, ctx) =>
      ctx.services.sync.rotateWebhookSecret(ctx.organizationId, String(args.integrationId), { revokePrevious: args.revokePrevious ?? false }),
  }),
  disableWebhooks: t.field({
    type: WebhookStatusType,
    authScopes: { 'integrations:admin': true },
    args: { integrationId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.sync.disableWebhooks(ctx.organizationId, String(args.integrationId)),
  }),
}));
