// Encryption at rest of CRM credentials: AES-256-GCM (node:crypto), one envelope string
// per value, `enc:v1:<keyId>:<iv b64>:<tag b64>:<ciphertext b64>`. A Keyring holds the
// current key (new envelopes) and previous keys (reading envelopes written before a
// rotation). Values stored before encryption existed (plain JSON) still read, and are
// encrypted on their next write or by rotateCredentials.
import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { PrismaClient } from './generated/prisma/client.ts';
import type { Logger } from './logger.ts';

export const ENVELOPE_PREFIX = 'enc:v1:';
const ALGORITHM = 'aes-256-gcm';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
export const KEY_ID_PATTERN = /^[A-Za-z0-9_-]{1,40}$/;
/** Name of the generated development key file inside DATA_DIR. */
export const DEV_KEY_FILE = 'encryption.key';

export type SecretErrorCode = 'KEY_INVALID' | 'KEY_UNKNOWN' | 'DECRYPT_FAILED' | 'ENVELOPE_INVALID';

/** Typed failure of the keyring. Messages never carry key material or plaintext. */
export class SecretError extends Error {
  constructor(
    readonly code: SecretErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'SecretError';
  }
}

/** 32 bytes from base64 (or base64url) or hex text; throws SecretError otherwise. */
export function parseKeyMaterial(text: string): Buffer {
  const t = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(t)) return Buffer.from(t, 'hex');
  if (/^[A-Za-z0-9+/_-]{42,44}={0,2}$/.test(t)) {
    const b = Buffer.from(t.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (b.length === KEY_BYTES) return b;
  }
  throw new SecretError('KEY_INVALID', 'an encryption key must be 32 bytes, written as base64 or 64 hex digits');
}

/** A stable, non-secret id for a key: the first 12 hex digits of SHA-256 over a label and the key. */
export function deriveKeyId(key: Buffer): string {
  return `k${createHash('sha256').update('crm-sync key id\0').update(key).digest('hex').slice(0, 12)}`;
}

/** Parses `id:key,id:key`; throws SecretError naming the bad entry's position (never its value). */
export function parsePreviousKeys(text: string | undefined): { id: string; key: Buffer }[] {
  if (!text || !text.trim()) return [];
  return text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry, i) => {
      const at = entry.indexOf(':');
      const id = at > 0 ? entry.slice(0, at) : '';
      if (!KEY_ID_PATTERN.test(id)) throw new SecretError('KEY_INVALID', `entry ${i + 1} must be <id>:<key> with an id of letters, digits, - or _`);
      try {
        return { id, key: parseKeyMaterial(entry.slice(at + 1)) };
      } catch {
        throw new SecretError('KEY_INVALID', `entry ${i + 1} (${id}): the key must be 32 bytes, as base64 or 64 hex digits`);
      }
    });
}

export function isEnvelope(value: string): boolean {
  return value.startsWith(ENVELOPE_PREFIX);
}

/** The key id an envelope was written with, or null for a plaintext value. */
export function envelopeKeyId(value: string): string | null {
  if (!isEnvelope(value)) return null;
  const id = value.slice(ENVELOPE_PREFIX.length).split(':')[0];
  return id || null;
}

export class Keyring {
  private readonly keys = new Map<string, Buffer>();

  constructor(
    readonly currentKeyId: string,
    currentKey: Buffer,
    previous: { id: string; key: Buffer }[] = [],
  ) {
    if (currentKey.length !== KEY_BYTES) throw new SecretError('KEY_INVALID', 'the encryption key must be 32 bytes');
    if (!KEY_ID_PATTERN.test(currentKeyId)) throw new SecretError('KEY_INVALID', 'invalid key id');
    for (const p of previous) {
      if (p.key.length !== KEY_BYTES) throw new SecretError('KEY_INVALID', `previous key ${p.id} must be 32 bytes`);
      this.keys.set(p.id, Buffer.from(p.key));
    }
    this.keys.set(currentKeyId, Buffer.from(currentKey));
  }

  /** A keyring with one random key (tests, tools). */
  static random(id?: string): Keyring {
    const key = randomBytes(KEY_BYTES);
    return new Keyring(id ?? deriveKeyId(key), key);
  }

  keyIds(): string[] {
    return [...this.keys.keys()];
  }

  encrypt(plaintext: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(ALGORITHM, this.keys.get(this.currentKeyId)!, iv, { authTagLength: TAG_BYTES });
    // The key id is authenticated too: an envelope cannot be relabelled to another key.
    cipher.setAAD(Buffer.from(this.currentKeyId, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    return `${ENVELOPE_PREFIX}${this.currentKeyId}:${iv.toString('base64')}:${tag.toString('base64')}:${ciphertext.toString('base64')}`;
  }

  /** Opens an envelope; a value that is not one (written before encryption) is returned as is. */
  decrypt(value: string): string {
    if (!isEnvelope(value)) return value;
    const parts = value.slice(ENVELOPE_PREFIX.length).split(':');
    if (parts.length !== 4) throw new SecretError('ENVELOPE_INVALID', 'malformed encrypted value');
    const [keyId, ivB64, tagB64, dataB64] = parts;
    const key = this.keys.get(keyId);
    if (!key) throw new SecretError('KEY_UNKNOWN', `value encrypted with key "${keyId}", which is not configured (ENCRYPTION_KEY / ENCRYPTION_PREVIOUS_KEYS)`);
    const iv = Buffer.from(ivB64, 'base64');
    const tag = Buffer.from(tagB64, 'base64');
    if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) throw new SecretError('ENVELOPE_INVALID', 'malformed encrypted value');
    try {
      const decipher = createDecipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(keyId, 'utf8'));
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(Buffer.from(dataB64, 'base64')), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretError('DECRYPT_FAILED', `value encrypted with key "${keyId}" could not be decrypted (wrong key or altered data)`);
    }
  }

  /**
   * A MAC of `data` (HMAC-SHA256, base64url) under a key derived from the current key for
   * `purpose` only: values signed for one purpose never verify for another.
   */
  mac(purpose: string, data: string): string {
    const key = Buffer.from(hkdfSync('sha256', this.keys.get(this.currentKeyId)!, Buffer.alloc(0), `crm-sync mac ${purpose}`, 32));
    return createHmac('sha256', key).update(data, 'utf8').digest('base64url');
  }

  /** True when `mac` is the MAC of `data` for `purpose` (compared in constant time). */
  verifyMac(purpose: string, data: string, mac: string): boolean {
    const expected = Buffer.from(this.mac(purpose, data));
    const given = Buffer.from(mac);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  /** True when the value is plaintext or was written with another key than the current one. */
  needsRotation(value: string): boolean {
    return envelopeKeyId(value) !== this.currentKeyId;
  }
}

export interface KeyringConfig {
  ENCRYPTION_KEY?: string;
  ENCRYPTION_KEY_ID?: string;
  ENCRYPTION_PREVIOUS_KEYS?: string;
  DATA_DIR: string;
}

/**
 * The keyring of a configuration. Without ENCRYPTION_KEY a development key is read from
 * (or generated into) DATA_DIR/encryption.key, mode 0600, with a loud warning: a key
 * stored next to the data it protects protects nothing against a stolen disk.
 */
export function keyringFromConfig(config: KeyringConfig, logger?: Logger): Keyring {
  const previous = parsePreviousKeys(config.ENCRYPTION_PREVIOUS_KEYS);
  if (config.ENCRYPTION_KEY) {
    const key = parseKeyMaterial(config.ENCRYPTION_KEY);
    const id = config.ENCRYPTION_KEY_ID ?? deriveKeyId(key);
    return new Keyring(id, key, previous.filter((p) => p.id !== id));
  }
  const file = path.join(config.DATA_DIR, DEV_KEY_FILE);
  let key: Buffer;
  let generated = false;
  try {
    key = parseKeyMaterial(readFileSync(file, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      if (err instanceof SecretError) throw new SecretError('KEY_INVALID', `${file} does not hold a valid key: ${err.message}`);
      throw err;
    }
    key = randomBytes(KEY_BYTES);
    mkdirSync(config.DATA_DIR, { recursive: true });
    // wx: never overwrite a key another process wrote meanwhile.
    try {
      writeFileSync(file, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
      generated = true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      key = parseKeyMaterial(readFileSync(file, 'utf8'));
    }
  }
  try {
    chmodSync(file, 0o600);
  } catch {
    // Best effort (e.g. a read-only mount): the warning below still applies.
  }
  const id = config.ENCRYPTION_KEY_ID ?? deriveKeyId(key);
  logger?.warn(
    { keyFile: file, keyId: id, generated },
    '!!! ENCRYPTION_KEY is not set: CRM credentials are encrypted with a development key stored in DATA_DIR. Set ENCRYPTION_KEY (32 bytes, base64 or hex) in production !!!',
  );
  return new Keyring(id, key, previous.filter((p) => p.id !== id));
}

export interface RotationResult {
  /** Integrations looked at. */
  total: number;
  /** Re-encrypted with the current key (plaintext or an older key before). */
  rotated: number;
  /** Already encrypted with the current key. */
  unchanged: number;
  /** Could not be decrypted (key missing or data altered); left as they were. */
  failed: number;
  failedIds: string[];
}

/**
 * Re-encrypts every integration's secrets with the keyring's current key: its credentials
 * and its webhook secrets (`webhookSecrets`); a Zoho channel token older versions kept in
 * clear in `settings.webhookToken` is moved into the encrypted column. Each row is updated
 * only if it still holds the values read (a concurrent token refresh wins and is already
 * written with the current key). Safe to run again at any time.
 */
export async function rotateCredentials(prisma: PrismaClient, keyring: Keyring, opts: { batchSize?: number } = {}): Promise<RotationResult> {
  const batchSize = opts.batchSize ?? 200;
  const result: RotationResult = { total: 0, rotated: 0, unchanged: 0, failed: 0, failedIds: [] };
  let cursor: string | undefined;
  for (;;) {
    const rows = await prisma.integration.findMany({
      select: { id: true, credentials: true, webhookSecrets: true, settings: true },
      orderBy: { id: 'asc' },
      take: batchSize,
      ...(cursor ? { cursor: { id: cursor }, skip: 1 } : {}),
    });
    if (!rows.length) break;
    cursor = rows[rows.length - 1].id;
    for (const row of rows) {
      result.total++;
      const settings = row.settings && typeof row.settings === 'object' && !Array.isArray(row.settings) ? (row.settings as Record<string, unknown>) : {};
      const clearToken = typeof settings.webhookToken === 'string' ? settings.webhookToken : null;
      const credentialsDue = keyring.needsRotation(row.credentials);
      const hooksDue = (row.webhookSecrets !== null && keyring.needsRotation(row.webhookSecrets)) || clearToken !== null;
      if (!credentialsDue && !hooksDue) {
        result.unchanged++;
        continue;
      }
      let credentials: string | undefined;
      let webhookSecrets: string | undefined;
      try {
        if (credentialsDue) credentials = keyring.encrypt(keyring.decrypt(row.credentials));
        if (hooksDue) {
          const set = row.webhookSecrets ? (JSON.parse(keyring.decrypt(row.webhookSecrets)) as Record<string, unknown>) : {};
          if (clearToken !== null && !set.channelToken) set.channelToken = clearToken;
          webhookSecrets = keyring.encrypt(JSON.stringify(set));
        }
      } catch {
        result.failed++;
        result.failedIds.push(row.id);
        continue;
      }
      const { webhookToken: _clear, ...settingsWithoutSecrets } = settings;
      void _clear;
      const { count } = await prisma.integration.updateMany({
        where: { id: row.id, credentials: row.credentials, webhookSecrets: row.webhookSecrets },
        data: {
          ...(credentials ? { credentials } : {}),
          ...(webhookSecrets ? { webhookSecrets } : {}),
          ...(clearToken !== null ? { settings: settingsWithoutSecrets as object } : {}),
        },
      });
      if (count === 1) result.rotated++;
      else result.unchanged++; // rewritten meanwhile, with the current key
    }
    if (rows.length < batchSize) break;
  }
  return result;
}
