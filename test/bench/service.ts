// The service under bench, in its own process (as it runs in production, and as the raw
// ceiling runs): no load generator or CRM stand-in shares its event loop, and its memory
// is its own. Started by `npm run bench` as `tsx test/bench/service.ts DATA_DIR HUBSPOT_SECRET`;
// prints one JSON line ({ url, apiKey }) once it listens, then is driven like any client
// (GraphQL with the API key, signed webhooks) and answers lines on stdin:
//   "drain"  -> waits until the inbox and outbox have nothing due, prints "drained"
//   "rss"    -> prints the highest resident set size seen (sampled every 100 ms) and what the
//               process held then: JavaScript heap, and memory outside it (PGlite's WebAssembly
//               memory, buffers), as JSON in MB; then resets it
//   "stop"   -> stops and exits (a --cpu-prof profile is written then)
import { createInterface } from 'node:readline';
import { startBenchStack } from './stack.ts';

const [dataDir, secret] = process.argv.slice(2);
// The bench is one client sending a lot: no per-key request limit.
const stack = await startBenchStack(dataDir, secret, {
  API_RATE_LIMIT_PER_MINUTE: '0',
  // `PGLITE_SHARED_BUFFERS=128MB npm run bench` compares memory settings.
  ...(process.env.PGLITE_SHARED_BUFFERS ? { PGLITE_SHARED_BUFFERS: process.env.PGLITE_SHARED_BUFFERS } : {}),
});
const mb = (bytes: number) => Math.round(bytes / 2 ** 20);
let peak = { rss: 0, heap: 0, external: 0 };
const sample = () => {
  const m = process.memoryUsage();
  if (m.rss > peak.rss * 2 ** 20) peak = { rss: mb(m.rss), heap: mb(m.heapUsed), external: mb(m.external) };
};
setInterval(sample, 100).unref();
process.stdout.write(`${JSON.stringify({ url: stack.url, apiKey: stack.apiKey })}\n`);

for await (const line of createInterface({ input: process.stdin })) {
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
    process.stdout.write(`${JSON.stringify(peak)}\n`);
    peak = { rss: 0, heap: 0, external: 0 };
  } else if (line === 'stop') {
    await stack.stop();
    process.exit(0);
  }
}
