// The notification channel secrets Zoho echoes back: the service generates them once per
// integration and keeps them encrypted. Zoho's /actions/watch takes a token of at most 50
// characters and a channel_id that is a long (isZohoChannelId).
import { randomBytes } from 'node:crypto';
import type { WebhookChannel } from '../contract.ts';

/** 24 random bytes, base64url (192 bits, 32 characters): within Zoho's 50-character token. */
export function newChannelToken(): string {
  return randomBytes(24).toString('base64url');
}

const MIN_CHANNEL_ID = 10n ** 17n;
const CHANNEL_ID_SPAN = 9n * 10n ** 17n;

/**
 * A Zoho channel id: Zoho wants a numeric (long) channel_id. 18 random digits (about 60
 * bits, below 2^63), never derived from the clock, unique per integration by its column.
 */
export function newChannelId(): string {
  return String(MIN_CHANNEL_ID + (randomBytes(8).readBigUInt64BE() % CHANNEL_ID_SPAN));
}

/** A fresh notification channel of an integration (CrmAdapter.routing.newChannel). */
export function newChannel(): WebhookChannel {
  return { id: newChannelId(), token: newChannelToken() };
}
