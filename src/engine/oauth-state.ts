// The `state` of an OAuth connection: what connectCrm hands the CRM's consent screen and
// the callback must bring back. It names a row (OAuthState) holding what the callback
// needs (organization, API key, connect options, the PKCE verifier, encrypted), and is
// signed with the keyring, so it cannot be forged or moved to another organization. It
// is used once (the callback takes it in one conditional update) and expires.
//
// Form: `v1.<random id>.<organization id>.<expiry, epoch seconds>.<MAC of the rest>`.
import { createHash, randomBytes } from 'node:crypto';
import type { CrmProvider } from '../../adapters/contract.ts';
import type { OAuthState, Prisma, PrismaClient } from '../generated/prisma/client.ts';
import type { Keyring } from '../secrets.ts';

const MAC_PURPOSE = 'oauth-state';
/** States are deleted a day after they expire (each new state sweeps the old ones). */
const KEEP_EXPIRED_MS = 24 * 3_600_000;

/** Why a state is refused; each has its own page. */
export type StateProblem = 'missing' | 'malformed' | 'forged' | 'expired' | 'replayed' | 'other_organization' | 'wrong_provider';

export class OAuthStateError extends Error {
  constructor(readonly problem: StateProblem) {
    super(`OAuth state refused: ${problem}`);
    this.name = 'OAuthStateError';
  }
}

export interface NewState {
  organizationId: string;
  apiKeyId: string | null;
  provider: CrmProvider;
  name: string;
  options: Record<string, unknown>;
  /** PKCE: the verifier kept here (encrypted); the CRM only ever sees its S256 challenge. */
  codeVerifier: string | null;
}

/** A PKCE verifier (RFC 7636: 43 characters of the unreserved set) and its S256 challenge. */
export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier, 'ascii').digest('base64url') };
}

/** A state taken by its callback: what connectCrm stored, the verifier decrypted. */
export type TakenState = Omit<OAuthState, 'options' | 'codeVerifier'> & { codeVerifier: string | null; options: Record<string, unknown> };

/** Stores a new state and answers its signed value and expiry. */
export async function issueState(prisma: PrismaClient, keyring: Keyring, s: NewState, ttlMs: number, now = new Date()): Promise<{ state: string; expiresAt: Date }> {
  const id = randomBytes(24).toString('base64url');
  // Whole seconds, so the signed expiry and the stored one are the same instant.
  const expiresAt = new Date(Math.floor((now.getTime() + ttlMs) / 1000) * 1000);
  await prisma.oAuthState.deleteMany({ where: { expiresAt: { lt: new Date(now.getTime() - KEEP_EXPIRED_MS) } } });
  await prisma.oAuthState.create({
    data: {
      id,
      organizationId: s.organizationId,
      apiKeyId: s.apiKeyId,
      provider: s.provider,
      name: s.name,
      options: s.options as Prisma.InputJsonValue,
      codeVerifier: s.codeVerifier === null ? null : keyring.encrypt(s.codeVerifier),
      expiresAt,
    },
  });
  const body = `v1.${id}.${s.organizationId}.${expiresAt.getTime() / 1000}`;
  return { state: `${body}.${keyring.mac(MAC_PURPOSE, body)}`, expiresAt };
}

/**
 * Takes a state brought back by a callback for `provider`: checks its signature and expiry,
 * then uses it up (a second use is `replayed`), and answers its row with the verifier
 * decrypted. Throws OAuthStateError. A state refused after it was taken stays used: a
 * state that was misused once is never good again.
 */
export async function takeState(
  prisma: PrismaClient,
  keyring: Keyring,
  value: string | undefined,
  provider: CrmProvider,
  now = new Date(),
): Promise<TakenState> {
  if (!value) throw new OAuthStateError('missing');
  const parts = value.split('.');
  if (parts.length !== 5 || parts[0] !== 'v1' || !/^\d{1,12}$/.test(parts[3])) throw new OAuthStateError('malformed');
  const [, id, organizationId, expiry, mac] = parts;
  if (!keyring.verifyMac(MAC_PURPOSE, parts.slice(0, 4).join('.'), mac)) throw new OAuthStateError('forged');
  if (Number(expiry) * 1000 <= now.getTime()) throw new OAuthStateError('expired');
  const taken = await prisma.oAuthState.updateMany({ where: { id, usedAt: null }, data: { usedAt: now } });
  const row = await prisma.oAuthState.findUnique({ where: { id } });
  // Signed by us but unknown here: deleted long after its expiry, or never stored.
  if (!row) throw new OAuthStateError('forged');
  if (taken.count === 0) throw new OAuthStateError('replayed');
  if (row.organizationId !== organizationId) throw new OAuthStateError('other_organization');
  if (row.expiresAt.getTime() <= now.getTime()) throw new OAuthStateError('expired');
  if (row.provider !== provider) throw new OAuthStateError('wrong_provider');
  const options = row.options && typeof row.options === 'object' && !Array.isArray(row.options) ? (row.options as Record<string, unknown>) : {};
  return { ...row, options, codeVerifier: row.codeVerifier === null ? null : keyring.decrypt(row.codeVerifier) };
}
