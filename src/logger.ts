import { pino, type Logger } from 'pino';

export type { Logger };

/** Paths that may hold secrets anywhere in a log object; pino replaces them. */
export const REDACT_PATHS = [
  'accessToken',
  'refreshToken',
  'clientSecret',
  'credentials',
  'token',
  'authorization',
  'apiKey',
  '*.accessToken',
  '*.refreshToken',
  '*.clientSecret',
  '*.credentials',
  '*.token',
  '*.authorization',
  '*.apiKey',
  'headers.authorization',
  'req.headers.authorization',
];

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    { level, base: { service: 'crm-sync' }, redact: { paths: REDACT_PATHS, censor: '[redacted]' } },
    destination as never,
  );
}
