// The HubSpot sandbox's rate limits (per-token rolling window, search per second, daily
// allowance, with HubSpot's X-HubSpot-RateLimit-* headers) and how it renders the faults a
// test injects, in HubSpot's error format.
import { HttpError, errorBody } from './api.ts';
import type { SandboxFault } from './types.ts';

type Policy = 'TEN_SECONDLY_ROLLING' | 'DAILY' | 'SECONDLY';
type Limit = { requests: number; perMs: number } | null;

export class RateLimits {
  private readonly windowHits = new Map<string, number[]>();
  private readonly searchHits: number[] = [];
  private dailyUsed = 0;

  constructor(
    public rateLimit: Limit,
    private readonly searchLimit: Limit,
    private readonly dailyLimit: number,
  ) {}

  headers(key: string): Record<string, string> {
    const hits = this.windowHits.get(key) ?? [];
    const h: Record<string, string> = {
      'X-HubSpot-RateLimit-Daily': String(this.dailyLimit),
      'X-HubSpot-RateLimit-Daily-Remaining': String(Math.max(0, this.dailyLimit - this.dailyUsed)),
    };
    if (this.rateLimit) {
      h['X-HubSpot-RateLimit-Max'] = String(this.rateLimit.requests);
      h['X-HubSpot-RateLimit-Remaining'] = String(Math.max(0, this.rateLimit.requests - hits.length));
      h['X-HubSpot-RateLimit-Interval-Milliseconds'] = String(this.rateLimit.perMs);
    }
    return h;
  }

  limited(policy: Policy, retryAfterSeconds: number | null, key: string): HttpError {
    const message =
      policy === 'DAILY'
        ? 'You have reached your daily limit.'
        : policy === 'SECONDLY'
          ? 'You have reached your secondly limit.'
          : 'You have reached your ten_secondly_rolling limit.';
    const headers = this.headers(key);
    if (policy !== 'DAILY' && retryAfterSeconds !== null) headers['Retry-After'] = String(retryAfterSeconds);
    return new HttpError(429, errorBody(message, 'RATE_LIMITS', { errorType: 'RATE_LIMIT', policyName: policy, groupName: 'publicapi:private-apps' }), headers);
  }

  /** Counts a call of token `key` (a search also against the search limit); throws the 429 when over. */
  check(key: string, isSearch: boolean): void {
    const now = Date.now();
    if (this.dailyUsed >= this.dailyLimit) throw this.limited('DAILY', null, key);
    const limit = this.rateLimit;
    if (limit) {
      const hits = (this.windowHits.get(key) ?? []).filter((t) => t > now - limit.perMs);
      this.windowHits.set(key, hits);
      if (hits.length >= limit.requests) {
        throw this.limited('TEN_SECONDLY_ROLLING', Math.max(1, Math.ceil((hits[0]! + limit.perMs - now) / 1000)), key);
      }
      hits.push(now);
    }
    if (isSearch && this.searchLimit) {
      const searchHits = this.searchHits;
      while (searchHits.length > 0 && searchHits[0]! <= now - this.searchLimit.perMs) searchHits.shift();
      if (searchHits.length >= this.searchLimit.requests) throw this.limited('SECONDLY', 1, key);
      searchHits.push(now);
    }
    this.dailyUsed++;
  }

  /** Throws the answer of an injected fault (latency and lost_response are the server's). */
  applyFault(f: SandboxFault, key: string): void {
    switch (f.kind) {
      case 'rate_limit': {
        const policy = f.policy ?? 'TEN_SECONDLY_ROLLING';
        throw this.limited(policy, f.retryAfterSeconds ?? (policy === 'SECONDLY' ? 1 : 2), key);
      }
      case 'server_error':
        throw new HttpError(f.status ?? 502, errorBody('internal error', 'INTERNAL_ERROR'));
      case 'auth_expired':
        throw new HttpError(401, errorBody('The OAuth token used to make this call expired 5 second(s) ago.', 'EXPIRED_AUTHENTICATION'));
      case 'forbidden':
        throw new HttpError(
          403,
          errorBody("This app hasn't been granted all required scopes to make this call.", 'MISSING_SCOPES', {
            errors: [{ message: 'One or more of the following scopes are required.', context: { requiredScopes: ['crm.objects.contacts.write'] } }],
          }),
        );
      case 'not_found':
        throw new HttpError(404, errorBody('resource not found', 'OBJECT_NOT_FOUND'));
      default:
        return;
    }
  }
}
