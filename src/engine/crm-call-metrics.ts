// Counts and times every call of a CRM client (crm_sync_crm_api_* metrics).
import { isCrmError } from '../../adapters/contract.ts';
import type { Metrics } from '../metrics.ts';

/**
 * Wraps a CRM client so every method call is counted and timed, and failures are
 * counted by their CrmError code (RATE_LIMITED also as a 429). Generic: any object
 * whose methods return promises.
 */
export function measured<T extends object>(client: T, provider: string, metrics: Metrics): T {
  return new Proxy(client, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function' || typeof prop !== 'string') return value;
      return function (this: unknown, ...args: unknown[]) {
        const labels = { provider, operation: prop };
        const started = performance.now();
        const done = () => {
          metrics.crmCalls.inc(labels);
          metrics.crmLatency.observe(labels, (performance.now() - started) / 1000);
        };
        const countError = (err: unknown) => {
          const code = isCrmError(err) ? err.code : 'UNEXPECTED';
          metrics.crmErrors.inc({ provider, code });
          if (code === 'RATE_LIMITED' || (isCrmError(err) && err.status === 429)) metrics.crmRateLimited.inc({ provider });
        };
        const failed = (err: unknown) => {
          done();
          countError(err);
        };
        // Batched writes answer per input (contract WriteResult): a call-level failure
        // (a 429, a 5xx) comes back as one error object shared by the inputs it failed.
        const partial = (v: unknown) => {
          if (!Array.isArray(v)) return;
          const errors = new Set<unknown>();
          for (const r of v as { ok?: unknown; error?: unknown }[]) if (r && r.ok === false && isCrmError(r.error)) errors.add(r.error);
          for (const e of errors) countError(e);
        };
        let result: unknown;
        try {
          result = (value as (...a: unknown[]) => unknown).apply(this === receiver ? target : this, args);
        } catch (err) {
          failed(err);
          throw err;
        }
        if (result && typeof (result as Promise<unknown>).then === 'function') {
          return (result as Promise<unknown>).then(
            (v) => {
              done();
              partial(v);
              return v;
            },
            (err: unknown) => {
              failed(err);
              throw err;
            },
          );
        }
        // Synchronous helpers (cursorAt, ...) are not CRM calls.
        return result;
      };
    },
  });
}
