// The service as its own operating-system process (`node --import tsx src/main.ts`),
// for tests that kill it.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { rm } from 'node:fs/promises';
import { startHubSpotSandbox, type HubSpotSandbox } from '../../sandboxes/hubspot/server.ts';
import { freshDataDir } from './db.ts';
import { eventually, freePort } from './net.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface ServiceProcess {
  child: ChildProcess;
  url: string;
  output: () => string;
  /** Resolves when the process has exited. */
  exited: Promise<number | null>;
}

export async function startServiceProcess(env: Record<string, string>, port: number): Promise<ServiceProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    // CRM_ALLOW_LOCAL_HOSTS: the sandboxes listen on loopback over http.
    env: { ...process.env, CRM_ALLOW_LOCAL_HOSTS: 'true', ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  await eventually(
    async () => {
      if (child.exitCode !== null) throw new Error(`service exited: ${out}`);
      const r = await fetch(`${url}/healthz`).catch(() => null);
      return r?.ok ?? false;
    },
    // A cold start compiles the TypeScript first; on a loaded two-core machine that is slow.
    150_000,
    'service to answer /healthz',
  );
  return { child, url, output: () => out, exited };
}

export type Gql = (query: string, variables?: object) => Promise<any>;

/** GraphQL over HTTP against a service process (`url()` is read at each call: processes restart). */
export function gqlClient(url: () => string, key: string): Gql {
  return async (query, variables) => {
    const r = await fetch(`${url()}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await r.json()) as { data: any; errors?: unknown[] };
    if (body.errors) throw new Error(JSON.stringify(body.errors));
    return body.data;
  };
}

/** Creates a HubSpot integration for a HubSpot sandbox through the API and enables its webhooks. */
export async function connectHubSpotSandbox(gql: Gql, hs: { portalId: number; url: string; accessToken: string }): Promise<string> {
  const { createIntegration } = await gql(`mutation($i: CreateIntegrationInput!) { createIntegration(input: $i) { id } }`, {
    i: { provider: 'HUBSPOT', name: 'hs', accountId: String(hs.portalId), apiBaseUrl: hs.url, accessToken: hs.accessToken },
  });
  await gql(`mutation($id: ID!) { enableWebhooks(integrationId: $id) { status { enabled } } }`, { id: createIntegration.id });
  return createIntegration.id as string;
}

export interface HubSpotProcessRig {
  hs: HubSpotSandbox;
  dataDir: string;
  /** Starts a service process (again) on the same data directory, port and configuration. */
  start(): Promise<ServiceProcess>;
  /** Stops the sandbox and deletes the data directory (kill the process first). */
  close(): Promise<void>;
}

/**
 * A fresh data directory, a port, and a HubSpot sandbox whose signed webhooks go to a
 * service process started on them: the set-up of the tests that kill or stop the service.
 */
export async function hubspotProcessRig(opts: { secret: string; key: string; leaseMs: number; webhookRetryDelaysMs: number[] }): Promise<HubSpotProcessRig> {
  const dataDir = await freshDataDir();
  const port = await freePort();
  const env = {
    DATA_DIR: dataDir,
    PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
    HUBSPOT_CLIENT_SECRET: opts.secret,
    BOOTSTRAP_API_KEY: opts.key,
    WORK_LEASE_MS: String(opts.leaseMs),
    POLL_INTERVAL_MS: '0',
    LOG_LEVEL: 'info',
  };
  const hs = await startHubSpotSandbox({
    clientSecret: opts.secret,
    webhookTargetUrl: `http://127.0.0.1:${port}/api/v1/webhooks/hubspot`,
    subscriptions: 'default',
    webhookRetryDelaysMs: opts.webhookRetryDelaysMs,
  });
  return {
    hs,
    dataDir,
    start: () => startServiceProcess(env, port),
    async close() {
      await hs.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
