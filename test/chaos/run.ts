// One chaos run: the HubSpot sandbox with random API faults and unruly webhook delivery,
// the service as a real process killed with SIGKILL at random moments, generated
// activity on both sides; then a bounded settle and the oracle's verdict.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openDatabase } from '../../src/db/client.ts';
import { startHubSpotSandbox, type HubSpotSandbox } from '../../sandboxes/hubspot/server.ts';
import { freePort } from '../helpers/net.ts';
import { Activity, type Platform } from './activity.ts';
import { Model } from './model.ts';
import { compare, type Findings } from './oracle.ts';
import { fork, seeded } from './random.ts';
import { serviceRig, type ServiceRig } from './service.ts';
import { settle } from './settle.ts';

export interface ChaosOptions {
  events: number;
  kills: number;
  faultRate: number;
  seed: number;
  /** Steps per second at most (the activity's pace). */
  rate: number;
  /** Bound of the settle phase. */
  settleTimeoutMs: number;
  /** The client's per-call timeout given to the integration; a `latency` fault lasts 1.5 times that. */
  clientTimeoutMs: number;
  /** Keep the work directory (database, service logs) afterwards. */
  keep: boolean;
  log: (line: string) => void;
}

export const DEFAULTS: Omit<ChaosOptions, 'log'> = {
  events: 10_000,
  kills: 3,
  faultRate: 0.2,
  seed: 1,
  rate: 40,
  settleTimeoutMs: 600_000,
  clientTimeoutMs: 5_000,
  keep: false,
};

export interface ChaosReport {
  options: Omit<ChaosOptions, 'log'>;
  findings: Findings;
  settled: boolean;
  settleMs: number;
  activityMs: number;
  steps: Record<string, number>;
  persons: number;
  faults: Record<string, number>;
  webhooks: { deliveries: number; duplicates: number; lateBatches: number; redelivered: number };
  failedRows: { inbox: number; outbox: number };
  restarts: number;
  workDir: string;
}

const SECRET = 'chaos-hubspot-app-client-secret';
const KEY = 'cs_chaos_harness_bootstrap_key';

export async function runChaos(opts: ChaosOptions): Promise<ChaosReport> {
  const r = seeded(opts.seed);
  const workDir = await mkdtemp(path.join(os.tmpdir(), 'crm-sync-chaos-'));
  const dataDir = path.join(workDir, 'data');
  const port = await freePort();
  const hs = await startHubSpotSandbox({
    clientSecret: SECRET,
    webhookTargetUrl: `http://127.0.0.1:${port}/api/v1/webhooks/hubspot`,
    subscriptions: 'default',
    // HubSpot retries a failed delivery up to 10 times, spread over 24 hours: here minutes.
    webhookRetryDelaysMs: [1_000, 2_000, 4_000, 8_000, 15_000, 30_000],
    webhookMaxAttempts: 10,
    webhookBatchWindowMs: 50,
  });
  const service = serviceRig({
    dataDir,
    port,
    logDir: workDir,
    startTimeoutMs: 240_000,
    env: {
      PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
      HUBSPOT_CLIENT_SECRET: SECRET,
      BOOTSTRAP_API_KEY: KEY,
      ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      WORK_LEASE_MS: '10000',
      // Retries, breaker pauses and call deadlines on the scale of a run of minutes.
      RETRY_BASE_MS: '200',
      RETRY_MAX_DELAY_MS: '5000',
      BREAKER_COOLDOWN_MS: '2000',
      CRM_CALL_TIMEOUT_MS: String(opts.clientTimeoutMs),
      POLL_INTERVAL_MS: '0',
      // The sandbox listens on loopback over http.
      CRM_ALLOW_LOCAL_HOSTS: 'true',
      LOG_LEVEL: 'info',
      API_RATE_LIMIT_PER_MINUTE: '0',
    },
  });
  try {
    const integrationId = await connect(service, hs);
    const model = new Model();
    let restart: Promise<void> = Promise.resolve();
    const platform: Platform = { call: (q, v) => gqlAcrossRestarts(service, () => restart, q, v) };
    const activity = new Activity(fork(r), model, hs, platform, `s${opts.seed}`, fork(r));
    hs.setWebhookBehavior({ duplicateRate: 0.3, lateCreationRate: 0.1, random: fork(r) });
    hs.controls.setFaultPlan({ rate: opts.faultRate, hangMs: Math.round(opts.clientTimeoutMs * 1.5), retryAfterSeconds: 1, random: fork(r), applies: (_m, p) => p.startsWith('/crm/') });
    const killAt = new Set(Array.from({ length: opts.kills }, () => Math.floor(opts.events * (0.1 + 0.8 * r()))));

    const kills: number[] = [];
    const started = Date.now();
    const startsBefore = service.starts;
    opts.log(`activity: ${opts.events} steps, ${opts.kills} kill(s), fault rate ${opts.faultRate}, seed ${opts.seed} (work dir ${workDir})`);
    for (let i = 0; i < opts.events; i++) {
      if (killAt.has(i)) {
        await restart;
        opts.log(`step ${i}: SIGKILL`);
        kills.push(Date.now());
        restart = service.kill().then(() => service.start());
      }
      await activity.step();
      const due = started + ((i + 1) * 1000) / opts.rate;
      if (due > Date.now()) await new Promise((res) => setTimeout(res, due - Date.now()));
      if ((i + 1) % 1000 === 0) opts.log(`step ${i + 1}: ${model.persons.length} people`);
    }
    await restart;
    const activityMs = Date.now() - started;

    // The CRM recovers; HubSpot keeps retrying what it could not deliver.
    hs.controls.setFaultPlan(null);
    opts.log('settling');
    const s = await settle(service, hs, opts.settleTimeoutMs, opts.log);
    await service.stop();

    const db = await openDatabase({ dataDir, migrate: false });
    let final;
    try {
      const leads = await db.prisma.lead.findMany({ include: { links: true } });
      const failedRows = {
        inbox: await db.prisma.inboxEvent.count({ where: { status: 'failed' } }),
        outbox: await db.prisma.outboxItem.count({ where: { status: 'failed' } }),
      };
      final = { leads, failedRows };
    } finally {
      await db.close();
    }
    const findings = compare(model, {
      leads: final.leads,
      contacts: hs.listContacts({ includeArchived: true }),
      integrationId,
      noopWrites: hs.noopWrites,
      calls: hs.controls.requests,
      kills,
    });
    if (opts.keep) await writeTrace(workDir, hs);
    const faults: Record<string, number> = {};
    for (const c of hs.controls.requests) if (c.fault) faults[c.fault] = (faults[c.fault] ?? 0) + 1;
    return {
      options: { ...opts, log: undefined } as never,
      findings,
      settled: s.settled,
      settleMs: s.ms,
      activityMs,
      steps: { ...activity.counts, pushEditsApplied: activity.pushEdits.applied },
      persons: model.persons.length,
      faults,
      webhooks: {
        deliveries: hs.deliveries.length,
        duplicates: hs.deliveries.filter((d) => d.kind === 'duplicate').length,
        lateBatches: new Set(hs.deliveries.filter((d) => d.events.every((e) => e.subscriptionType === 'contact.creation') && d.events.length > 0).map((d) => d.batchId)).size,
        redelivered: s.redelivered,
      },
      failedRows: final.failedRows,
      restarts: service.starts - startsBefore,
      workDir,
    };
  } finally {
    await service.kill().catch(() => undefined);
    await hs.close();
    if (!opts.keep) await rm(workDir, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** Creates the HubSpot integration and enables its webhooks over the API, as an administrator would. */
async function connect(service: ServiceRig, hs: HubSpotSandbox): Promise<string> {
  await service.start();
  const gql = (q: string, v: Record<string, unknown>) => gqlAcrossRestarts(service, () => Promise.resolve(), q, v);
  const created = await gql(`mutation($i: CreateIntegrationInput!) { createIntegration(input: $i) { id } }`, {
    i: { provider: 'HUBSPOT', name: 'chaos', accountId: String(hs.portalId), apiBaseUrl: hs.url, accessToken: hs.accessToken },
  });
  const id = created.data?.createIntegration?.id as string | undefined;
  if (!id) throw new Error(`createIntegration failed: ${created.codes.join(', ')}`);
  const enabled = await gql(`mutation($id: ID!) { enableWebhooks(integrationId: $id) { status { enabled } } }`, { id });
  if (!enabled.data?.enableWebhooks?.status?.enabled) throw new Error(`enableWebhooks failed: ${enabled.codes.join(', ')}`);
  return id;
}

/** GraphQL with the bootstrap key; waits out restarts and retries a call whose answer was lost (bounded). */
async function gqlAcrossRestarts(service: ServiceRig, restarting: () => Promise<void>, query: string, variables: Record<string, unknown>) {
  const until = Date.now() + 300_000;
  for (;;) {
    await restarting();
    try {
      const res = await fetch(`${service.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
        body: JSON.stringify({ query, variables }),
        signal: AbortSignal.timeout(30_000),
      });
      const body = (await res.json()) as { data?: any; errors?: { extensions?: { code?: string } }[] };
      const codes = (body.errors ?? []).map((e) => e.extensions?.code ?? 'UNKNOWN');
      if (!codes.includes('INTERNAL') || Date.now() > until) return { data: body.data, codes };
    } catch (e) {
      if (Date.now() > until) throw e;
    }
    await new Promise((res) => setTimeout(res, 250));
  }
}

/** The sandbox's view of the run, for reading a failure afterwards: API calls (with the ids they wrote) and no-op writes. */
async function writeTrace(dir: string, hs: HubSpotSandbox): Promise<void> {
  const ids = (body: unknown) =>
    ((body as { inputs?: { id?: unknown; properties?: { email?: unknown } }[] } | undefined)?.inputs ?? []).map((i) => String(i.id ?? i.properties?.email ?? ''));
  const calls = hs.controls.requests.map((c) => JSON.stringify({ at: new Date(c.at).toISOString(), method: c.method, path: c.path, status: c.status, fault: c.fault, ids: ids(c.body), body: c.body }));
  await writeFile(path.join(dir, 'api-calls.jsonl'), `${calls.join('\n')}\n`);
  await writeFile(path.join(dir, 'noop-writes.jsonl'), `${hs.noopWrites.map((n) => JSON.stringify({ ...n, at: new Date(n.at).toISOString() })).join('\n')}\n`);
  await writeFile(path.join(dir, 'webhooks.jsonl'), `${hs.deliveries.map((d) => JSON.stringify({ batchId: d.batchId, kind: d.kind, attempt: d.attemptNumber, status: d.status, at: new Date(d.startedAt).toISOString(), events: d.events.map((e) => `${e.subscriptionType}:${e.objectId}${e.propertyName ? `:${e.propertyName}=${e.propertyValue}` : ''}`) })).join('\n')}\n`);
}
