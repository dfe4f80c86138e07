// Webhook secrets at rest and over time: Zoho channel tokens encrypted (never in settings),
// rows an older version wrote with the token in clear still verify and are migrated on
// their next write or by rotate-key, the migration copies channel ids into their column,
// token rotation, and channel expiries that survive clock skew.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS_DIR } from '../../src/db/migrate.ts';
import { envelopeKeyId, Keyring, parseKeyMaterial, rotateCredentials } from '../../src/secrets.ts';
import type { ZohoSandbox } from '../../sandboxes/zoho/index.ts';
import { connectZoho, startStack, startZohoFor, type Connected, type Stack } from '../helpers/stack.ts';

const WEEK = 7 * 24 * 3_600_000;

describe('Zoho channel tokens at rest', () => {
  let stack: Stack;
  let zs: ZohoSandbox;
  let conn: Connected;
  const row = () => stack.db.prisma.integration.findUniqueOrThrow({ where: { id: conn.integrationId } });
  const channel = () => zs.controls.channels().find((c) => c.live)!;
  /** A genuine notification of the live channel, as Zoho renders it. */
  async function notify(): Promise<number> {
    const id = zs.controls.createLeadAsUser({ Email: `n${Date.now()}${Math.random()}@example.com`, Last_Name: 'N' });
    const { rawBody } = zs.controls.renderNotification(channel().channel_id, 'insert', [id]);
    const res = await fetch(`${stack.url}/api/v1/webhooks/zoho`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: rawBody });
    return res.status;
  }
  /** The row as an older version wrote it: the channel token in clear in settings. */
  async function makeLegacy(token: string) {
    const r = await row();
    await stack.db.prisma.integration.update({
      where: { id: r.id },
      data: { webhookSecrets: null, settings: { ...(r.settings as object), webhookToken: token } },
    });
  }

  beforeAll(async () => {
    stack = await startStack();
    zs = await startZohoFor(stack);
    zs.controls.holdNotifications();
    conn = await connectZoho(stack, zs);
  });
  afterAll(async () => {
    await zs?.close();
    await stack?.stop();
  });

  it('keeps the token only encrypted: never in settings, never in clear anywhere in the row', async () => {
    const r = await row();
    const token = channel().token!;
    expect(token.length).toBeGreaterThanOrEqual(22);
    expect(r.webhookSecrets).toMatch(/^enc:v1:/);
    expect(r.settings).not.toHaveProperty('webhookToken');
    expect(JSON.stringify(r)).not.toContain(token);
    expect(r.channelId).toBe(channel().channel_id);
    expect(await notify()).toBe(200);
  });

  it('still verifies a row written with the token in clear, and moves the token into the encrypted column on its next renewal', async () => {
    const token = channel().token!;
    await makeLegacy(token);
    expect(await notify()).toBe(200);
    await stack.db.prisma.integration.update({ where: { id: conn.integrationId }, data: { webhookExpiresAt: new Date(Date.now() + 3_600_000) } });
    expect(await stack.engine.renewWebhooksNow()).toBe(1);
    const r = await row();
    expect(r.settings).not.toHaveProperty('webhookToken');
    expect(r.webhookSecrets).toMatch(/^enc:v1:/);
    expect(JSON.stringify(r)).not.toContain(token);
    // The channel kept its token: Zoho's notifications still verify.
    expect(channel().token).toBe(token);
    expect(await notify()).toBe(200);
  });

  it('crm-sync rotate-key moves clear tokens into the encrypted column and re-encrypts webhook secrets with the new key', async () => {
    const token = channel().token!;
    await makeLegacy(token);
    const oldKey = parseKeyMaterial(stack.config.ENCRYPTION_KEY!);
    const first = await rotateCredentials(stack.db.prisma, stack.keyring);
    expect(first.failed).toBe(0);
    expect(first.rotated).toBeGreaterThanOrEqual(1);
    let r = await row();
    expect(r.settings).not.toHaveProperty('webhookToken');
    expect(JSON.stringify(r)).not.toContain(token);
    expect(await notify()).toBe(200);

    const next = new Keyring('k-next', Buffer.alloc(32, 7), [{ id: stack.keyring.currentKeyId, key: oldKey }]);
    const second = await rotateCredentials(stack.db.prisma, next);
    expect(second).toMatchObject({ failed: 0, rotated: 1 });
    r = await row();
    expect(envelopeKeyId(r.webhookSecrets!)).toBe('k-next');
    expect(envelopeKeyId(r.credentials)).toBe('k-next');
    expect(JSON.parse(next.decrypt(r.webhookSecrets!))).toMatchObject({ channelToken: token });
    // And back to the service's key, for the tests below.
    const back = new Keyring(stack.keyring.currentKeyId, oldKey, [{ id: 'k-next', key: Buffer.alloc(32, 7) }]);
    expect(await rotateCredentials(stack.db.prisma, back)).toMatchObject({ failed: 0, rotated: 1 });
  });

  it('rotateWebhookEndpoint gives the channel a new token at Zoho at once; the old one is refused', async () => {
    const oldToken = channel().token!;
    const oldId = channel().channel_id;
    const r = await stack.gqlOk(`mutation($id: ID!) { rotateWebhookEndpoint(integrationId: $id) { webhookUrl previousValidUntil } }`, { id: conn.integrationId });
    expect(r.rotateWebhookEndpoint).toEqual({ webhookUrl: `${stack.config.PUBLIC_BASE_URL}/api/v1/webhooks/zoho`, previousValidUntil: null });
    expect(channel().token).not.toBe(oldToken);
    // The same channel (notifications are routed by its id): only its token changed.
    expect(channel().channel_id).toBe(oldId);
    expect((await row()).channelId).toBe(oldId);
    expect(await notify()).toBe(200);
    const forged = JSON.parse(zs.controls.renderNotification(channel().channel_id, 'insert', ['1']).rawBody) as Record<string, unknown>;
    const res = await fetch(`${stack.url}/api/v1/webhooks/zoho`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...forged, token: oldToken }) });
    expect(res.status).toBe(401);
  });
});

describe('Zoho channel expiry', () => {
  let stack: Stack;
  let zs: ZohoSandbox;

  beforeAll(async () => {
    stack = await startStack();
    zs = await startZohoFor(stack);
  });
  afterAll(async () => {
    await zs?.close();
    await stack?.stop();
  });

  it('the sandbox follows Zoho: a channel_expiry more than a week ahead falls back to one hour', async () => {
    const { accessToken } = zs.controls.issueAccessToken();
    const ask = new Date(zs.controls.now().getTime() + WEEK + 60_000).toISOString().replace(/\.\d{3}Z$/, '+00:00');
    const res = await fetch(`${zs.url}/crm/v7/actions/watch`, {
      method: 'POST',
      headers: { authorization: `Zoho-oauthtoken ${accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ watch: [{ channel_id: '100000000000000001', events: ['Leads.create'], notify_url: `${stack.url}/api/v1/webhooks/zoho`, token: 'x', channel_expiry: ask }] }),
    });
    expect(res.status).toBe(200);
    const ch = zs.controls.channels().find((c) => c.channel_id === '100000000000000001')!;
    expect(ch.expiresAt.getTime() - zs.controls.now().getTime()).toBeLessThanOrEqual(3_600_000);
  });

  it('asks for a week minus a margin, so a Zoho clock 30 minutes behind ours still grants (almost) a week', async () => {
    zs.controls.setClock(new Date(Date.now() - 30 * 60_000));
    try {
      const conn = await connectZoho(stack, zs);
      const granted = new Date(conn.enabled.status.expiresAt!).getTime();
      expect(granted - Date.now()).toBeGreaterThan(WEEK - 2 * 3_600_000);
    } finally {
      zs.controls.setClock(null);
    }
  });
});

describe('the trust_boundaries migration', () => {
  it('copies Zoho channel ids from settings into their own column, leaving other providers and shared ids alone', async () => {
    const dirs = (await readdir(MIGRATIONS_DIR, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name).sort();
    const last = dirs.findIndex((d) => d.endsWith('_trust_boundaries'));
    expect(last).toBeGreaterThan(0);
    const sql = (d: string) => readFile(path.join(MIGRATIONS_DIR, d, 'migration.sql'), 'utf8');
    const pg = new PGlite();
    try {
      for (const d of dirs.slice(0, last)) await pg.exec(await sql(d));
      await pg.exec(`INSERT INTO "Organization" (id, name) VALUES ('o1', 'Acme')`);
      const insert = (id: string, provider: string, accountId: string, settings: object) =>
        pg.query(
          `INSERT INTO "Integration" (id, "organizationId", provider, name, "accountId", "apiBaseUrl", credentials, settings, "updatedAt")
           VALUES ($1, 'o1', $2::"CrmProvider", $1, $3, 'http://x', '{}', $4::jsonb, now())`,
          [id, provider, accountId, JSON.stringify(settings)],
        );
      await insert('z1', 'ZOHO', '1', { channelId: '1733000000000123', webhookToken: 'clear' });
      await insert('z2', 'ZOHO', '2', { channelId: '1733000000000999' });
      await insert('z3', 'ZOHO', '3', { channelId: '1733000000000999' });
      await insert('h1', 'HUBSPOT', '4', { channelId: '1733000000000555' });
      await pg.exec(await sql(dirs[last]));
      const rows = (await pg.query<{ id: string; channelId: string | null }>(`SELECT id, "channelId" FROM "Integration" ORDER BY id`)).rows;
      expect(rows).toEqual([
        { id: 'h1', channelId: null },
        { id: 'z1', channelId: '1733000000000123' },
        { id: 'z2', channelId: null },
        { id: 'z3', channelId: null },
      ]);
    } finally {
      await pg.close();
    }
  });
});
