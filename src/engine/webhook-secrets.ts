// What the service holds to authenticate an integration's webhooks: the token of the
// notification channel it opened for adapters routing by channel (channel made by the
// adapter, CrmAdapter.routing.newChannel; its id lives in `Integration.channelId`), and
// the endpoint secret the webhook URL ends with for adapters with `endpointSecret`
// (current, and the previous one during its grace period; generated here with
// node:crypto). Tokens and endpoint secrets live in `Integration.webhookSecrets` as one
// encrypted envelope of JSON (src/secrets.ts keyring, like the credentials). What the
// adapter verifies with is its own (CrmAdapter.webhookSecrets): never read here.
import { randomBytes } from 'node:crypto';
import type { CrmAdapter, WebhookChannel } from '../../adapters/contract.ts';
import type { Integration } from '../generated/prisma/client.ts';
import type { Keyring } from '../secrets.ts';

export interface WebhookSecretSet {
  /** Adapters routing by channel: the token the CRM echoes in every notification of the integration's channel. */
  channelToken?: string;
  /** Adapters with `endpointSecret`: the secret last segment of the webhook URL. */
  endpoint?: string;
  /** The endpoint secret before the last rotation, accepted until `previousEndpointUntil`. */
  previousEndpoint?: string;
  previousEndpointUntil?: string;
}

/**
 * How long the previous Salesforce endpoint secret stays valid after a rotation: time for
 * the administrator to paste the new URL into the Outbound Message, during which messages
 * sent to the old URL are still taken (Salesforce retries unacknowledged messages for up
 * to 24 hours, so a day also covers messages queued before the change).
 */
export const ENDPOINT_SECRET_GRACE_MS = 24 * 3_600_000;

/** 32 random bytes, base64url (256 bits, 43 characters): safe in a URL path segment. */
export function newEndpointSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** Endpoint secrets are base64url of at least 128 bits; anything else is not worth a lookup. */
export function looksLikeEndpointSecret(s: string): boolean {
  return /^[A-Za-z0-9_-]{22,128}$/.test(s);
}

function settingsObject(settings: unknown): Record<string, unknown> {
  return settings && typeof settings === 'object' && !Array.isArray(settings) ? (settings as Record<string, unknown>) : {};
}

/**
 * The webhook secrets of an integration row. Rows written before webhook secrets were
 * encrypted keep the Zoho channel token in clear in `settings.webhookToken`: it is still
 * read (and moved into the encrypted column on the row's next webhook write, or by
 * `crm-sync rotate-key`). Throws SecretError when the envelope cannot be decrypted.
 */
export function readWebhookSecrets(integration: Pick<Integration, 'webhookSecrets' | 'settings'>, keyring: Keyring): WebhookSecretSet {
  let set: WebhookSecretSet = {};
  if (integration.webhookSecrets) {
    try {
      const v = JSON.parse(keyring.decrypt(integration.webhookSecrets)) as unknown;
      if (v && typeof v === 'object' && !Array.isArray(v)) set = v as WebhookSecretSet;
    } catch (e) {
      if (e instanceof SyntaxError) set = {};
      else throw e;
    }
  }
  const legacy = settingsObject(integration.settings).webhookToken;
  if (!set.channelToken && typeof legacy === 'string' && legacy !== '') set = { ...set, channelToken: legacy };
  return set;
}

/** The column value: always an envelope with the keyring's current key. */
export function writeWebhookSecrets(set: WebhookSecretSet, keyring: Keyring): string {
  return keyring.encrypt(JSON.stringify(set));
}

/** Settings without any secret that older versions stored there in clear. */
export function withoutLegacySecrets(settings: Record<string, unknown>): Record<string, unknown> {
  const { webhookToken: _t, ...rest } = settings;
  void _t;
  return rest;
}

/** The Salesforce endpoint secrets accepted now: the current one, and the previous one within its grace period. */
export function acceptedEndpointSecrets(set: WebhookSecretSet, now: Date = new Date()): string[] {
  const out: string[] = [];
  if (set.endpoint) out.push(set.endpoint);
  const until = set.previousEndpointUntil ? Date.parse(set.previousEndpointUntil) : NaN;
  if (set.previousEndpoint && Number.isFinite(until) && until > now.getTime()) out.push(set.previousEndpoint);
  return out;
}

/** Whether a CRM's webhook endpoint URL carries a per-integration secret (its adapter says so). */
export function usesEndpointSecret(adapter: Pick<CrmAdapter, 'endpointSecret'>): boolean {
  return adapter.endpointSecret === true;
}

/**
 * The integration's notification channel, for an adapter routing by channel: the stored
 * id and token, each made by the adapter (`routing.newChannel`) when not stored yet;
 * `rotate` takes a new token for the same id. undefined for adapters routing by account:
 * the service opens no channel for them.
 */
export function channelOf(
  adapter: Pick<CrmAdapter, 'routing'>,
  integration: { channelId: string | null },
  secrets: WebhookSecretSet,
  opts: { rotate?: boolean } = {},
): WebhookChannel | undefined {
  const routing = adapter.routing;
  if (routing.by !== 'channel') return undefined;
  const stored = { id: integration.channelId, token: opts.rotate ? null : (secrets.channelToken ?? null) };
  if (stored.id && stored.token) return { id: stored.id, token: stored.token };
  const fresh = routing.newChannel();
  return { id: stored.id ?? fresh.id, token: stored.token ?? fresh.token };
}

/** The channel stored for an integration (id in its column, token encrypted), or null when it has none. */
export function storedChannel(integration: { channelId: string | null }, secrets: WebhookSecretSet): WebhookChannel | null {
  return integration.channelId && secrets.channelToken ? { id: integration.channelId, token: secrets.channelToken } : null;
}

/** Where the CRMs' webhook routes live below the public base URL: one route per adapter slug. */
export const WEBHOOK_ROUTE_BASE = '/api/v1/webhooks';

/** The path a CRM calls below the public base URL: /api/v1/webhooks/<slug>. */
export function webhookPathOf(adapter: Pick<CrmAdapter, 'slug'>): string {
  return `${WEBHOOK_ROUTE_BASE}/${adapter.slug}`;
}

/** The URL the CRM must call for this integration: the provider's path, plus the secret where one is used. */
export function webhookUrlFor(publicBaseUrl: string, adapter: Pick<CrmAdapter, 'slug'>, endpointSecret: string | null): string {
  return `${publicBaseUrl}${webhookPathOf(adapter)}${endpointSecret ? `/${endpointSecret}` : ''}`;
}
