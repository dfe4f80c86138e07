// API keys: organizations own them; a key is `cs_<random>`, shown once, stored only as
// its SHA-256 hash plus a short prefix operators can recognise. Every API request
// (GraphQL over HTTP, SSE and WebSockets, and the REST shim) authenticates here.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { PrismaClient } from './generated/prisma/client.ts';
import type { Logger } from './logger.ts';

/**
 * What a key may do. `keys:admin` (list, create, revoke API keys) is separate from
 * `integrations:admin`: minting credentials is a bigger power than connecting a CRM, and
 * a key can never grant scopes it does not hold itself.
 */
export const SCOPES = ['leads:read', 'leads:write', 'integrations:admin', 'keys:admin'] as const;
export type Scope = (typeof SCOPES)[number];

export const KEY_PREFIX = 'cs_';
/** Characters of the key kept in clear (`cs_` plus 7): enough to recognise, never to use. */
const SHOWN_PREFIX_LENGTH = 10;
/** Presented credentials longer than this are rejected without hashing them. */
const MAX_PRESENTED_KEY_LENGTH = 256;
/** lastUsedAt is written at most this often per key (it is a hint, not an audit log). */
export const LAST_USED_WRITE_INTERVAL_MS = 60_000;

export const BOOTSTRAP_ORGANIZATION_NAME = 'Default organization';

/** Who is calling: resolved from a valid, unrevoked API key. */
export interface Principal {
  organizationId: string;
  apiKeyId: string;
  scopes: Scope[];
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export function generateApiKey(): { key: string; prefix: string; hash: string } {
  const key = `${KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
  return { key, prefix: key.slice(0, SHOWN_PREFIX_LENGTH), hash: hashApiKey(key) };
}

/** The key in an `Authorization: Bearer <key>` header; null when absent or malformed. */
export function parseBearer(header: string | null | undefined): string | null {
  if (!header) return null;
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  if (!match) return null;
  const key = match[1];
  return key.length > MAX_PRESENTED_KEY_LENGTH ? null : key;
}

export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value);
}

export interface Authenticator {
  /** The caller behind an Authorization header value, or null (missing, unknown or revoked key). */
  authenticate(authorizationHeader: string | null | undefined): Promise<Principal | null>;
}

export function createAuthenticator(prisma: PrismaClient, logger: Logger, now: () => number = Date.now): Authenticator {
  // apiKeyId -> when we last wrote lastUsedAt. Per process: with several instances a key's
  // lastUsedAt may be written once per instance per interval, which is still cheap.
  const lastWritten = new Map<string, number>();

  async function touch(apiKeyId: string): Promise<void> {
    const t = now();
    const previous = lastWritten.get(apiKeyId);
    if (previous !== undefined && t - previous < LAST_USED_WRITE_INTERVAL_MS) return;
    lastWritten.set(apiKeyId, t);
    try {
      await prisma.apiKey.update({ where: { id: apiKeyId }, data: { lastUsedAt: new Date(t) }, select: { id: true } });
    } catch (err) {
      // Losing a lastUsedAt hint must not fail the request; try again next time.
      lastWritten.delete(apiKeyId);
      logger.warn({ err, apiKeyId }, 'could not record API key use');
    }
  }

  return {
    async authenticate(authorizationHeader) {
      const key = parseBearer(authorizationHeader);
      if (!key) return null;
      const presented = hashApiKey(key);
      const row = await prisma.apiKey.findUnique({
        where: { hash: presented },
        select: { id: true, organizationId: true, hash: true, scopes: true, revokedAt: true },
      });
      if (!row) return null;
      // The lookup is by hash (an index, not a character-by-character compare of the
      // key); the hashes are compared again in constant time all the same.
      const stored = Buffer.from(row.hash, 'hex');
      const given = Buffer.from(presented, 'hex');
      if (stored.length !== given.length || !timingSafeEqual(stored, given)) return null;
      if (row.revokedAt) return null;
      await touch(row.id);
      return { organizationId: row.organizationId, apiKeyId: row.id, scopes: row.scopes.filter(isScope) };
    },
  };
}

export async function createOrganization(prisma: PrismaClient, name: string) {
  return prisma.organization.create({ data: { name } });
}

export interface CreatedApiKey {
  id: string;
  organizationId: string;
  name: string;
  prefix: string;
  scopes: Scope[];
  /** The plaintext key. It is not stored: this is the only time it can be read. */
  key: string;
}

export async function createApiKey(
  prisma: PrismaClient,
  organizationId: string,
  name: string,
  scopes: readonly Scope[] = SCOPES,
): Promise<CreatedApiKey> {
  const unknown = scopes.filter((s) => !isScope(s));
  if (unknown.length) throw new Error(`Unknown API key scopes: ${unknown.join(', ')}`);
  const { key, prefix, hash } = generateApiKey();
  const row = await prisma.apiKey.create({
    data: { organizationId, name, prefix, hash, scopes: [...new Set(scopes)] },
    select: { id: true, organizationId: true, name: true, prefix: true },
  });
  return { ...row, scopes: [...new Set(scopes)], key };
}

/** Revokes a key of an organization; false when the organization has no such key. */
export async function revokeApiKey(prisma: PrismaClient, organizationId: string, apiKeyId: string): Promise<boolean> {
  const { count } = await prisma.apiKey.updateMany({
    where: { id: apiKeyId, organizationId, revokedAt: null },
    data: { revokedAt: new Date() },
  });
  return count === 1;
}

export type BootstrapOutcome =
  | { created: true; organizationId: string; apiKeyId: string }
  | { created: false; reason: 'no-key' | 'not-empty' };

/**
 * With BOOTSTRAP_API_KEY set and no organization in the database, creates the first
 * organization owning that key with every scope. Does nothing on a database that
 * already has an organization (the key is then not added anywhere).
 */
export async function ensureBootstrap(
  prisma: PrismaClient,
  bootstrapKey: string | undefined,
  logger?: Logger,
): Promise<BootstrapOutcome> {
  if (!bootstrapKey) return { created: false, reason: 'no-key' };
  if ((await prisma.organization.count()) > 0) {
    const known = await prisma.apiKey.count({ where: { hash: hashApiKey(bootstrapKey) } });
    if (!known) logger?.warn('BOOTSTRAP_API_KEY is set but the database already has organizations: the key was not added');
    return { created: false, reason: 'not-empty' };
  }
  try {
    const created = await prisma.$transaction(async (tx) => {
      // Re-checked inside the transaction; a concurrent bootstrap of the same key fails on
      // the unique hash and rolls back its organization.
      if ((await tx.organization.count()) > 0) return null;
      const org = await tx.organization.create({ data: { name: BOOTSTRAP_ORGANIZATION_NAME } });
      const key = await tx.apiKey.create({
        data: {
          organizationId: org.id,
          name: 'bootstrap',
          // An operator-chosen key may be short: show only its first four characters.
          prefix: bootstrapKey.slice(0, 4),
          hash: hashApiKey(bootstrapKey),
          scopes: [...SCOPES],
        },
        select: { id: true },
      });
      return { organizationId: org.id, apiKeyId: key.id };
    });
    if (!created) return { created: false, reason: 'not-empty' };
    logger?.info({ organizationId: created.organizationId, apiKeyId: created.apiKeyId }, 'bootstrap organization created');
    return { created: true, ...created };
  } catch (err) {
    if ((err as { code?: unknown }).code === 'P2002') return { created: false, reason: 'not-empty' };
    throw err;
  }
}
