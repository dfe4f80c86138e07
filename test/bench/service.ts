// The service under bench, in its own process (as it runs in production, and as the raw
// ceiling runs): no load generator or CRM stand-in shares its event loop, and its memory
// is its own. Started by `npm run bench` as `tsx test/bench/service.ts DATA_DIR HUBSPOT_SECRET`;
// prints one JSON line ({ url, apiKey }) once it listens, then is driven like any client
// (GraphQL with the API key, signed webhooks) and answers lines on stdin:
//   "drain"  -> waits until the inbox and outbox have nothing due, prints "drained"
//   "rss"    -> prints the highest resident set size seen (sampled every 100 ms) and what the
//               process held then: JavaScript heap, and memory outside it (PGlite's WebAssembly
//               memory, buffers), as JSON in MB, with the process's CPU seconds so far; then resets it
//   "gc"     -> a full garbage collection (the process runs with --expose-gc), then prints the
//               resident set size, JavaScript heap and memory outside it now, as JSON in MB
//   "start"  -> starts the engine's workers when BENCH_START_WORKERS=later held them back; prints "started"
//   "settings ID JSON" -> merges JSON into the integration's settings (e.g. a HubSpot rateLimit); prints "set"
//   "stop"   -> stops and exits (a --cpu-prof profile is written then)
//   "cpu"    -> prints the CPU time this process used so far (user + system, ms)
//   "profile-start" / "profile-stop FILE" -> CPU profile of this process between the two
//               (a window: the load only, not the start-up), written as FILE.cpuprofile; prints "ok"
// Settings the bench chooses per service pass through: DATABASE_URL, WORKERS,
// ENCRYPTION_KEY (instances sharing a database share it), PGLITE_SHARED_BUFFERS, PGLITE_INTAKE_PRIORITY_MS, INTAKE_FIRST_MS, HEAP_GROWTH_PERCENT.
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { createInterface } from 'node:readline';
import { startBenchStack } from './stack.ts';

const [dataDir, secret] = process.argv.slice(2);
// The bench is one client sending a lot: no per-key request limit.
const passed = ['DATABASE_URL', 'WORKERS', 'ENCRYPTION_KEY', 'PGLITE_SHARED_BUFFERS', 'PGLITE_INTAKE_PRIORITY_MS', 'INTAKE_FIRST_MS', 'HEAP_GROWTH_PERCENT'].filter((k) => process.env[k]);
const stack = await startBenchStack(
  dataDir,
  secret,
  // The bench is one client sending a lot: no per-key request limit.
  { API_RATE_LIMIT_PER_MINUTE: '0', ...Object.fromEntries(passed.map((k) => [k, process.env[k]!])) },
  process.env.BENCH_START_WORKERS !== 'later',
);
const mb = (bytes: number) => Math.round(bytes / 2 ** 20);
let peak = { rss: 0, heap: 0, external: 0, cpu: 0 };
const sample = () => {
  const m = process.memoryUsage();
  if (m.rss > peak.rss * 2 ** 20) peak = { rss: mb(m.rss), heap: mb(m.heapUsed), external: mb(m.external), cpu: 0 };
};
setInterval(sample, 100).unref();
process.stdout.write(`${JSON.stringify({ url: stack.url, apiKey: stack.apiKey })}\n`);

let profiler: Session | null = null;
for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'cpu') {
    const { user, system } = process.cpuUsage();
    process.stdout.write(`${(user + system) / 1000}\n`);
  } else if (line === 'profile-start') {
    profiler = new Session();
    profiler.connect();
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.start');
    process.stdout.write('ok\n');
  } else if (line.startsWith('profile-stop ') && profiler) {
    const { profile } = await profiler.post('Profiler.stop');
    profiler.disconnect();
    profiler = null;
    await writeFile(`${line.slice('profile-stop '.length)}.cpuprofile`, JSON.stringify(profile));
    process.stdout.write('ok\n');
  }
  if (line === 'drain') {
    for (;;) {
      await stack.engine.drain();
      const open = await stack.db.prisma.inboxEvent.count({ where: { status: { in: ['pending', 'processing'] } } });
      if (open === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    process.stdout.write('drained\n');
  } else if (line === 'rss') {
    sample();
    const cpu = process.cpuUsage();
    process.stdout.write(`${JSON.stringify({ ...peak, cpu: (cpu.user + cpu.system) / 1e6 })}\n`);
    peak = { rss: 0, heap: 0, external: 0, cpu: 0 };
  } else if (line === 'gc') {
    (globalThis as { gc?: () => void }).gc?.();
    await new Promise((r) => setTimeout(r, 200));
    const m = process.memoryUsage();
    process.stdout.write(`${JSON.stringify({ rss: mb(m.rss), heap: mb(m.heapUsed), external: mb(m.external) })}\n`);
  } else if (line === 'start') {
    stack.engine.start();
    process.stdout.write('started\n');
  } else if (line.startsWith('settings ')) {
    const [, id, json] = line.match(/^settings (\S+) (.*)$/)!;
    const row = await stack.db.prisma.integration.findUniqueOrThrow({ where: { id } });
    const settings = { ...(row.settings as Record<string, unknown>), ...JSON.parse(json) };
    await stack.db.prisma.integration.update({ where: { id }, data: { settings: stack.engine.connections.settingsToStore(row.provider, settings) } });
    process.stdout.write('set\n');
  } else if (line === 'stop') {
    await stack.stop();
    process.exit(0);
  }
}
