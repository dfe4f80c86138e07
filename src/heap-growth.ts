// How far the JavaScript heap may grow between full garbage collections. V8 sets the
// next collection's threshold at what the last one kept times a factor it adapts, up to
// four when collections look cheap next to the work done. An import or a flood of
// webhooks allocates fast and briefly (a page of records, its statements' parameters and
// results), so V8 lets garbage pile up: through a 100,000-record import the heap peaked
// at 190-260 MB while a full collection kept 60-70 MB. The factor below keeps the peak
// near what is live; `npm run bench` (section 7) printed the same import rate either way.
//
// V8 reads the flag each time it sets a threshold, so it applies when set after start-up:
// the service sets it from its configuration, once, before anything else runs.
import v8 from 'node:v8';

/** Sets V8's heap growing factor to 1 + percent/100; 0 leaves V8's own adaptive factor. */
export function limitHeapGrowth(percent: number): void {
  if (!Number.isInteger(percent) || percent < 0) throw new RangeError(`heap growth must be a whole, non-negative percentage, got ${percent}`);
  if (percent > 0) v8.setFlagsFromString(`--heap-growing-percent=${percent}`);
}
