// Runs queued work (inbox events, outbox items) per integration, concurrently: at most
// one task per integration and queue (which keeps each integration's events in order),
// at most `concurrency` tasks in all. A task stuck on a slow CRM holds its integration
// only: the loop keeps claiming and starting work for every other integration.

/** One queue as the dispatcher drives it. */
export interface DispatchQueue {
  /** Claims due work of integrations other than `exclude`; returns the claimed ids per integration. */
  claim(exclude: string[]): Promise<Map<string, string[]>>;
  /** Processes claimed work of one integration. */
  run(integrationId: string, ids: string[]): Promise<void>;
  /** Gives claimed work back unprocessed (no attempt counted). */
  release(ids: string[]): Promise<void>;
}

export class Dispatcher {
  private running = false;
  private wake: (() => void) | null = null;
  private kicked = false;
  private loopPromise: Promise<void> | null = null;
  private readonly inFlight = new Map<string, Promise<void>>();
  private idleWaiters: (() => void)[] = [];

  constructor(
    readonly name: string,
    private readonly queue: DispatchQueue,
    private readonly opts: {
      concurrency: number;
      idleMs: number;
      onError: (err: unknown, name: string) => void;
      /**
       * Awaited before each claim when it returns a promise: what must go first (webhooks
       * being received) holds the next claim back, for a bounded time (intake-first.ts).
       */
      before?: () => Promise<void> | undefined;
    },
  ) {}

  start() {
    if (this.running) return;
    this.running = true;
    this.loopPromise = this.loop();
  }

  /**
   * New work is due. Given the integrations it belongs to, a kick for integrations that
   * all have a task in flight wakes nobody: a claim could not take their work (it skips
   * busy integrations), and each task kicks again when it ends, when its new work is
   * claimed. Under a stream of webhooks this saves a claim statement per request.
   */
  kick(integrationIds?: readonly string[]) {
    if (integrationIds && integrationIds.length > 0 && integrationIds.every((id) => this.inFlight.has(id))) return;
    this.kicked = true;
    this.wake?.();
  }

  /** Resolves once no work is due and no task is in flight (runs the work itself when not started). */
  async idle(): Promise<void> {
    if (!this.running) {
      for (;;) {
        const groups = await this.queue.claim([]);
        if (groups.size === 0) return;
        await Promise.all([...groups].map(([id, ids]) => this.queue.run(id, ids).catch((e) => this.opts.onError(e, this.name))));
      }
    }
    await new Promise<void>((resolve) => {
      this.idleWaiters.push(resolve);
      this.kick();
    });
  }

  /** Stops claiming and waits for the tasks in flight. */
  async stop() {
    this.running = false;
    this.wake?.();
    await this.loopPromise;
    await Promise.allSettled([...this.inFlight.values()]);
    for (const w of this.idleWaiters.splice(0)) w();
  }

  get isRunning() {
    return this.running;
  }

  /** Integrations with a task in flight. */
  get busy(): string[] {
    return [...this.inFlight.keys()];
  }

  private launch(integrationId: string, ids: string[]) {
    const task = this.queue
      .run(integrationId, ids)
      .catch((err) => this.opts.onError(err, this.name))
      .finally(() => {
        this.inFlight.delete(integrationId);
        this.kick();
      });
    this.inFlight.set(integrationId, task);
  }

  private async pass(): Promise<number> {
    const free = this.opts.concurrency - this.inFlight.size;
    if (free <= 0) return 0;
    const first = this.opts.before?.();
    if (first) await first;
    if (!this.running) return 0;
    const groups = await this.queue.claim([...this.inFlight.keys()]);
    let started = 0;
    const extra: string[] = [];
    for (const [integrationId, ids] of groups) {
      if (started < free && !this.inFlight.has(integrationId)) {
        this.launch(integrationId, ids);
        started++;
      } else {
        extra.push(...ids);
      }
    }
    if (extra.length) await this.queue.release(extra);
    return started;
  }

  private async loop() {
    while (this.running) {
      this.kicked = false;
      let started = 0;
      try {
        started = await this.pass();
      } catch (err) {
        this.opts.onError(err, this.name);
      }
      if (started > 0) continue;
      if (this.inFlight.size === 0 && !this.kicked) for (const w of this.idleWaiters.splice(0)) w();
      if (!this.running) break;
      if (this.kicked) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.opts.idleMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
    }
  }
}
