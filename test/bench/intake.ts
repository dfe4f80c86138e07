// Durable intake only, against the raw ceiling (test/bench/ceiling.ts), with the service's
// workers on or off, and optionally a CPU profile of the service process during its load
// windows only (not its start-up or the drains). Section 0 of `npm run bench` measures the
// same two cases; this runs them alone, to look at where the time goes:
//   npx tsx test/bench/intake.ts                          workers on (as section 0)
//   WORKERS=false npx tsx test/bench/intake.ts            workers off: intake alone
//   PROFILE=bench-profiles/intake npx tsx test/bench/intake.ts   profiles of the load windows
//   EVENTS=20000 ROUNDS=2 ...                             events per case, rounds of both cases
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startHubSpotSandbox } from '../../sandboxes/hubspot/server.ts';
import { startBenchService } from './service-process.ts';
import { webhookLoad } from './webhook-load.ts';

const SECRET = 'bench-hubspot-secret';
const EVENTS = Number(process.env.EVENTS ?? 20_000);
const ROUNDS = Number(process.env.ROUNDS ?? 1);
const workers = process.env.WORKERS !== 'false';
const profile = process.env.PROFILE;

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const hs = await startHubSpotSandbox({ clientSecret: SECRET, portalId: 7000, webhookTargetUrl: null, rateLimit: null });
const ceilingDir = await mkdtemp(path.join(os.tmpdir(), 'crm-sync-ceiling-'));
const child = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'ceiling.ts'), ceilingDir, SECRET], { stdio: ['ignore', 'pipe', 'inherit'] });
const svc = await startBenchService(SECRET, false, { WORKERS: String(workers) });
const { createIntegration } = await svc.gql<{ createIntegration: { id: string } }>(
  'mutation($i: CreateIntegrationInput!) { createIntegration(input: $i) { id } }',
  { i: { provider: 'HUBSPOT', name: 'intake', accountId: String(hs.portalId), apiBaseUrl: hs.url, accessToken: hs.accessToken, autoSync: false } },
);
await svc.gql('mutation($id: ID!) { enableWebhooks(integrationId: $id) { status { enabled } } }', { id: createIntegration.id });
const [line] = (await once(child.stdout!, 'data')) as [Buffer];
const ceilingUrl = (JSON.parse(line.toString()) as { url: string }).url;
const serviceUrl = svc.webhookUrl('hubspot');
const drained = () => (workers ? svc.drained() : Promise.resolve());

/** CPU time (ms) a process used so far: the ceiling's from /proc (Linux), the service's as it reports it. */
const ceilingCpu = async () => {
  const f = (await readFile(`/proc/${child.pid}/stat`, 'utf8')).split(') ')[1].split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime + stime, in clock ticks of 10 ms
};
const serviceCpu = async () => Number(await svc.command('cpu'));
/** CPU time per request of a load: robust to other processes on the machine, unlike rates. */
const cpuOf = async <T>(cpu: () => Promise<number>, requests: number, run: () => Promise<T>) => {
  const before = await cpu();
  const r = await run();
  return { ...r, cpuMs: ((await cpu()) - before) / requests };
};

const load = webhookLoad(hs);

console.log(`intake bench: workers ${workers ? 'on' : 'off'}, ${EVENTS} events per case, ${ROUNDS} round(s)`);
if (profile) await mkdir(path.dirname(profile), { recursive: true });
const cases = [
  { name: 'batches', label: 'batches of 100 events, 4 in flight', requests: Math.max(10, Math.round(EVENTS / 100)), per: 100, inFlight: 4 },
  { name: 'singles', label: '1 event per request, 8 in flight', requests: Math.max(100, Math.round(EVENTS / 10)), per: 1, inFlight: 8 },
];
for (let round = 1; round <= ROUNDS; round++) {
  for (const c of cases) {
    await load(ceilingUrl, Math.ceil(c.requests / 10), c.per, c.inFlight);
    const raw = await cpuOf(ceilingCpu, c.requests, () => load(ceilingUrl, c.requests, c.per, c.inFlight));
    await load(serviceUrl, Math.ceil(c.requests / 10), c.per, c.inFlight);
    await drained();
    if (profile) await svc.command('profile-start');
    const service = await cpuOf(serviceCpu, c.requests, () => load(serviceUrl, c.requests, c.per, c.inFlight));
    if (profile) await svc.command(`profile-stop ${path.resolve(`${profile}-${c.name}-${workers ? 'workers' : 'alone'}-${round}`)}`);
    await drained();
    const rate = (r: typeof raw) => (c.per === 1 ? r.requestsPerS : r.eventsPerS);
    const unit = c.per === 1 ? 'requests/s' : 'events/s';
    console.log(`  ${c.label}: ceiling ${rate(raw).toFixed(0)} ${unit} (p99 ${pct(raw.lat, 99).toFixed(0)} ms), crm-sync ${rate(service).toFixed(0)} (p99 ${pct(service.lat, 99).toFixed(0)} ms): ratio ${(rate(service) / rate(raw)).toFixed(2)}`);
    // Without the workers' share (WORKERS=false) this is the intake's own CPU per request.
    console.log(`    CPU per request: ceiling ${raw.cpuMs.toFixed(2)} ms, crm-sync ${service.cpuMs.toFixed(2)} ms: ratio ${(raw.cpuMs / service.cpuMs).toFixed(2)}`);
  }
}
child.kill('SIGTERM');
await Promise.all([once(child, 'exit'), svc.stop()]);
await rm(ceilingDir, { recursive: true, force: true });
await hs.close();
process.exit(0);
