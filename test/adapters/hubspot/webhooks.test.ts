// The HubSpot webhook codec. v3 signatures here are computed in the test itself, with
// node:crypto, straight from the documented algorithm (not with the adapter's or the
// sandbox's helpers).
import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CrmError, type WebhookRequest } from '../../../adapters/contract.ts';
import { hubspotAdapter } from '../../../adapters/hubspot/index.ts';

const codec = hubspotAdapter.codec;
const SECRET = 'a1b2c3d4-client-secret';
const NOW = new Date('2025-06-01T12:00:00.000Z');

function event(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    eventId: 100,
    subscriptionId: 3000001,
    portalId: 62515,
    appId: 54321,
    occurredAt: NOW.getTime() - 1000,
    subscriptionType: 'contact.creation',
    attemptNumber: 0,
    objectId: 1246965,
    changeSource: 'CRM_UI',
    changeFlag: 'NEW',
    ...over,
  };
}

/** v3 by hand: HMAC-SHA256(secret, method + decoded URI + body + timestamp), base64. */
function v3(method: string, signedUri: string, body: string, ts: string, secret = SECRET): string {
  return createHmac('sha256', secret).update(method + signedUri + body + ts).digest('base64');
}

function request(body: string, url: string, headers: Record<string, string>, now = NOW): WebhookRequest {
  return { method: 'POST', url, headers, rawBody: Buffer.from(body, 'utf8'), now };
}

function signedV3(events: unknown[], url = 'https://sync.example.com/api/v1/webhooks/hubspot', tsMs = NOW.getTime()) {
  const body = JSON.stringify(events);
  const ts = String(tsMs);
  return request(body, url, { 'X-HubSpot-Signature-v3': v3('POST', url, body, ts), 'X-HubSpot-Request-Timestamp': ts });
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof CrmError) return e.code;
    throw e;
  }
  return 'NO_ERROR';
}

describe('HubSpot webhook signatures', () => {
  it('verifies the published v1 vector when legacy signatures are allowed', () => {
    const body =
      '[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM","changeFlag":"NEW","appId":54321}]';
    const req = request(body, 'https://sync.example.com/api/v1/webhooks/hubspot', {
      'X-HubSpot-Signature': '232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de',
      'X-HubSpot-Signature-Version': 'v1',
    });
    const secrets = { clientSecret: 'yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy', allowLegacySignatures: true };
    expect(codeOf(() => codec.verify(req, secrets))).toBe('NO_ERROR');
    // ... and refuses the same request when legacy signatures are not allowed.
    expect(codeOf(() => codec.verify(req, { clientSecret: secrets.clientSecret }))).toBe('SIGNATURE_INVALID');
    // ... and a body changed by one character.
    const tampered = { ...req, rawBody: Buffer.from(body.replace('"objectId":123', '"objectId":124')) };
    expect(codeOf(() => codec.verify(tampered, secrets))).toBe('SIGNATURE_INVALID');
  });

  it('verifies a v2 signature (method + URI + body) only when legacy is allowed', () => {
    const url = 'https://sync.example.com/api/v1/webhooks/hubspot?x=1';
    const body = JSON.stringify([event()]);
    const sig = createHash('sha256').update(SECRET + 'POST' + url + body).digest('hex');
    const req = request(body, url, { 'x-hubspot-signature': sig, 'x-hubspot-signature-version': 'v2' });
    expect(codeOf(() => codec.verify(req, { clientSecret: SECRET, allowLegacySignatures: true }))).toBe('NO_ERROR');
    expect(codeOf(() => codec.verify(req, { clientSecret: SECRET }))).toBe('SIGNATURE_INVALID');
  });

  it('verifies a valid v3 signature', () => {
    expect(codeOf(() => codec.verify(signedV3([event()]), { clientSecret: SECRET }))).toBe('NO_ERROR');
  });

  it('signs the URI with the listed escapes decoded, others kept', () => {
    const url = 'https://sync.example.com/api/v1/webhooks/hubspot?tenant=acme%3Aeu&next=%2Fhome%3Fa%3D1&who=me%40x.io&sp=a%20b&list=%28a%2Cb%29%3B%21%24%27%2A';
    const signedUri = 'https://sync.example.com/api/v1/webhooks/hubspot?tenant=acme:eu&next=/home?a%3D1&who=me@x.io&sp=a%20b&list=(a,b);!$\'*';
    const body = JSON.stringify([event()]);
    const ts = String(NOW.getTime());
    const good = request(body, url, { 'X-HubSpot-Signature-v3': v3('POST', signedUri, body, ts), 'X-HubSpot-Request-Timestamp': ts });
    expect(codeOf(() => codec.verify(good, { clientSecret: SECRET }))).toBe('NO_ERROR');
    // Signing the still-encoded URI is not what HubSpot does: it must not verify.
    const raw = request(body, url, { 'X-HubSpot-Signature-v3': v3('POST', url, body, ts), 'X-HubSpot-Request-Timestamp': ts });
    expect(codeOf(() => codec.verify(raw, { clientSecret: SECRET }))).toBe('SIGNATURE_INVALID');
    // Nor does decoding what is not listed (%20, %3D).
    const overDecoded = signedUri.replace('%20', ' ').replace('%3D', '=');
    const over = request(body, url, { 'X-HubSpot-Signature-v3': v3('POST', overDecoded, body, ts), 'X-HubSpot-Request-Timestamp': ts });
    expect(codeOf(() => codec.verify(over, { clientSecret: SECRET }))).toBe('SIGNATURE_INVALID');
  });

  it('rejects a forged body, a wrong secret, another URL or method', () => {
    const good = signedV3([event()]);
    expect(codeOf(() => codec.verify({ ...good, rawBody: Buffer.from(JSON.stringify([event({ objectId: 9 })])) }, { clientSecret: SECRET }))).toBe(
      'SIGNATURE_INVALID',
    );
    expect(codeOf(() => codec.verify(good, { clientSecret: 'another-secret' }))).toBe('SIGNATURE_INVALID');
    expect(codeOf(() => codec.verify({ ...good, url: 'https://evil.example.com/api/v1/webhooks/hubspot' }, { clientSecret: SECRET }))).toBe(
      'SIGNATURE_INVALID',
    );
    expect(codeOf(() => codec.verify({ ...good, method: 'PUT' }, { clientSecret: SECRET }))).toBe('SIGNATURE_INVALID');
    expect(codeOf(() => codec.verify({ ...good, headers: { ...good.headers, 'X-HubSpot-Signature-v3': 'AAAA' } }, { clientSecret: SECRET }))).toBe(
      'SIGNATURE_INVALID',
    );
  });

  it('rejects stale (replayed) and future timestamps, accepting a small clock skew', () => {
    const minute = 60_000;
    const stale = signedV3([event()], undefined, NOW.getTime() - 5 * minute - 1);
    expect(codeOf(() => codec.verify(stale, { clientSecret: SECRET }))).toBe('SIGNATURE_INVALID');
    const old = signedV3([event()], undefined, NOW.getTime() - 4 * minute);
    expect(codeOf(() => codec.verify(old, { clientSecret: SECRET }))).toBe('NO_ERROR');
    const future = signedV3([event()], undefined, NOW.getTime() + 10 * minute);
    expect(codeOf(() => codec.verify(future, { clientSecret: SECRET }))).toBe('SIGNATURE_INVALID');
    const skewed = signedV3([event()], undefined, NOW.getTime() + 5_000);
    expect(codeOf(() => codec.verify(skewed, { clientSecret: SECRET }))).toBe('NO_ERROR');
    // A timestamp in seconds (not ms) is 50 years stale.
    const seconds = signedV3([event()], undefined, Math.floor(NOW.getTime() / 1000));
    expect(codeOf(() => codec.verify(seconds, { clientSecret: SECRET }))).toBe('SIGNATURE_INVALID');
  });

  it('rejects missing headers and a missing secret', () => {
    const good = signedV3([event()]);
    expect(codeOf(() => codec.verify({ ...good, headers: {} }, { clientSecret: SECRET }))).toBe('SIGNATURE_INVALID');
    expect(codeOf(() => codec.verify({ ...good, headers: { 'X-HubSpot-Signature-v3': good.headers['X-HubSpot-Signature-v3'] } }, { clientSecret: SECRET }))).toBe(
      'SIGNATURE_INVALID',
    );
    expect(codeOf(() => codec.verify(good, { clientSecret: null }))).toBe('SIGNATURE_INVALID');
  });

  it('does not fall back to a v1 signature when a v3 one is present but wrong', () => {
    const body = JSON.stringify([event()]);
    const ts = String(NOW.getTime() - 10 * 60_000); // stale v3 ...
    const req = request(body, 'https://sync.example.com/h', {
      'X-HubSpot-Signature-v3': v3('POST', 'https://sync.example.com/h', body, ts),
      'X-HubSpot-Request-Timestamp': ts,
      'X-HubSpot-Signature': createHash('sha256').update(SECRET + body).digest('hex'), // ... with a valid v1
      'X-HubSpot-Signature-Version': 'v1',
    });
    expect(codeOf(() => codec.verify(req, { clientSecret: SECRET, allowLegacySignatures: true }))).toBe('SIGNATURE_INVALID');
  });
});

describe('HubSpot webhook parsing', () => {
  it('parses every contact event kind', () => {
    const parsed = codec.parse(
      signedV3([
        event({ subscriptionType: 'contact.creation', objectId: 1 }),
        event({ subscriptionType: 'contact.propertyChange', objectId: 2, propertyName: 'phone', propertyValue: '+1 555' }),
        event({ subscriptionType: 'contact.deletion', objectId: 3 }),
        event({ subscriptionType: 'contact.privacyDeletion', objectId: 4 }),
        event({ subscriptionType: 'contact.merge', objectId: 5, primaryObjectId: 5, mergedObjectIds: [6, 7], newObjectId: 5, numberOfPropertiesMoved: 3 }),
        event({ subscriptionType: 'contact.restore', objectId: 8 }),
        event({ subscriptionType: 'contact.associationChange', objectId: 9 }),
        event({ subscriptionType: 'company.creation', objectId: 10 }),
      ]),
    );
    expect(parsed.accountIds).toEqual(['62515']);
    expect(parsed.events.map((e) => [e.kind, e.externalId])).toEqual([
      ['created', '1'],
      ['updated', '2'],
      ['deleted', '3'],
      ['deleted', '4'],
      ['merged', '5'],
      ['restored', '8'],
    ]);
    const change = parsed.events[1]!;
    expect(change.property).toBe('phone');
    expect(change.accountId).toBe('62515');
    expect(change.changeSource).toBe('CRM_UI');
    expect(change.occurredAt.getTime()).toBe(NOW.getTime() - 1000);
    expect(parsed.events[4]!.mergedIds).toEqual(['6', '7']);
  });

  it('names the new record of a merge and every id merged away', () => {
    const parsed = codec.parse(
      signedV3([event({ subscriptionType: 'contact.merge', objectId: 5, primaryObjectId: 5, mergedObjectIds: [6], newObjectId: 11 })]),
    );
    expect(parsed.events[0]!.externalId).toBe('11');
    expect(parsed.events[0]!.mergedIds!.sort()).toEqual(['5', '6']);
  });

  it('gives a redelivery the same dedupe key and distinct events distinct keys', () => {
    const first = codec.parse(signedV3([event({ attemptNumber: 0 })])).events[0]!;
    const retry = codec.parse(signedV3([event({ attemptNumber: 3 })])).events[0]!;
    expect(retry.dedupeKey).toBe(first.dedupeKey);
    // eventId is not unique: same eventId from another subscription or object is another event.
    const otherSub = codec.parse(signedV3([event({ subscriptionId: 3000002 })])).events[0]!;
    const otherObject = codec.parse(signedV3([event({ objectId: 42 })])).events[0]!;
    const otherProperty = codec
      .parse(
        signedV3([
          event({ subscriptionType: 'contact.propertyChange', propertyName: 'firstname', propertyValue: 'A' }),
          event({ subscriptionType: 'contact.propertyChange', propertyName: 'lastname', propertyValue: 'A' }),
        ]),
      )
      .events.map((e) => e.dedupeKey);
    const keys = [first.dedupeKey, otherSub.dedupeKey, otherObject.dedupeKey, ...otherProperty];
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('refuses bodies that are not an array of events with VALIDATION', () => {
    const base = signedV3([event()]);
    for (const body of ['{"eventId":1}', 'not json', '[1,2]', '[{"objectId":1}]', '']) {
      expect(codeOf(() => codec.parse({ ...base, rawBody: Buffer.from(body) }))).toBe('VALIDATION');
    }
    expect(codec.parse({ ...base, rawBody: Buffer.from('[]') }).events).toEqual([]);
  });

  it('acknowledges with a 2xx JSON answer', () => {
    const ack = codec.acknowledge();
    expect(ack.status).toBe(200);
    expect(ack.contentType).toBe('application/json');
    expect(() => JSON.parse(ack.body)).not.toThrow();
  });
});
