// The service's logger (pino, JSON lines). Secrets never reach a log line: fields whose
// name can carry one are replaced wherever they sit in the logged object (at any depth,
// inside errors and their causes too), and strings — messages, error messages, stacks,
// response bodies — are scrubbed of bearer tokens, OAuth form fields, API keys and
// Salesforce session ids.
import { pino, stdSerializers, type Logger } from 'pino';
import { requestIdMixin } from './log-context.ts';

export { outsideRequest } from './log-context.ts';

export type { Logger };

export const REDACTED = '[redacted]';

/**
 * Field names (compared lower-cased, without `-` and `_`) whose values are secrets:
 * CRM tokens and app secrets, credentials objects, API keys, HTTP auth headers.
 */
const SECRET_FIELD_NAMES = new Set([
  'accesstoken',
  'refreshtoken',
  'clientsecret',
  'developerapikey',
  'hapikey',
  'credentials',
  'authorization',
  'proxyauthorization',
  'cookie',
  'setcookie',
  'token',
  'idtoken',
  'sessionid',
  'apikey',
  'xapikey',
  'key',
  'password',
  'secret',
  'webhooktoken',
  'channeltoken',
  'webhooksecrets',
  'endpointsecret',
  'endpointsecrets',
  'webhookurl',
  'encryptionkey',
  'encryptionpreviouskeys',
  'bootstrapapikey',
  'signingsecret',
]);

export function isSecretFieldName(name: string): boolean {
  return SECRET_FIELD_NAMES.has(name.toLowerCase().replace(/[-_]/g, ''));
}

/** Paths pino itself redacts too (fast path, and documentation of the obvious ones). */
export const REDACT_PATHS = [
  'accessToken',
  'refreshToken',
  'clientSecret',
  'developerApiKey',
  'credentials',
  'token',
  'authorization',
  'apiKey',
  'key',
  '*.accessToken',
  '*.refreshToken',
  '*.clientSecret',
  '*.developerApiKey',
  '*.credentials',
  '*.token',
  '*.authorization',
  '*.apiKey',
  '*.key',
  'headers.authorization',
  'req.headers.authorization',
  'err.config.headers.Authorization',
  'err.headers.authorization',
];

const STRING_PATTERNS: [RegExp, string][] = [
  // Authorization header values: Bearer, Zoho-oauthtoken, OAuth, Basic.
  [/\b(Bearer|Zoho-oauthtoken|OAuth|Basic)(\s+)[A-Za-z0-9._~+/=!:-]{12,}/gi, `$1$2${REDACTED}`],
  // Form and query fields: access_token=…, refresh_token=…, client_secret=…, hapikey=…, code=…
  [
    /\b(access_token|refresh_token|client_secret|hapikey|developerApiKey|api_key|apikey|token|password|sessionId)=([^&\s"'<>;,]+)/gi,
    `$1=${REDACTED}`,
  ],
  // JSON bodies: "access_token":"…", "refreshToken": "…"
  [
    /"(access_token|refresh_token|client_secret|accessToken|refreshToken|clientSecret|developerApiKey|hapikey|token|apiKey|api_key|password|sessionId)"(\s*:\s*)"[^"]*"/gi,
    `"$1"$2"${REDACTED}"`,
  ],
  // Salesforce Outbound Message session ids: <sf:SessionId>…</sf:SessionId>
  [/<((?:\w+:)?SessionId)>[^<]*<\//gi, `<$1>${REDACTED}</`],
  // Salesforce session ids / access tokens (00D…!…).
  [/\b00D[A-Za-z0-9]{12,15}![A-Za-z0-9._-]{10,}/g, REDACTED],
  // crm-sync API keys.
  [/\bcs_[A-Za-z0-9_-]{16,}/g, `cs_${REDACTED}`],
];

/** A string with anything shaped like a credential replaced. */
export function scrubString(value: string): string {
  let out = value;
  for (const [pattern, replacement] of STRING_PATTERNS) out = out.replace(pattern, replacement);
  return out;
}

const MAX_DEPTH = 10;

function scrub(value: unknown, depth: number, seen: WeakSet<object>): unknown {
  if (typeof value === 'string') return scrubString(value);
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return '[Circular]';
  if (depth > MAX_DEPTH) return '[depth limit]';
  seen.add(value);
  if (value instanceof Error) {
    // pino's serializer (type, message, stack, cause chain and own properties such as an
    // HTTP client's request config), then scrubbed like any object.
    return scrub(stdSerializers.err(value), depth, seen);
  }
  if (Buffer.isBuffer(value) || ArrayBuffer.isView(value)) return `[${value.byteLength} bytes]`;
  if (value instanceof Date) return value;
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1, seen));
  if (value instanceof Map) return scrub(Object.fromEntries(value), depth, seen);
  if (value instanceof Headers) return scrub(Object.fromEntries(value.entries()), depth, seen);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = isSecretFieldName(k) && v !== undefined && v !== null ? REDACTED : scrub(v, depth + 1, seen);
  }
  return out;
}

/** A log object with every secret replaced (what the logger writes). */
export function scrubLogObject(obj: Record<string, unknown>): Record<string, unknown> {
  return scrub(obj, 0, new WeakSet()) as Record<string, unknown>;
}

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { service: 'crm-sync' },
      // Lines written while serving a request carry its id (src/log-context.ts).
      mixin: requestIdMixin,
      redact: { paths: REDACT_PATHS, censor: REDACTED },
      formatters: { log: (obj) => scrubLogObject(obj) },
      // The message string too (pino looks up a serializer under the message key).
      // `err` is already serialised (and scrubbed) by formatters.log: keep it as it is.
      serializers: { msg: (m: unknown) => (typeof m === 'string' ? scrubString(m) : m), err: (e: unknown) => e },
    },
    destination as never,
  );
}
