// `npm run bench`: measures the service end to end on loopback (bounded in count and
// time) and prints figures and ratios. Nothing here asserts: the numbers are for
// people and for comparing commits.
//
//   1. webhook acknowledgement latency (signed HubSpot webhooks, 1 and 100 events each)
//   2. time from a contact created in HubSpot to the leadCreated subscription event
//   3. outbound push rate (platform leads -> HubSpot, batched)
//   4. import rate per sandbox (HubSpot, Salesforce, Zoho)
//   5. cost of a /metrics scrape
//   6. end to end at a steady rate and in a burst (service in its own process)
//   7. a big import: rate and peak RSS of the service process
//   8. scale-out on PostgreSQL: events applied per second by one instance, then by two
//   9. import against a throttled HubSpot: records/s against the quota's maximum
//   BENCH_SECTIONS=0,6 runs some only (BENCH_E2E_LOADS=steady: section 6's steady rate only); every figure has an env override (BENCH_*);
//   BENCH_PROFILE=1 profiles the service process of sections 0, 6 and 7 (bench-profiles/).
//   Service processes run the compiled service (build/, as `npm start` does); BENCH_SERVICE_FROM_SOURCES=1 runs them
//   from the TypeScript sources through tsx, to compare.
//   BENCH_SERVICE_NODE_FLAGS="--expose-gc --max-semi-space-size=4" starts the service process with those Node/V8 flags
//   (with --expose-gc, section 7 also prints the memory after a full garbage collection).
//   0. (first) durable intake against a raw ceiling (test/bench/ceiling.ts), same load, one run
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { createOrganization } from '../../src/auth.ts';
import { startBenchStack } from './stack.ts';
import { startHubSpotSandbox } from '../../sandboxes/hubspot/server.ts';
import { startSalesforceSandbox } from '../../sandboxes/salesforce/index.ts';
import { startZohoSandbox } from '../../sandboxes/zoho/server.ts';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { postgresAvailable, startPostgres } from '../helpers/postgres.ts';
import { once } from 'node:events';
import { serviceFromSources, startBenchService, startNodeFlags, type BenchService } from './service-process.ts';
import { webhookLoad } from './webhook-load.ts';
import type { HubSpotSandbox } from '../../sandboxes/hubspot/server.ts';

const SECRET = 'bench-hubspot-secret';
const N_ACK = Number(process.env.BENCH_ACK_REQUESTS ?? 300);
const N_LIVE = Number(process.env.BENCH_LIVE_EVENTS ?? 50);
const N_PUSH = Number(process.env.BENCH_PUSH_LEADS ?? 1000);
const N_PUSH_STREAM = Number(process.env.BENCH_PUSH_STREAM_LEADS ?? 500);
const N_IMPORT = Number(process.env.BENCH_IMPORT_RECORDS ?? 2000);
const N_INTAKE = Number(process.env.BENCH_INTAKE_EVENTS ?? 20000);
/** BENCH_SECTIONS=0,2 runs those sections only (default: all). */
const SECTIONS = process.env.BENCH_SECTIONS?.split(',').map((x) => x.trim());
const want = (n: string) => !SECTIONS || SECTIONS.includes(n);

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const fmt = (ms: number) => `${ms.toFixed(1)} ms`;
function summary(label: string, xs: number[]) {
  console.log(`  ${label.padEnd(44)} n=${xs.length}  p50 ${fmt(pct(xs, 50))}  p95 ${fmt(pct(xs, 95))}  p99 ${fmt(pct(xs, 99))}  max ${fmt(Math.max(...xs))}`);
}

async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string) {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`bench: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The machine's CPU time so far (all cores); `busyFrom(earlier)`: the share of the cores busy since then (0-1). */
function machineCpu() {
  const sum = os.cpus().reduce((a, c) => ({ idle: a.idle + c.times.idle, all: a.all + c.times.idle + c.times.user + c.times.nice + c.times.sys + c.times.irq }), { idle: 0, all: 0 });
  return { ...sum, busyFrom: (e: { idle: number; all: number }) => 1 - (sum.idle - e.idle) / Math.max(1, sum.all - e.all) };
}

/** Connects a HubSpot sandbox portal to a bench service over GraphQL; returns the integration id. */
async function connectHubSpotTo(svc: BenchService, hs: HubSpotSandbox, name: string, webhooks: boolean): Promise<string> {
  const { createIntegration } = await svc.gql<{ createIntegration: { id: string } }>(
    'mutation($i: CreateIntegrationInput!) { createIntegration(input: $i) { id } }',
    { i: { provider: 'HUBSPOT', name, accountId: String(hs.portalId), apiBaseUrl: hs.url, accessToken: hs.accessToken, autoSync: false } },
  );
  if (webhooks) await svc.gql('mutation($id: ID!) { enableWebhooks(integrationId: $id) { status { enabled } } }', { id: createIntegration.id });
  return createIntegration.id;
}

const dataDir = await mkdtemp(path.join(os.tmpdir(), 'crm-sync-bench-'));
const stack = await startBenchStack(dataDir, SECRET);
const { db, engine, url, orgId, apiKey: key } = stack;
const org = { id: orgId };
const webhookUrl = stack.webhookUrl('hubspot');

console.log(`crm-sync bench — node ${process.version}, ${os.cpus().length} cores, database PGlite, ${new Date().toISOString()}`);
console.log(`service processes run ${serviceFromSources ? 'from the TypeScript sources through tsx (BENCH_SERVICE_FROM_SOURCES=1)' : `compiled (build/), with npm start's Node flags (${startNodeFlags().join(' ') || 'none'})`}${process.env.BENCH_SERVICE_NODE_FLAGS ? `, then BENCH_SERVICE_NODE_FLAGS ${process.env.BENCH_SERVICE_NODE_FLAGS}` : ''}`);

// ---------------------------------------------------------------- 0. intake vs raw ceiling
if (want('0')) {
  console.log('\n0. Durable intake: the same signed HubSpot load to a raw ceiling and to crm-sync');
  console.log('   (ceiling: bare node:http + v3 check + ONE multi-row INSERT into PGlite per request)');
  const hs = await startHubSpotSandbox({ clientSecret: SECRET, portalId: 7000, webhookTargetUrl: null, rateLimit: null });
  const ceilingDir = await mkdtemp(path.join(os.tmpdir(), 'crm-sync-ceiling-'));
  // The ceiling and the service each run in their own process, as the service would in
  // production: neither shares an event loop with this load generator or the sandbox.
  // BENCH_PROFILE=1 writes a CPU profile of the service (--cpu-prof) to bench-profiles/.
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'ceiling.ts'), ceilingDir, SECRET], { stdio: ['ignore', 'pipe', 'inherit'] });
  const svc = await startBenchService(SECRET, Boolean(process.env.BENCH_PROFILE));
  await connectHubSpotTo(svc, hs, 'intake', true);
  const [line] = (await once(child.stdout!, 'data')) as [Buffer];
  const ceiling = { url: (JSON.parse(line.toString()) as { url: string }).url };
  const intakeUrl = svc.webhookUrl('hubspot');
  /** Waits until the service's workers have processed what was sent, so each case starts idle. */
  const drained = () => svc.drained();
  const load = webhookLoad(hs);
  const cases = [
    { label: 'batches of 100 events, 4 in flight', requests: Math.max(10, Math.round(N_INTAKE / 100)), per: 100, inFlight: 4 },
    { label: '1 event per request, 8 in flight', requests: Math.max(100, Math.round(N_INTAKE / 10)), per: 1, inFlight: 8 },
  ];
  for (const c of cases) {
    await load(ceiling.url, Math.ceil(c.requests / 10), c.per, c.inFlight); // warm-up
    const raw = await load(ceiling.url, c.requests, c.per, c.inFlight);
    await load(intakeUrl, Math.ceil(c.requests / 10), c.per, c.inFlight);
    await drained();
    const service = await load(intakeUrl, c.requests, c.per, c.inFlight);
    await drained();
    const unit = c.per === 1 ? 'requests/s' : 'events/s';
    const rate = (r: typeof raw) => (c.per === 1 ? r.requestsPerS : r.eventsPerS);
    console.log(`  ${c.label}`);
    console.log(`    ceiling   ${rate(raw).toFixed(0).padStart(7)} ${unit}  ack p50 ${fmt(pct(raw.lat, 50))} p99 ${fmt(pct(raw.lat, 99))}`);
    console.log(`    crm-sync  ${rate(service).toFixed(0).padStart(7)} ${unit}  ack p50 ${fmt(pct(service.lat, 50))} p99 ${fmt(pct(service.lat, 99))}`);
    console.log(`    ratio crm-sync / ceiling: ${(rate(service) / rate(raw)).toFixed(2)}`);
  }
  child.kill('SIGTERM');
  await Promise.all([once(child, 'exit'), svc.stop()]);
  await rm(ceilingDir, { recursive: true, force: true });
  await hs.close();
}

// ---------------------------------------------------------------- 1. acknowledgement
if (want('1')) {
  const hs = await startHubSpotSandbox({ clientSecret: SECRET, portalId: 7001, webhookTargetUrl: null, rateLimit: null });
  const integration = await engine.createIntegration(org.id, { provider: 'HUBSPOT', name: 'ack', accountId: '7001', apiBaseUrl: hs.url, accessToken: hs.accessToken });
  await engine.enableWebhooks(org.id, integration.id);
  await engine.disableWebhooks(org.id, integration.id); // measure intake only, not processing
  console.log('\n1. Webhook acknowledgement (verify + persist + 2xx), HubSpot v3 signatures');
  let eventId = 1;
  const send = async (events: number) => {
    const batch = Array.from({ length: events }, () => hs.makeEvent('contact.creation', String(100000 + eventId), { eventId: eventId++ }));
    const req = hs.signedWebhook(batch, { url: webhookUrl });
    const t = performance.now();
    const res = await fetch(webhookUrl, { method: 'POST', headers: req.headers, body: req.body });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`webhook answered ${res.status}`);
    return performance.now() - t;
  };
  for (let i = 0; i < 20; i++) await send(1); // warm-up
  const single: number[] = [];
  for (let i = 0; i < N_ACK; i++) single.push(await send(1));
  summary('1 event per request, sequential', single);
  const hundred: number[] = [];
  for (let i = 0; i < Math.ceil(N_ACK / 10); i++) hundred.push(await send(100));
  summary('100 events per request, sequential', hundred);
  const concurrent: number[] = [];
  const t0 = performance.now();
  await Promise.all(Array.from({ length: 10 }, async () => {
    for (let i = 0; i < N_ACK / 10; i++) concurrent.push(await send(1));
  }));
  const elapsed = performance.now() - t0;
  summary('1 event per request, 10 in flight', concurrent);
  console.log(`  throughput with 10 in flight: ${((concurrent.length / elapsed) * 1000).toFixed(0)} requests/s`);
  console.log(`  ratio p99 / HubSpot's 5 s timeout: ${(pct(single, 99) / 5000).toFixed(4)}`);
  await hs.close();
}

// ---------------------------------------------------------------- 2. webhook -> subscriber
if (want('2')) {
  const hs = await startHubSpotSandbox({ clientSecret: SECRET, portalId: 7002, webhookTargetUrl: webhookUrl, subscriptions: 'default', rateLimit: null, webhookBatchWindowMs: 0 });
  const integration = await engine.createIntegration(org.id, { provider: 'HUBSPOT', name: 'live', accountId: '7002', apiBaseUrl: hs.url, accessToken: hs.accessToken, autoSync: false });
  await engine.enableWebhooks(org.id, integration.id);
  const ws = createClient({ url: `${url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams: { Authorization: `Bearer ${key}` } });
  const seen = new Map<string, number>();
  const unsubscribe = ws.subscribe(
    { query: 'subscription { leadCreated { email } }' },
    { next: (v) => seen.set((v.data as { leadCreated: { email: string } }).leadCreated.email, performance.now()), error: (e) => console.error(e), complete: () => {} },
  );
  await new Promise((r) => setTimeout(r, 300));
  console.log('\n2. Contact created in HubSpot -> leadCreated over graphql-ws (webhook, inbox, batch read, apply, publish)');
  const lat: number[] = [];
  for (let i = 0; i < N_LIVE; i++) {
    const email = `live${i}@bench.example`;
    const t = performance.now();
    hs.createContactAsUser({ email, firstname: 'Live' });
    await waitFor(() => seen.has(email), 30_000, `leadCreated for ${email}`);
    lat.push(seen.get(email)! - t);
  }
  summary('end to end, one contact at a time', lat);
  console.log(`  ratio p95 / the 5 s freshness promise: ${(pct(lat, 95) / 5000).toFixed(3)}`);
  unsubscribe();
  await ws.dispose();
  await hs.close();
}

// ---------------------------------------------------------------- 3. outbound pushes
// (a) createLead in a tight loop: PGlite answers on the main thread without a turn of the
//     event loop, so the pushes' HTTP waits for the loop's end: a backlog of all N, which
//     allows full batches. (b) a stream: each lead is followed by a turn of the event loop,
//     as leads arriving by request are, so pushes run while leads keep coming.
async function pushRun(label: string, portalId: number, n: number, turn: boolean) {
  const hs = await startHubSpotSandbox({ clientSecret: SECRET, portalId, webhookTargetUrl: null, rateLimit: null });
  const org2 = await createOrganization(db.prisma, `Bench push ${portalId}`);
  // Webhooks never enabled: the first push prepares the origin property itself.
  await engine.createIntegration(org2.id, { provider: 'HUBSPOT', name: 'push', accountId: String(portalId), apiBaseUrl: hs.url, accessToken: hs.accessToken });
  console.log(`  ${label}`);
  const t = performance.now();
  for (let i = 0; i < n; i++) {
    await engine.createLead(org2.id, { email: `push${i}@bench.example`, firstName: 'Push' });
    if (turn) await new Promise((r) => setImmediate(r));
  }
  const queued = performance.now() - t;
  await waitFor(() => hs.listContacts().length >= n, 120_000, 'pushes');
  const total = performance.now() - t;
  const batchCalls = hs.controls.requests.filter((c) => c.path.startsWith('/crm/v3/objects/contacts/batch/')).length;
  const byPath = new Map<string, number>();
  for (const c of hs.controls.requests) byPath.set(`${c.method} ${c.path}`, (byPath.get(`${c.method} ${c.path}`) ?? 0) + 1);
  const sizes = hs.controls.requests.filter((c) => c.path === '/crm/v3/objects/contacts/batch/create').map((c) => (c.body as { inputs?: unknown[] }).inputs?.length ?? 0);
  console.log(`    ${n} createLead calls: ${(queued / n).toFixed(2)} ms each (lead + outbox rows, one transaction)`);
  console.log(`    HubSpot calls by path: ${[...byPath].map(([p, k]) => `${p} x${k}`).join(', ')}`);
  console.log(`    inputs per batch create: ${sizes.join(' ')}`);
  console.log(`    all ${n} in HubSpot after ${(total / 1000).toFixed(2)} s: ${((n / total) * 1000).toFixed(0)} leads/s, ${batchCalls} HubSpot batch calls (${(n / batchCalls).toFixed(1)} leads per call, ${((batchCalls / n) * 1000).toFixed(1)} calls per 1,000 leads)`);
  await hs.close();
}
if (want('3')) {
  console.log('\n3. Platform leads -> HubSpot (outbox, batched writes)');
  await pushRun(`(a) ${N_PUSH} leads created in a tight loop (a backlog)`, 7003, N_PUSH, false);
  await pushRun(`(b) ${N_PUSH_STREAM} leads as a stream (a turn of the event loop after each)`, 7013, N_PUSH_STREAM, true);
}

// ---------------------------------------------------------------- 4. import per sandbox
if (want('4')) console.log(`\n4. importFromCrm of ${N_IMPORT} records (100 per page) per sandbox`);
async function timeImport(label: string, orgId: string, integrationId: string) {
  const t = performance.now();
  const job = await engine.importFromCrm(orgId, integrationId);
  let done = job;
  await waitFor(async () => {
    done = await engine.importJob(orgId, job.id);
    return done.status !== 'running';
  }, 600_000, `${label} import`);
  const ms = performance.now() - t;
  console.log(`  ${label.padEnd(11)} ${done.status}: ${done.created} created, ${done.pages} pages in ${(ms / 1000).toFixed(2)} s -> ${((done.created / ms) * 1000).toFixed(0)} records/s`);
  return ms;
}
if (want('4')) {
  const hs = await startHubSpotSandbox({ clientSecret: SECRET, portalId: 7004, webhookTargetUrl: null, rateLimit: null });
  for (let i = 0; i < N_IMPORT; i++) hs.createContactAsUser({ email: `hs${i}@import.example`, firstname: 'Imp' });
  const o = await createOrganization(db.prisma, 'Import HubSpot');
  const i = await engine.createIntegration(o.id, { provider: 'HUBSPOT', name: 'imp', accountId: '7004', apiBaseUrl: hs.url, accessToken: hs.accessToken, autoSync: false });
  await timeImport('HubSpot', o.id, i.id);
  await hs.close();
}
if (want('4')) {
  const sf = await startSalesforceSandbox({});
  for (let i = 0; i < N_IMPORT; i++) sf.controls.createLeadAsUser({ Email: `sf${i}@import.example`, LastName: 'Imp', Company: 'Bench' });
  const c = sf.controls.credentials();
  const o = await createOrganization(db.prisma, 'Import Salesforce');
  const i = await engine.createIntegration(o.id, {
    provider: 'SALESFORCE', name: 'imp', accountId: sf.controls.organizationId, apiBaseUrl: sf.url,
    accessToken: c.accessToken, refreshToken: c.refreshToken, clientId: c.clientId, clientSecret: c.clientSecret, autoSync: false,
  });
  await timeImport('Salesforce', o.id, i.id);
  await sf.close();
}
if (want('4')) {
  const zoho = await startZohoSandbox({});
  for (let i = 0; i < N_IMPORT; i++) zoho.controls.createLeadAsUser({ Email: `zoho${i}@import.example`, Last_Name: 'Imp' });
  const tok = zoho.controls.issueAccessToken();
  const o = await createOrganization(db.prisma, 'Import Zoho');
  const i = await engine.createIntegration(o.id, {
    provider: 'ZOHO', name: 'imp', apiBaseUrl: zoho.url, accessToken: tok.accessToken,
    refreshToken: zoho.controls.refreshToken, clientId: zoho.controls.clientId, clientSecret: zoho.controls.clientSecret, accountsUrl: zoho.accountsUrl, autoSync: false,
  });
  await timeImport('Zoho', o.id, i.id);
  await zoho.close();
}

// ---------------------------------------------------------------- 5. metrics scrape
if (want('5')) {
  console.log('\n5. GET /metrics (Prometheus text; queue gauges computed per scrape)');
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < 50; i++) {
    const t = performance.now();
    const res = await fetch(`${url}/metrics`);
    bytes = (await res.arrayBuffer()).byteLength;
    times.push(performance.now() - t);
  }
  summary(`scrape (${(bytes / 1024).toFixed(1)} KiB)`, times);
}

// ---------------------------------------------------------------- 6. end to end at a steady rate and in a burst
if (want('6')) {
  console.log('\n6. End to end, service in its own process: signed webhook -> contact read from HubSpot -> lead -> leadCreated over graphql-ws');
  // The steady load twice: on the request budget every HubSpot account has (100 per 10 s,
  // Free and Starter), and on a Professional or Enterprise account's 190 per 10 s, set as
  // an administrator sets it (setRequestBudget).
  const steady = { rate: Number(process.env.BENCH_STEADY_RATE ?? 100), seconds: Number(process.env.BENCH_STEADY_SECONDS ?? 10) };
  const loads: { label: string; rate: number; seconds: number; budget?: { requests: number; perSeconds: number } }[] = [
    { label: 'steady', ...steady },
    { label: 'steady-190', ...steady, budget: { requests: 190, perSeconds: 10 } },
    { label: 'burst', rate: Number(process.env.BENCH_BURST_RATE ?? 1000), seconds: Number(process.env.BENCH_BURST_SECONDS ?? 20) },
  ].filter((l) => !process.env.BENCH_E2E_LOADS || process.env.BENCH_E2E_LOADS.split(',').includes(l.label));
  let portal = 7100;
  for (const l of loads) {
    const n = l.rate * l.seconds;
    const hs = await startHubSpotSandbox({ clientSecret: SECRET, portalId: portal++, webhookTargetUrl: null, rateLimit: null });
    const emailOf = new Map<string, string>();
    for (let i = 0; i < n; i++) {
      const email = `e2e-${l.label}-${i}@bench.example`;
      emailOf.set(hs.createContactAsUser({ email, firstname: 'E2E' }), email);
    }
    const svc = await startBenchService(SECRET, Boolean(process.env.BENCH_PROFILE));
    const integrationId = await connectHubSpotTo(svc, hs, l.label, true);
    if (l.budget) {
      await svc.gql('mutation($id: ID!, $b: RequestBudgetInput!) { setRequestBudget(integrationId: $id, budget: $b) { requestBudget { requests perSeconds } } }', { id: integrationId, b: l.budget });
    }
    // The service first takes BENCH_WARMUP_EVENTS (5,000) creation events of another portal
    // at 1,000/s and applies them, as a service running for a while has: PGlite's WebAssembly
    // compiled by V8's optimizing tier. A just-started service compiles it during the load
    // (on the same 2 cores): BENCH_WARMUP_EVENTS=0 measures that cold start.
    const warmN = Number(process.env.BENCH_WARMUP_EVENTS ?? 5000);
    if (warmN > 0) {
      const hw = await startHubSpotSandbox({ clientSecret: SECRET, portalId: 7900 + portal, webhookTargetUrl: null, rateLimit: null });
      const wids = Array.from({ length: warmN }, (_, i) => hw.createContactAsUser({ email: `warm-${l.label}-${i}@bench.example`, firstname: 'Warm' }));
      await connectHubSpotTo(svc, hw, `warm-${l.label}`, true);
      const sends: Promise<unknown>[] = [];
      for (let k = 0; k * 50 < warmN; k++) {
        const req = hw.signedWebhook(wids.slice(k * 50, (k + 1) * 50).map((id, j) => hw.makeEvent('contact.creation', id, { eventId: 1 + k * 50 + j })), { url: svc.webhookUrl('hubspot') });
        sends.push(fetch(req.url, { method: 'POST', headers: req.headers, body: req.body }).then((r) => r.arrayBuffer()));
        await new Promise((r) => setTimeout(r, 50));
      }
      await Promise.all(sends);
      await svc.drained();
      await hw.close();
    }
    const ws = createClient({ url: `${svc.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams: { Authorization: `Bearer ${svc.apiKey}` } });
    const seen = new Map<string, number>();
    let twice = 0;
    const unsubscribe = ws.subscribe(
      { query: 'subscription { leadCreated { email } }' },
      {
        next: (v) => {
          const email = (v.data as { leadCreated: { email: string } }).leadCreated.email;
          if (seen.has(email)) twice++;
          else seen.set(email, performance.now());
        },
        error: (e) => console.error(e),
        complete: () => {},
      },
    );
    await new Promise((r) => setTimeout(r, 300));
    // HubSpot sends up to 100 events per request; here one request every 50 ms.
    const tickMs = 50;
    const perTick = Math.max(1, Math.round((l.rate * tickMs) / 1000));
    const ids = [...emailOf.keys()];
    const sentAt = new Map<string, number>();
    const acks: number[] = [];
    const inFlight: Promise<void>[] = [];
    const target = svc.webhookUrl('hubspot');
    const t0 = performance.now();
    for (let k = 0; k * perTick < n; k++) {
      const wait = t0 + k * tickMs - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const batch = ids.slice(k * perTick, (k + 1) * perTick);
      const req = hs.signedWebhook(batch.map((id, j) => hs.makeEvent('contact.creation', id, { eventId: 1 + k * perTick + j })), { url: target });
      const t = performance.now();
      for (const id of batch) sentAt.set(emailOf.get(id)!, t);
      inFlight.push(
        fetch(target, { method: 'POST', headers: req.headers, body: req.body }).then(async (res) => {
          await res.arrayBuffer();
          if (res.status !== 200) throw new Error(`webhook answered ${res.status}`);
          acks.push(performance.now() - t);
        }),
      );
    }
    const sendS = (performance.now() - t0) / 1000;
    await Promise.all(inFlight);
    await waitFor(() => seen.size >= n, 300_000, `${n} leadCreated events`);
    await svc.drained();
    const lat = [...seen].map(([email, at]) => at - sentAt.get(email)!);
    const reads = hs.controls.requests.filter((c) => c.path.startsWith('/crm/v3/objects/contacts/batch/read')).length;
    console.log(`  ${l.label}${l.budget ? ` (request budget ${l.budget.requests} per ${l.budget.perSeconds} s)` : ''}${warmN > 0 ? ` after ${warmN} warm-up events` : ', cold start'}: ${n} events offered at ${l.rate}/s (sent in ${sendS.toFixed(1)} s, ${(n / sendS).toFixed(0)}/s)`);
    console.log(`    webhook -> leadCreated p50 ${fmt(pct(lat, 50))} p99 ${fmt(pct(lat, 99))} max ${fmt(Math.max(...lat))}; acknowledgement p99 ${fmt(pct(acks, 99))}`);
    console.log(`    ${seen.size} leads announced once each (${twice} announced twice); ${reads} HubSpot batch reads (${(n / reads).toFixed(1)} contacts per read)`);
    unsubscribe();
    await ws.dispose();
    await svc.stop();
    await hs.close();
  }
}

// ---------------------------------------------------------------- 7. a big import: rate and memory
/** One big import into a service of its own process; `env` chooses its database (PGlite when empty). */
async function bigImport(n: number, database: string, env: Record<string, string>) {
  console.log(`  on ${database}:`);
  const hs = await startHubSpotSandbox({ clientSecret: SECRET, portalId: 7200, webhookTargetUrl: null, rateLimit: null });
  for (let i = 0; i < n; i++) hs.createContactAsUser({ email: `big${i}@import.example`, firstname: 'Big' });
  const svc = await startBenchService(SECRET, Boolean(process.env.BENCH_PROFILE), env);
  const integrationId = await connectHubSpotTo(svc, hs, 'big import', false);
  // The sandbox answers without limit: so does the client (its default budget is HubSpot's
  // 100 requests per 10 s, 1,000 records/s at most; section 9 measures against that).
  await svc.setSettings(integrationId, { rateLimit: { requests: 1_000_000, perMs: 1000 } });
  await svc.peakMemory(); // the peak so far is the start's (migrations), not idle
  await new Promise((r) => setTimeout(r, 1000));
  const idle = await svc.peakMemory();
  const t = performance.now();
  const { importFromCrm } = await svc.gql<{ importFromCrm: { id: string } }>('mutation($id: ID!) { importFromCrm(integrationId: $id) { id } }', { id: integrationId });
  // Followed as the CLI and a dashboard follow it: over the importProgress subscription
  // (one message per page). Polling the job over HTTP every few milliseconds would take
  // about a tenth of the service's thread away from the import it measures.
  let job: { status: string; created: number; pages: number } = { status: 'running', created: 0, pages: 0 };
  const ws = createClient({ url: `${svc.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams: { Authorization: `Bearer ${svc.apiKey}` } });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('bench: timed out waiting for the big import')), 1_800_000);
    ws.subscribe<{ importProgress: typeof job }>(
      { query: 'subscription($id: ID!) { importProgress(jobId: $id) { status created pages } }', variables: { id: importFromCrm.id } },
      {
        next: (v) => v.data && (job = v.data.importProgress),
        error: (e) => (clearTimeout(timer), reject(e instanceof Error ? e : new Error(JSON.stringify(e)))),
        complete: () => (clearTimeout(timer), job.status === 'running' ? reject(new Error('bench: the import progress ended while running')) : resolve()),
      },
    );
  });
  await ws.dispose();
  const ms = performance.now() - t;
  const peak = await svc.peakMemory();
  console.log(`    ${job.status}: ${job.created} created, ${job.pages} pages in ${(ms / 1000).toFixed(1)} s -> ${((job.created / ms) * 1000).toFixed(0)} records/s`);
  const mem = (m: typeof peak) => `${m.rss} MB (JavaScript heap ${m.heap} MB, outside it ${m.external} MB)`;
  console.log(`    service RSS idle: ${mem(idle)}; peak during the import: ${mem(peak)}; growth ${peak.rss - idle.rss} MB`);
  console.log(`    service CPU: ${(peak.cpu - idle.cpu).toFixed(1)} s, ${(((peak.cpu - idle.cpu) * 1000) / Math.max(1, job.created)).toFixed(3)} ms per record`);
  // With BENCH_SERVICE_NODE_FLAGS=--expose-gc: how much of the peak's heap was garbage not yet collected.
  if (process.env.BENCH_SERVICE_NODE_FLAGS?.includes('--expose-gc')) {
    const after = JSON.parse(await svc.command('gc')) as typeof peak;
    console.log(`    after a full garbage collection: ${mem(after)}`);
  }
  await svc.stop();
  await hs.close();
}

if (want('7')) {
  const n = Number(process.env.BENCH_BIG_IMPORT_RECORDS ?? 100_000);
  console.log(`\n7. importFromCrm of ${n} HubSpot records, service in its own process: rate and peak RSS`);
  await bigImport(n, 'PGlite (the embedded default: the database inside the service process)', {});
  // The same import with the database in its own process (the scale configuration): the
  // service's own memory, without PGlite's.
  if (postgresAvailable()) {
    const cluster = await startPostgres();
    try {
      await bigImport(n, 'PostgreSQL (DATABASE_URL)', { DATABASE_URL: cluster.url });
    } finally {
      await cluster.stop();
    }
  } else {
    console.log('  on PostgreSQL: skipped (PostgreSQL is not installed)');
  }
}

// ---------------------------------------------------------------- 9. import against a throttled CRM
// The sandbox enforces HubSpot's documented burst limit of a Free or Starter private app
// (100 requests per rolling 10 s; BENCH_QUOTA=30/10000 another), the integration's budget; a list page
// holds at most 100 contacts, so the quota allows 1,000 records/s at most. The first
// window's 100 requests may all go at once, so the steady rate is taken from the moment
// the job has read one window's worth of pages to its end.
if (want('9')) {
  const n = Number(process.env.BENCH_THROTTLED_IMPORT_RECORDS ?? 30_000);
  // BENCH_QUOTA=30/10000: another quota (requests/ms), set on the sandbox and as the integration's budget.
  const [qr, qms] = (process.env.BENCH_QUOTA ?? '100/10000').split('/').map(Number);
  const quota = { requests: qr, perMs: qms };
  console.log(`\n9. importFromCrm of ${n} HubSpot records against HubSpot's quota (${quota.requests} requests per ${quota.perMs / 1000} s, 100 records a page)`);
  const hs = await startHubSpotSandbox({ clientSecret: SECRET, portalId: 7300, webhookTargetUrl: null, rateLimit: quota });
  for (let i = 0; i < n; i++) hs.createContactAsUser({ email: `quota${i}@import.example`, firstname: 'Quota' });
  const o = await createOrganization(db.prisma, 'Import throttled');
  const i = await engine.createIntegration(o.id, { provider: 'HUBSPOT', name: 'quota', accountId: '7300', apiBaseUrl: hs.url, accessToken: hs.accessToken, autoSync: false });
  const settings = { ...(i.settings as Record<string, unknown>), rateLimit: quota };
  await db.prisma.integration.update({ where: { id: i.id }, data: { settings: engine.connections.settingsToStore('HUBSPOT', settings) } });
  const before = hs.controls.requests.length;
  const t0 = performance.now();
  const job = await engine.importFromCrm(o.id, i.id);
  let done = job;
  let steadyFrom: { t: number; created: number } | null = null;
  await waitFor(async () => {
    done = await engine.importJob(o.id, job.id);
    if (!steadyFrom && done.pages >= quota.requests) steadyFrom = { t: performance.now(), created: done.created };
    return done.status !== 'running';
  }, 1_800_000, 'the throttled import');
  const tEnd = performance.now();
  const ms = tEnd - t0;
  const calls = hs.controls.requests.slice(before);
  const max = (quota.requests / quota.perMs) * 1000 * 100;
  console.log(`  ${done.status}: ${done.created} created, ${done.pages} pages in ${(ms / 1000).toFixed(1)} s -> ${((done.created / ms) * 1000).toFixed(0)} records/s overall (first window free); ${calls.length} HubSpot calls, ${calls.filter((c) => c.status === 429).length} answered 429`);
  if (steadyFrom) {
    const s0 = steadyFrom as { t: number; created: number };
    const steady = ((done.created - s0.created) / (tEnd - s0.t)) * 1000;
    console.log(`  after the first window: ${steady.toFixed(0)} records/s; the quota's maximum ${max.toFixed(0)} records/s; ratio ${(steady / max).toFixed(3)}`);
  }
  await hs.close();
}

// ---------------------------------------------------------------- 8. scale-out on PostgreSQL
// One PostgreSQL, several HubSpot portals (an instance's workers run one task per
// integration at a time: tenants are what instances share). An intake instance (workers
// off) stores the signed creation events; then worker instances, started together, apply
// them (batch read from the portal, lead created, history). The figure is events applied
// per second from the workers' start to an empty inbox: one instance, then two, each on
// fresh events of the same shape.
if (want('8')) {
  if (!postgresAvailable()) {
    console.log('\n8. scale-out: skipped (PostgreSQL is not installed)');
  } else {
    const portals = Number(process.env.BENCH_SCALE_PORTALS ?? 4);
    const perPortal = Number(process.env.BENCH_SCALE_EVENTS ?? 1500);
    console.log(`\n8. Scale-out on PostgreSQL: ${portals} HubSpot portals x ${perPortal} creation events, applied by one instance, then by two`);
    const cluster = await startPostgres();
    const shared = { DATABASE_URL: cluster.url, ENCRYPTION_KEY: randomBytes(32).toString('hex') };
    const portalsUp = await Promise.all(
      Array.from({ length: portals }, (_, i) => startHubSpotSandbox({ clientSecret: SECRET, portalId: 8100 + i, webhookTargetUrl: null, rateLimit: null })),
    );
    const contacts = portalsUp.map((hs) => Array.from({ length: 2 * perPortal }, (_, n) => hs.createContactAsUser({ email: `scale${n}@p${hs.portalId}.example`, firstname: 'Scale' })));
    const intake = await startBenchService(SECRET, false, { ...shared, WORKERS: 'false' });
    for (const hs of portalsUp) await connectHubSpotTo(intake, hs, `scale ${hs.portalId}`, true);
    const pool = new pg.Pool({ connectionString: cluster.url, max: 1 });
    const open = async () => Number((await pool.query(`SELECT count(*) AS n FROM "InboxEvent" WHERE status IN ('pending', 'processing')`)).rows[0].n);
    let eventId = 1;
    const phase = async (instances: number, part: number) => {
      for (const [k, hs] of portalsUp.entries()) {
        const mine = contacts[k].slice(part * perPortal, (part + 1) * perPortal);
        for (let i = 0; i < mine.length; i += 100) {
          const batch = mine.slice(i, i + 100).map((id) => hs.makeEvent('contact.creation', id, { eventId: eventId++ }));
          const req = hs.signedWebhook(batch, { url: intake.webhookUrl('hubspot') });
          const res = await fetch(intake.webhookUrl('hubspot'), { method: 'POST', headers: req.headers, body: req.body });
          if (res.status !== 200) throw new Error(`intake answered ${res.status}`);
          await res.arrayBuffer();
        }
      }
      const queued = await open();
      const workers = await Promise.all(Array.from({ length: instances }, () => startBenchService(SECRET, false, { ...shared, BENCH_START_WORKERS: 'later' })));
      const cpu0 = machineCpu();
      const t0 = performance.now();
      await Promise.all(workers.map((w) => w.startWorkers()));
      await waitFor(async () => (await open()) === 0, 900_000, 'the inbox to empty');
      const seconds = (performance.now() - t0) / 1000;
      const busy = machineCpu().busyFrom(cpu0);
      await Promise.all(workers.map((w) => w.stop()));
      const leads = Number((await pool.query(`SELECT count(*) AS n FROM "Lead" WHERE email LIKE 'scale%'`)).rows[0].n);
      return { queued, seconds, rate: queued / seconds, leads, busy };
    };
    const one = await phase(1, 0);
    const cores = (b: number) => `machine CPU busy ${(b * 100).toFixed(0)}% of ${os.cpus().length} cores`;
    console.log(`  1 instance:  ${one.queued} events in ${one.seconds.toFixed(1)} s -> ${one.rate.toFixed(0)} events/s (${one.leads} leads; ${cores(one.busy)})`);
    const two = await phase(2, 1);
    console.log(`  2 instances: ${two.queued} events in ${two.seconds.toFixed(1)} s -> ${two.rate.toFixed(0)} events/s (${two.leads} leads in all; ${cores(two.busy)})`);
    console.log(`  the second instance adds ${(((two.rate - one.rate) / one.rate) * 100).toFixed(0)}% of the first one's throughput (${os.cpus().length} cores shared by PostgreSQL, the instances and the portals)`);
    await pool.end();
    await intake.stop();
    for (const hs of portalsUp) await hs.close();
    await cluster.stop();
  }
}

await stack.stop();
await rm(dataDir, { recursive: true, force: true });
process.exit(0);
