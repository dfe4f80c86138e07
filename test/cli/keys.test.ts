// Operators manage tenants and API keys with the CLI, on the service's own data
// directory: org create -> apikey create -> the key works against the running service ->
// apikey list shows the prefix only -> revoke -> the key is refused.
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCOPES } from '../../src/auth.ts';
import { freshDataDir } from '../helpers/db.ts';
import { freePort } from '../helpers/net.ts';
import { startServiceProcess, type ServiceProcess } from '../helpers/service-process.ts';
import { crmSync, crmSyncOk } from './run.ts';

let dataDir: string;
let running: ServiceProcess | undefined;
const env = () => ({ DATA_DIR: dataDir });

async function startService(): Promise<ServiceProcess> {
  running = await startServiceProcess({ DATA_DIR: dataDir, POLL_INTERVAL_MS: '0', LOG_LEVEL: 'warn' }, await freePort());
  return running;
}

async function stopService(s: ServiceProcess) {
  s.child.kill('SIGTERM');
  expect(await s.exited).toBe(0);
}

async function integrationsQuery(url: string, key: string) {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query: '{ integrations { id } }' }),
  });
  return { status: res.status, body: (await res.json()) as { data?: unknown; errors?: { extensions?: { code?: string } }[] } };
}

beforeAll(async () => {
  dataDir = await freshDataDir();
});
afterAll(async () => {
  if (running?.child.exitCode === null) {
    running.child.kill('SIGKILL');
    await running.exited;
  }
  await rm(dataDir, { recursive: true, force: true });
});

describe('crm-sync org and apikey', () => {
  it('creates an organization and a key that the service accepts; lists it by prefix only; a revoked key is refused', async () => {
    const org = await crmSyncOk(['org', 'create', '--name', 'Acme'], env());
    const orgId = org.stdout.trim();
    expect(orgId).toMatch(/^[0-9a-f-]{36}$/);

    const created = await crmSyncOk(['apikey', 'create', '--org', orgId, '--name', 'ci', '--json'], env());
    const key = JSON.parse(created.stdout) as { id: string; key: string; prefix: string; scopes: string[] };
    expect(key.key).toMatch(/^cs_[A-Za-z0-9_-]{40,}$/);
    expect(key.key.startsWith(key.prefix)).toBe(true);
    expect(key.scopes).toEqual([...SCOPES]); // every scope by default
    // Human output: the key alone on stdout (for scripts), the rest on stderr.
    const second = await crmSyncOk(['apikey', 'create', '--org', orgId, '--name', 'reader', '--scopes', 'leads:read'], env());
    expect(second.stdout.trim()).toMatch(/^cs_[A-Za-z0-9_-]{40,}$/);
    expect(second.stderr).toContain('cannot be shown again');

    let service = await startService();
    try {
      const ok = await integrationsQuery(service.url, key.key);
      expect(ok).toEqual({ status: 200, body: { data: { integrations: [] } } });

      // While the service holds the embedded database, the CLI refuses to open it.
      const busy = await crmSync(['apikey', 'list', '--org', orgId], env());
      expect(busy.code).toBe(1);
      expect(busy.stderr).toContain('is open in another process');
    } finally {
      await stopService(service);
    }

    const listed = await crmSyncOk(['apikey', 'list', '--org', orgId], env());
    expect(listed.stdout).toContain('PREFIX');
    expect(listed.stdout).toContain(`${key.prefix}…`);
    expect(listed.stdout).toContain('reader');
    expect(listed.stdout).not.toContain(key.key);
    expect(listed.stdout).not.toContain(second.stdout.trim());
    const listedJson = JSON.parse((await crmSyncOk(['apikey', 'list', '--org', orgId, '--json'], env())).stdout) as Record<string, unknown>[];
    expect(listedJson).toHaveLength(2);
    expect(listedJson[0]).toMatchObject({ id: key.id, name: 'ci', prefix: key.prefix, revokedAt: null });
    expect(listedJson[0].lastUsedAt).not.toBeNull(); // the service recorded the use
    expect(JSON.stringify(listedJson)).not.toContain(key.key);
    expect(Object.keys(listedJson[0]).sort()).toEqual(['createdAt', 'id', 'lastUsedAt', 'name', 'prefix', 'revokedAt', 'scopes']);

    const revoked = await crmSyncOk(['apikey', 'revoke', '--org', orgId, '--id', key.id], env());
    expect(revoked.stdout).toContain(`Revoked API key ${key.id}`);
    const again = await crmSync(['apikey', 'revoke', '--org', orgId, '--id', key.id], env());
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already revoked');
    const unknown = await crmSync(['apikey', 'revoke', '--org', orgId, '--id', 'no-such-key'], env());
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe(`crm-sync: API key no-such-key not found in organization ${orgId}\n`);
    const [afterList] = JSON.parse((await crmSyncOk(['apikey', 'list', '--org', orgId, '--json'], env())).stdout) as { revokedAt: string | null }[];
    expect(afterList.revokedAt).not.toBeNull();

    service = await startService();
    try {
      const refused = await integrationsQuery(service.url, key.key);
      expect(refused.body.data ?? null).toBeNull();
      expect(refused.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      const rest = await fetch(`${service.url}/api/v1/crm-integration/x/webhook-status`, { headers: { authorization: `Bearer ${key.key}` } });
      expect(rest.status).toBe(401);
    } finally {
      await stopService(service);
    }
  }, 300_000);

  it('an unknown organization is an error, not a crash', async () => {
    const r = await crmSync(['apikey', 'create', '--org', 'no-such-org', '--name', 'x'], env());
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('crm-sync: Organization no-such-org not found\n');
  });
});
