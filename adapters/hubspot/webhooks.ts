// HubSpot webhook codec: parse the v3 event array, verify signatures, acknowledge.
//
// Verification (crm-protocols.md):
// - v3 (X-HubSpot-Signature-v3 + X-HubSpot-Request-Timestamp in epoch ms): the request
//   is rejected when the timestamp is older than 5 minutes, or more than
//   MAX_FUTURE_SKEW_MS in the future; the signed string is method + URI (with the listed
//   escapes decoded) + raw body + the timestamp header; HMAC-SHA256 keyed with the app's
//   client secret, base64, compared in constant time (kit/compare.ts).
// - v1/v2 (X-HubSpot-Signature, hex SHA-256) only when secrets.allowLegacySignatures and
//   no v3 signature is present (legacy signatures carry no timestamp: replays pass).
// - Anything missing, forged or stale -> CrmError SIGNATURE_INVALID.
import { createHash, createHmac } from 'node:crypto';
import {
  CrmError,
  type ChangeEvent,
  type ChangeKind,
  type ParsedWebhook,
  type WebhookCodec,
  type WebhookRequest,
} from '../contract.ts';
import { safeEqual } from '../kit/compare.ts';

/** What verifies a HubSpot webhook (built by the adapter's webhookSecrets from the integration's credentials and the environment). */
export interface HubSpotWebhookSecrets {
  /** The app's client secret: the HMAC key of every signature. */
  clientSecret: string | null;
  /** Accept v1/v2 signatures too (off by default: they carry no timestamp, replays pass). */
  allowLegacySignatures?: boolean;
}

export const MAX_AGE_MS = 5 * 60 * 1000;
export const MAX_FUTURE_SKEW_MS = 30 * 1000;

const KIND: Readonly<Record<string, ChangeKind>> = {
  'contact.creation': 'created',
  'contact.propertyChange': 'updated',
  'contact.deletion': 'deleted',
  'contact.privacyDeletion': 'deleted',
  'contact.merge': 'merged',
  'contact.restore': 'restored',
};

const DECODED: Readonly<Record<string, string>> = {
  '%3A': ':',
  '%2F': '/',
  '%3F': '?',
  '%40': '@',
  '%21': '!',
  '%24': '$',
  '%27': "'",
  '%28': '(',
  '%29': ')',
  '%2A': '*',
  '%2C': ',',
  '%3B': ';',
};

/** Decodes exactly the escapes HubSpot lists for v3 (as documented, upper-case hex). */
export function decodeV3Uri(uri: string): string {
  return uri.replace(/%(?:3A|2F|3F|40|21|24|27|28|29|2A|2C|3B)/g, (m) => DECODED[m] ?? m);
}

function invalid(message: string): CrmError {
  return new CrmError('SIGNATURE_INVALID', `HubSpot webhook: ${message}`, { provider: 'HUBSPOT' });
}

function header(req: WebhookRequest, name: string): string | undefined {
  const want = name.toLowerCase();
  for (const [k, v] of Object.entries(req.headers)) {
    if (k.toLowerCase() === want && v !== undefined) return Array.isArray(v) ? String(v[0]) : v;
  }
  return undefined;
}

function verifyV3(req: WebhookRequest, secret: string, signature: string): void {
  const ts = header(req, 'x-hubspot-request-timestamp');
  if (!ts || !/^\d{1,16}$/.test(ts.trim())) throw invalid('missing or malformed X-HubSpot-Request-Timestamp');
  const at = Number(ts.trim());
  const now = (req.now ?? new Date()).getTime();
  if (now - at > MAX_AGE_MS) throw invalid('timestamp older than 5 minutes (stale or replayed)');
  if (at - now > MAX_FUTURE_SKEW_MS) throw invalid('timestamp in the future');
  const source = Buffer.concat([
    Buffer.from(`${req.method.toUpperCase()}${decodeV3Uri(req.url)}`, 'utf8'),
    req.rawBody,
    Buffer.from(ts, 'utf8'),
  ]);
  const expected = createHmac('sha256', secret).update(source).digest();
  let given: Buffer;
  try {
    given = Buffer.from(signature.trim(), 'base64');
  } catch {
    throw invalid('malformed X-HubSpot-Signature-v3');
  }
  if (!safeEqual(expected, given)) throw invalid('X-HubSpot-Signature-v3 does not match');
}

function verifyLegacy(req: WebhookRequest, secret: string, signature: string): void {
  const version = (header(req, 'x-hubspot-signature-version') ?? 'v1').trim().toLowerCase();
  let prefix: string;
  if (version === 'v1') prefix = secret;
  else if (version === 'v2') prefix = `${secret}${req.method.toUpperCase()}${req.url}`;
  else throw invalid(`unknown signature version ${version}`);
  const expected = createHash('sha256').update(Buffer.from(prefix, 'utf8')).update(req.rawBody).digest();
  const hex = signature.trim().toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) throw invalid('malformed X-HubSpot-Signature');
  if (!safeEqual(expected, Buffer.from(hex, 'hex'))) throw invalid(`X-HubSpot-Signature (${version}) does not match`);
}

export function verifyHubSpotRequest(req: WebhookRequest, secrets: HubSpotWebhookSecrets): void {
  const secret = secrets.clientSecret;
  if (!secret) throw invalid('no client secret configured: cannot verify');
  const v3 = header(req, 'x-hubspot-signature-v3');
  if (v3) return verifyV3(req, secret, v3);
  const legacy = header(req, 'x-hubspot-signature');
  if (legacy && secrets.allowLegacySignatures) return verifyLegacy(req, secret, legacy);
  if (legacy) throw invalid('only a v1/v2 signature present and legacy signatures are not allowed');
  throw invalid('no signature headers');
}

function validation(message: string): CrmError {
  return new CrmError('VALIDATION', `HubSpot webhook: ${message}`, { provider: 'HUBSPOT' });
}

function idString(v: unknown): string | null {
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v === 'string' && /^\d+$/.test(v)) return v;
  return null;
}

/**
 * Stable across redeliveries: attemptNumber is the only field HubSpot changes when it
 * retries, so it is left out. eventId alone is not unique (HubSpot says so), hence the
 * subscription, type, object, time and property.
 */
export function dedupeKeyFor(e: Record<string, unknown>): string {
  const parts = [
    e.portalId,
    e.appId ?? '',
    e.subscriptionId ?? '',
    e.eventId ?? '',
    e.subscriptionType,
    e.objectId,
    e.occurredAt,
    e.propertyName ?? '',
  ].map((p) => String(p));
  return `hubspot:${createHash('sha256').update(parts.join('\u001f')).digest('hex').slice(0, 40)}`;
}

export function parseHubSpotWebhook(req: WebhookRequest): ParsedWebhook {
  let body: unknown;
  try {
    body = JSON.parse(req.rawBody.toString('utf8'));
  } catch {
    throw validation('body is not JSON');
  }
  if (!Array.isArray(body)) throw validation('body is not an array of events');
  if (body.length > 1000) throw validation(`too many events (${body.length})`);
  const events: ChangeEvent[] = [];
  const accounts = new Set<string>();
  body.forEach((raw, i) => {
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw validation(`event ${i} is not an object`);
    const e = raw as Record<string, unknown>;
    const portal = idString(e.portalId);
    const objectId = idString(e.objectId);
    if (!portal || typeof e.subscriptionType !== 'string' || typeof e.occurredAt !== 'number' || e.eventId === undefined) {
      throw validation(`event ${i} lacks portalId, eventId, subscriptionType or occurredAt`);
    }
    accounts.add(portal);
    const kind = KIND[e.subscriptionType];
    if (!kind) return; // other objects or event types (e.g. associationChange): not ours to sync
    let externalId = objectId;
    let mergedIds: string[] | undefined;
    if (kind === 'merged') {
      const newId = idString(e.newObjectId) ?? idString(e.primaryObjectId) ?? objectId;
      const primary = idString(e.primaryObjectId);
      const merged = Array.isArray(e.mergedObjectIds) ? e.mergedObjectIds.map(idString).filter((x): x is string => x !== null) : [];
      externalId = newId;
      mergedIds = [...new Set([...(primary && primary !== newId ? [primary] : []), ...merged.filter((m) => m !== newId)])];
    }
    if (!externalId) throw validation(`event ${i} lacks objectId`);
    const ev: ChangeEvent = {
      dedupeKey: dedupeKeyFor(e),
      accountId: portal,
      kind,
      externalId,
      occurredAt: new Date(e.occurredAt),
      changeSource: typeof e.changeSource === 'string' ? e.changeSource : null,
    };
    if (kind === 'updated') ev.property = typeof e.propertyName === 'string' ? e.propertyName : null;
    if (mergedIds) ev.mergedIds = mergedIds;
    events.push(ev);
  });
  return { events, accountIds: [...accounts] };
}

export const hubspotCodec: WebhookCodec<HubSpotWebhookSecrets> = {
  provider: 'HUBSPOT',
  parse: parseHubSpotWebhook,
  verify: verifyHubSpotRequest,
  acknowledge: () => ({ status: 200, contentType: 'application/json', body: '{"received":true}' }),
};
