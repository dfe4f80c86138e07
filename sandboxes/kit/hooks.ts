// Code a test runs around the API calls a sandbox serves: before a matching call is
// processed (e.g. to race a write) or right after it was applied and before it is
// answered (e.g. a person editing a record the client just wrote), each for a number of
// calls.
import { type RequestMatch, matches } from './match.ts';

export class RequestHooks<A extends unknown[] = []> {
  private readonly hooks: { match: RequestMatch; fn: (...args: A) => void | Promise<void>; remaining: number }[] = [];

  add(match: RequestMatch, fn: (...args: A) => void | Promise<void>, count = 1): void {
    this.hooks.push({ match, fn, remaining: count });
  }

  /** Runs (in the order they were added) the hooks this call matches. */
  async run(method: string, path: string, ...args: A): Promise<void> {
    for (const h of this.hooks) {
      if (h.remaining > 0 && matches(h.match, method, path)) {
        h.remaining--;
        await h.fn(...args);
      }
    }
  }
}
