// One request log for every sandbox (its `controls.requests`): each API request with its
// method, path and the HTTP status of its answer, plus what a sandbox adds (query, body,
// headers, the fault it suffered). A sandbox records a request when it arrives (its status
// is 0 until answered) or once answered; entries are kept in the order they were recorded.
import type { LoggedRequest } from './controls.ts';

export class RequestLog<R extends LoggedRequest = LoggedRequest> {
  private readonly list: R[] = [];

  /** The requests recorded, oldest first (a live view: it grows as requests come). */
  get entries(): readonly R[] {
    return this.list;
  }

  /** Records a request (the returned entry is the one kept: set its status once answered). */
  record(entry: R): R {
    this.list.push(entry);
    return entry;
  }

  /** Forgets every request recorded so far. */
  clear(): void {
    this.list.length = 0;
  }
}
