// Per-API-key rate limit: a token bucket per key, in memory, per instance. A bucket holds
// at most `perMinute` tokens and refills continuously at perMinute/60 per second, so a
// key may burst up to a minute's allowance and then sustain the rate. With N instances
// behind a balancer a key gets up to N times the rate.
import { AppError } from '../errors.ts';

export interface RateLimitDecision {
  allowed: boolean;
  /** Whole seconds until one request would be allowed (0 when allowed). */
  retryAfterSeconds: number;
  remaining: number;
  limit: number;
}

export interface RateLimiter {
  /** Takes one token of `key`'s bucket. */
  take(key: string): RateLimitDecision;
}

/** Buckets idle this long are full again and are dropped. */
const IDLE_DROP_MS = 10 * 60_000;

export function createRateLimiter(perMinute: number, now: () => number = Date.now): RateLimiter {
  const buckets = new Map<string, { tokens: number; at: number }>();
  const perMs = perMinute / 60_000;
  let lastSweep = now();

  function sweep(t: number) {
    if (t - lastSweep < IDLE_DROP_MS) return;
    lastSweep = t;
    for (const [k, b] of buckets) if (t - b.at > Math.max(IDLE_DROP_MS, 60_000)) buckets.delete(k);
  }

  return {
    take(key) {
      if (perMinute <= 0) return { allowed: true, retryAfterSeconds: 0, remaining: Number.POSITIVE_INFINITY, limit: 0 };
      const t = now();
      sweep(t);
      const b = buckets.get(key) ?? { tokens: perMinute, at: t };
      b.tokens = Math.min(perMinute, b.tokens + (t - b.at) * perMs);
      b.at = t;
      buckets.set(key, b);
      if (b.tokens >= 1) {
        b.tokens -= 1;
        return { allowed: true, retryAfterSeconds: 0, remaining: Math.floor(b.tokens), limit: perMinute };
      }
      const waitMs = (1 - b.tokens) / perMs;
      return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)), remaining: 0, limit: perMinute };
    },
  };
}

export function rateLimited(decision: RateLimitDecision): AppError {
  return new AppError('RATE_LIMITED', `Too many requests for this API key (${decision.limit} per minute). Retry in ${decision.retryAfterSeconds} s.`, {
    details: { retryAfterSeconds: decision.retryAfterSeconds },
  });
}
