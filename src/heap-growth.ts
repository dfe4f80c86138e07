// How far the JavaScript heap may grow between full garbage collections. V8 sets the
// next collection's threshold at what the last one kept times a factor it adapts to how
// fast collections are next to allocation, up to 4 on a machine with plenty of memory
// (MemoryController::GrowingFactor in V8's src/heap/heap-controller.cc). An import or a
// flood of webhooks allocates fast and briefly (a page of records, its statements'
// parameters and results), so V8 lets garbage pile up: through a 100,000-record import
// the heap peaked at 190-260 MB while a full collection kept 60-70 MB. With the factor
// fixed below, it peaked at 80-85 MB; side-by-side runs of `npm run bench` section 7
// (50,000 records, alternating settings) showed no loss of import rate.
//
// The same function reads the flag `--heap-growing-percent` every time it sets a
// threshold, and when it is set it replaces the adaptive factor: so it takes effect when
// set after start-up. It is V8's flag, not a documented Node option: if a Node upgrade
// dropped it, test/ops/heap-growth.test.ts would fail.
import v8 from 'node:v8';

/** Sets V8's heap growing factor to 1 + percent/100; 0 leaves V8's own adaptive factor. */
export function limitHeapGrowth(percent: number): void {
  if (!Number.isInteger(percent) || percent < 0) throw new RangeError(`heap growth must be a whole, non-negative percentage, got ${percent}`);
  if (percent > 0) v8.setFlagsFromString(`--heap-growing-percent=${percent}`);
}
