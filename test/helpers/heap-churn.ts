// A child process for test/ops/heap-growth.test.ts: applies the service's heap growth
// setting (argv[2], a percentage; 0 leaves V8's own rule), then allocates the way an
// import does: a steady amount of live data, and batches of short-lived objects that
// survive a few young collections (so they reach the old generation) before they become
// garbage. Prints the largest heap V8 reserved meanwhile, in MB.
import { limitHeapGrowth } from '../../src/heap-growth.ts';

limitHeapGrowth(Number(process.argv[2]));
const live = Array.from({ length: 400_000 }, (_, i) => ({ i, s: `kept ${i}` }));
const recent: unknown[][] = [];
let peak = 0;
for (let round = 0; round < 3_000; round++) {
  recent.push(Array.from({ length: 1_000 }, (_, i) => ({ round, i, s: `row ${round} ${i}` })));
  if (recent.length > 100) recent.shift();
  if (round % 20 === 0) {
    await new Promise((r) => setImmediate(r));
    peak = Math.max(peak, process.memoryUsage().heapTotal);
  }
}
process.stdout.write(`${JSON.stringify({ peakMb: Math.round(peak / 2 ** 20), live: live.length })}\n`);
