// The webhook secret helpers: what is generated, what is accepted when, how rows an
// older version wrote (Zoho channel token in clear in settings) are read, and which
// adapters get a notification channel.
import { describe, expect, it } from 'vitest';
import {
  acceptedEndpointSecrets,
  channelOf,
  ENDPOINT_SECRET_GRACE_MS,
  newEndpointSecret,
  readWebhookSecrets,
  withoutLegacySecrets,
  writeWebhookSecrets,
} from '../../src/engine/webhook-secrets.ts';
import { hubspotAdapter } from '../../adapters/hubspot/index.ts';
import { salesforceAdapter } from '../../adapters/salesforce/index.ts';
import { newChannelId, newChannelToken, zohoAdapter } from '../../adapters/zoho/index.ts';
import { Keyring } from '../../src/secrets.ts';

describe('webhook secrets', () => {
  it('makes endpoint secrets of 256 random bits in base64url, and Zoho tokens within its 50 characters', () => {
    const secrets = Array.from({ length: 50 }, newEndpointSecret);
    for (const s of secrets) expect(s).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(new Set(secrets).size).toBe(50);
    const token = newChannelToken();
    expect(token.length).toBeLessThanOrEqual(50);
    expect(Buffer.from(token, 'base64url').length * 8).toBeGreaterThanOrEqual(128);
  });

  it('makes Zoho channel ids that are 18-digit numbers below 2^63 (a Java long), all different', () => {
    const ids = Array.from({ length: 1000 }, newChannelId);
    for (const id of ids) {
      expect(id).toMatch(/^[1-9]\d{17}$/);
      expect(BigInt(id) < 2n ** 63n).toBe(true);
    }
    expect(new Set(ids).size).toBe(1000);
  });

  it('accepts the previous endpoint secret only until its grace period ends', () => {
    const now = new Date('2026-12-01T10:00:00Z');
    const set = { endpoint: 'new', previousEndpoint: 'old', previousEndpointUntil: new Date(now.getTime() + ENDPOINT_SECRET_GRACE_MS).toISOString() };
    expect(acceptedEndpointSecrets(set, now)).toEqual(['new', 'old']);
    expect(acceptedEndpointSecrets(set, new Date(now.getTime() + ENDPOINT_SECRET_GRACE_MS - 1))).toEqual(['new', 'old']);
    expect(acceptedEndpointSecrets(set, new Date(now.getTime() + ENDPOINT_SECRET_GRACE_MS))).toEqual(['new']);
    expect(acceptedEndpointSecrets({ endpoint: 'new', previousEndpoint: 'old' }, now)).toEqual(['new']);
    expect(acceptedEndpointSecrets({}, now)).toEqual([]);
  });

  it('reads the encrypted column, falls back to a clear token of an older row, and prefers the encrypted one', () => {
    const keyring = Keyring.random('k1');
    const encrypted = writeWebhookSecrets({ channelToken: 'sealed', endpoint: 'e' }, keyring);
    expect(encrypted).toMatch(/^enc:v1:k1:/);
    expect(encrypted).not.toContain('sealed');
    expect(readWebhookSecrets({ webhookSecrets: encrypted, settings: {} }, keyring)).toEqual({ channelToken: 'sealed', endpoint: 'e' });
    expect(readWebhookSecrets({ webhookSecrets: null, settings: { webhookToken: 'clear', channelId: '1' } }, keyring)).toEqual({ channelToken: 'clear' });
    expect(readWebhookSecrets({ webhookSecrets: encrypted, settings: { webhookToken: 'clear' } }, keyring).channelToken).toBe('sealed');
    expect(() => readWebhookSecrets({ webhookSecrets: encrypted, settings: {} }, Keyring.random('k2'))).toThrow(/not configured/);
    expect(withoutLegacySecrets({ webhookToken: 'clear', originField: 'X' })).toEqual({ originField: 'X' });
  });

  it('opens no notification channel for adapters routing by the account a webhook names', () => {
    expect(hubspotAdapter.routing.by).toBe('account');
    expect(salesforceAdapter.routing.by).toBe('account');
    expect(channelOf(hubspotAdapter, { channelId: null }, {})).toBeUndefined();
    expect(channelOf(salesforceAdapter, { channelId: null }, { endpoint: 'e' })).toBeUndefined();
  });

  it('keeps the stored channel of an adapter routing by channel, makes the parts it lacks with the adapter, and rotates the token only', () => {
    expect(zohoAdapter.routing.by).toBe('channel');
    const stored = { id: '100000000000000042', token: 'stored-token' };
    expect(channelOf(zohoAdapter, { channelId: stored.id }, { channelToken: stored.token })).toEqual(stored);
    // A first enable: both made in Zoho's formats (an 18-digit long, a token within 50 characters).
    const fresh = channelOf(zohoAdapter, { channelId: null }, {})!;
    expect(fresh.id).toMatch(/^[1-9]\d{17}$/);
    expect(fresh.token.length).toBeGreaterThanOrEqual(22);
    expect(fresh.token.length).toBeLessThanOrEqual(50);
    // A row with its id and no token yet keeps the id (notifications are routed by it).
    const half = channelOf(zohoAdapter, { channelId: stored.id }, {})!;
    expect(half.id).toBe(stored.id);
    expect(half.token.length).toBeGreaterThanOrEqual(22);
    const rotated = channelOf(zohoAdapter, { channelId: stored.id }, { channelToken: stored.token }, { rotate: true })!;
    expect(rotated.id).toBe(stored.id);
    expect(rotated.token).not.toBe(stored.token);
  });
});
