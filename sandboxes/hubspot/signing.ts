// How the HubSpot sandbox signs the webhooks it sends (HubSpot's documented algorithms).
// This is the sandbox's own implementation, independent of the adapter's verifier.
import { createHash, createHmac } from 'node:crypto';

/** The escapes HubSpot decodes in the URI before signing (v3), upper-case as documented. */
const V3_DECODED: Record<string, string> = {
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

export function decodeSignedUri(uri: string): string {
  return uri.replace(/%(3A|2F|3F|40|21|24|27|28|29|2A|2C|3B)/g, (m) => V3_DECODED[m] ?? m);
}

export function signV3(clientSecret: string, method: string, uri: string, body: string, timestampMs: number | string): string {
  return createHmac('sha256', clientSecret)
    .update(`${method}${decodeSignedUri(uri)}${body}${timestampMs}`, 'utf8')
    .digest('base64');
}

export function signV1(clientSecret: string, body: string): string {
  return createHash('sha256').update(`${clientSecret}${body}`, 'utf8').digest('hex');
}

export function signV2(clientSecret: string, method: string, uri: string, body: string): string {
  return createHash('sha256').update(`${clientSecret}${method}${uri}${body}`, 'utf8').digest('hex');
}

/** The headers HubSpot sends with a webhook POST to `uri`. */
export function webhookHeaders(opts: {
  clientSecret: string;
  uri: string;
  body: string;
  timestampMs: number;
  legacyVersion?: 'v1' | 'v2';
  method?: string;
}): Record<string, string> {
  const method = opts.method ?? 'POST';
  const legacy = opts.legacyVersion ?? 'v1';
  return {
    'content-type': 'application/json',
    'user-agent': 'HubSpot Connect 2.0 (http://dev.hubspot.com/) - WebhooksExecutorDaemon',
    'x-hubspot-signature':
      legacy === 'v1' ? signV1(opts.clientSecret, opts.body) : signV2(opts.clientSecret, method, opts.uri, opts.body),
    'x-hubspot-signature-version': legacy,
    'x-hubspot-signature-v3': signV3(opts.clientSecret, method, opts.uri, opts.body, opts.timestampMs),
    'x-hubspot-request-timestamp': String(opts.timestampMs),
  };
}
