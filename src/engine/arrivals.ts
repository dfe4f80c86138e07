// What the inbox knows of the events arriving for each integration, in this process:
// how fast they arrive lately (to size a CRM read to the call budget, kit/limiter.ts
// paceFor), and a signal that wakes a task holding a partial batch the moment more
// events of its integration are stored, so it reads them with the next ones without a
// poll interval. Another instance's arrivals are not signalled here: a task holding
// events waits no longer than its hold (one even spacing of the budget) for them.

export type WakeReason = 'arrival' | 'timeout' | 'stop';

/** Arrivals are counted over this much time (ms), and over no less than RATE_MIN_SPAN_MS. */
export const RATE_WINDOW_MS = 1_000;
const RATE_MIN_SPAN_MS = 250;

export class Arrivals {
  /** Per integration: [time, count] of events seen lately, oldest first. */
  private readonly seen = new Map<string, [number, number][]>();
  /** Per integration: when its latest arrival signals came (the last RATE_WINDOW_MS). */
  private readonly signalTimes = new Map<string, number[]>();
  /** Per integration: how many arrival signals so far (a waiter that missed one sees it). */
  private readonly signals = new Map<string, number>();
  private readonly waiters = new Map<string, Set<(r: WakeReason) => void>>();
  private stopped = false;

  /** Counts `count` events of an integration that this process took at `at`. */
  record(integrationId: string, count: number, at = Date.now()): void {
    if (count <= 0) return;
    const list = this.seen.get(integrationId) ?? [];
    list.push([at, count]);
    this.seen.set(integrationId, list);
    this.prune(integrationId, at);
  }

  /**
   * Events per second lately: those seen over the last RATE_WINDOW_MS, over the time they
   * span (at least RATE_MIN_SPAN_MS, so one webhook alone does not look like a flood).
   */
  perSecond(integrationId: string, now = Date.now()): number {
    const list = this.prune(integrationId, now);
    if (list.length === 0) return 0;
    const count = list.reduce((n, [, c]) => n + c, 0);
    const span = Math.min(RATE_WINDOW_MS, Math.max(RATE_MIN_SPAN_MS, now - list[0]![0]));
    return (count * 1000) / span;
  }

  /**
   * When the next arrival signal for the integration is expected: its latest one plus the
   * mean gap between its signals lately (counted over at least RATE_MIN_SPAN_MS). Undefined
   * when none came lately (events stored by another instance are not signalled here).
   */
  nextArrivalAt(integrationId: string, now = Date.now()): number | undefined {
    const times = (this.signalTimes.get(integrationId) ?? []).filter((t) => t >= now - RATE_WINDOW_MS);
    if (times.length === 0) return undefined;
    const span = Math.min(RATE_WINDOW_MS, Math.max(RATE_MIN_SPAN_MS, now - times[0]!));
    return times[times.length - 1]! + span / times.length;
  }

  /** New events of these integrations are stored: wakes the tasks holding theirs. */
  notify(integrationIds: readonly string[], at = Date.now()): void {
    for (const id of integrationIds) {
      this.signals.set(id, (this.signals.get(id) ?? 0) + 1);
      const times = this.signalTimes.get(id) ?? [];
      while (times.length && times[0]! < at - RATE_WINDOW_MS) times.shift();
      times.push(at);
      this.signalTimes.set(id, times);
      const waiting = this.waiters.get(id);
      if (!waiting) continue;
      this.waiters.delete(id);
      for (const wake of waiting) wake('arrival');
    }
  }

  /** The number of arrival signals so far for an integration: pass it to wait(). */
  signalCount(integrationId: string): number {
    return this.signals.get(integrationId) ?? 0;
  }

  /** The signal counts of every integration now (read before claiming, handed to wait()). */
  snapshot(): (integrationId: string) => number {
    const copy = new Map(this.signals);
    return (id) => copy.get(id) ?? 0;
  }

  /**
   * Resolves on the next arrival signal for the integration (at once when one came after
   * `since` was read), after `ms`, or when stop() is called, whichever is first.
   */
  wait(integrationId: string, ms: number, since: number): Promise<WakeReason> {
    if (this.stopped) return Promise.resolve('stop');
    if (this.signalCount(integrationId) !== since) return Promise.resolve('arrival');
    return new Promise((resolve) => {
      const set = this.waiters.get(integrationId) ?? new Set();
      this.waiters.set(integrationId, set);
      const done = (r: WakeReason) => {
        clearTimeout(timer);
        set.delete(done);
        if (set.size === 0 && this.waiters.get(integrationId) === set) this.waiters.delete(integrationId);
        resolve(r);
      };
      const timer = setTimeout(() => done('timeout'), Math.max(0, ms));
      set.add(done);
    });
  }

  /** Wakes every waiter with 'stop', and every later wait at once. */
  stop(): void {
    this.stopped = true;
    for (const set of [...this.waiters.values()]) for (const wake of [...set]) wake('stop');
    this.waiters.clear();
  }

  private prune(integrationId: string, now: number): [number, number][] {
    const list = this.seen.get(integrationId);
    if (!list) return [];
    while (list.length && list[0]![0] < now - RATE_WINDOW_MS) list.shift();
    if (list.length === 0) this.seen.delete(integrationId);
    return list;
  }
}
