// The HubSpot sandbox's webhook side: the app's subscriptions and settings, turning
// store changes into v3 events, batching them (up to 100 per POST), signing, sending,
// retrying (non-2xx, connection failure or a slow answer), and recording every
// delivery. On demand it duplicates, delays, reorders or concurrently redelivers.
import { randomUUID } from 'node:crypto';
import type { ChangeSource, StoreChange } from './store.ts';
import { webhookHeaders } from './signing.ts';
import type { HubSpotEvent, Subscription, WebhookBehavior, WebhookDelivery, WebhookDispatcherOptions } from './webhook-types.ts';

export type * from './webhook-types.ts';

interface Batch {
  id: string;
  events: HubSpotEvent[];
  /** Sent only once these batches were delivered or given up on. */
  after?: Promise<void>[];
  /** Resolved when this batch was delivered or given up on. */
  done?: Promise<void>;
  finish?: () => void;
}

const CHANGE_FLAG: Record<string, string> = {
  creation: 'NEW',
  propertyChange: 'UPDATED',
  deletion: 'DELETED',
  privacyDeletion: 'DELETED',
  merge: 'MERGED',
  restore: 'RESTORED',
};

export class WebhookDispatcher {
  readonly subscriptions = new Map<string, Subscription>();
  readonly deliveries: WebhookDelivery[] = [];
  /** Events that had no target URL to go to. */
  readonly undeliverable: HubSpotEvent[] = [];
  settings: { targetUrl: string; maxConcurrentRequests: number; createdAt: number; updatedAt: number } | null = null;
  behavior: WebhookBehavior = {};

  private nextSubId = 3_000_001;
  private readonly eventCounters = new Map<string, number>();
  private pending: HubSpotEvent[] = [];
  private queue: Batch[] = [];
  private batchTimer: NodeJS.Timeout | null = null;
  private inFlight = 0;
  private busy = 0; // timers (delays, retries) and sends in progress
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly controllers = new Set<AbortController>();
  private idleWaiters: (() => void)[] = [];
  private closed = false;
  /** Events are kept back (not batched or sent) until release() or flush(). */
  private held = false;

  constructor(private readonly opts: WebhookDispatcherOptions) {
    if (opts.targetUrl) {
      const t = Date.now();
      this.settings = { targetUrl: opts.targetUrl, maxConcurrentRequests: opts.maxConcurrent, createdAt: t, updatedAt: t };
    }
  }

  // ------------------------------------------------------------ subscriptions

  subscribe(eventType: string, propertyName: string | null = null, active = true): Subscription {
    const t = Date.now();
    const s: Subscription = { id: String(this.nextSubId++), eventType, propertyName, active, createdAt: t, updatedAt: t };
    this.subscriptions.set(s.id, s);
    return s;
  }

  findSubscription(eventType: string, propertyName: string | null): Subscription | undefined {
    return [...this.subscriptions.values()].find((s) => s.eventType === eventType && (s.propertyName ?? null) === (propertyName ?? null));
  }

  /** The standard set an operator configures for crm-sync (what provision() creates). */
  subscribeDefaults(properties: string[]): void {
    for (const t of ['contact.creation', 'contact.deletion', 'contact.merge', 'contact.restore', 'contact.privacyDeletion']) {
      if (!this.findSubscription(t, null)) this.subscribe(t);
    }
    for (const p of properties) if (!this.findSubscription('contact.propertyChange', p)) this.subscribe('contact.propertyChange', p);
  }

  targetUrl(): string | null {
    return this.settings?.targetUrl ?? null;
  }

  setTarget(url: string | null): void {
    const t = Date.now();
    this.settings = url ? { targetUrl: url, maxConcurrentRequests: this.opts.maxConcurrent, createdAt: this.settings?.createdAt ?? t, updatedAt: t } : null;
  }

  // ------------------------------------------------------------ events

  /** Turns a store change into one event per matching active subscription. */
  onChange(change: StoreChange): void {
    const events: HubSpotEvent[] = [];
    const base = (sub: Subscription, type: string) => this.event(sub, type, change.objectId, change.occurredAt, change.source);
    const active = [...this.subscriptions.values()].filter((s) => s.active);
    if (change.type === 'propertyChange') {
      for (const s of active) {
        if (s.eventType === 'contact.propertyChange' && s.propertyName === change.propertyName) {
          events.push({ ...base(s, 'contact.propertyChange'), propertyName: change.propertyName, propertyValue: change.propertyValue });
        }
      }
    } else {
      const type = `contact.${change.type}`;
      for (const s of active) {
        if (s.eventType !== type) continue;
        const e = base(s, type);
        if (change.type === 'merge') {
          e.primaryObjectId = Number(change.primaryObjectId);
          e.mergedObjectIds = change.mergedObjectIds.map(Number);
          e.newObjectId = Number(change.newObjectId);
          e.numberOfPropertiesMoved = change.numberOfPropertiesMoved;
        }
        events.push(e);
      }
      if (change.type === 'creation' && this.opts.propertyChangeOnCreate) {
        for (const [name, value] of Object.entries(change.props)) {
          for (const s of active) {
            if (s.eventType === 'contact.propertyChange' && s.propertyName === name) {
              events.push({ ...base(s, 'contact.propertyChange'), propertyName: name, propertyValue: value });
            }
          }
        }
      }
    }
    this.emit(events);
  }

  private event(sub: Subscription, type: string, objectId: string, occurredAt: number, source: ChangeSource): HubSpotEvent {
    // eventId counts per subscription: two events of different subscriptions share ids,
    // which is exactly why HubSpot says eventId is not unique.
    const n = (this.eventCounters.get(sub.id) ?? 0) + 1;
    this.eventCounters.set(sub.id, n);
    const e: HubSpotEvent = {
      eventId: n,
      subscriptionId: Number(sub.id),
      portalId: this.opts.portalId,
      appId: this.opts.appId,
      occurredAt,
      subscriptionType: type,
      attemptNumber: 0,
      objectId: Number(objectId),
      changeSource: source,
      changeFlag: CHANGE_FLAG[type.slice('contact.'.length)] ?? 'UPDATED',
    };
    if (source === 'CRM_UI') e.sourceId = 'userId:45678';
    return e;
  }

  /** Queues raw events (for tests that need a hand-made payload). */
  emit(events: HubSpotEvent[]): void {
    if (events.length === 0 || this.closed) return;
    if (!this.targetUrl()) {
      this.undeliverable.push(...events);
      return;
    }
    this.pending.push(...events);
    if (this.held) return;
    if (!this.batchTimer) {
      this.batchTimer = setTimeout(() => {
        this.batchTimer = null;
        this.cut();
      }, this.opts.batchWindowMs);
    }
  }

  private cut(): void {
    // A batch window opened before a hold sends nothing while held: release() cuts it.
    if (this.held) return;
    let events = this.pending;
    this.pending = [];
    if (this.behavior.reorder) events = events.slice().reverse();
    const lateRate = this.behavior.lateCreationRate ?? 0;
    const random = this.behavior.random ?? Math.random;
    const late = lateRate > 0 ? events.filter((e) => e.subscriptionType === 'contact.creation' && random() < lateRate) : [];
    if (late.length > 0) events = events.filter((e) => !late.includes(e));
    const size = Math.max(1, Math.min(100, this.behavior.batchSize ?? 100));
    const batches: Batch[] = [];
    for (let i = 0; i < events.length; i += size) batches.push(tracked({ id: randomUUID(), events: events.slice(i, i + size) }));
    if (late.length > 0) batches.push({ id: randomUUID(), events: late, after: batches.map((b) => b.done!) });
    this.queue.push(...batches);
    this.pump();
  }

  private pump(): void {
    while (!this.closed && this.inFlight < this.opts.maxConcurrent && this.queue.length > 0) {
      const batch = this.queue.shift()!;
      this.inFlight++;
      void this.run(batch).finally(() => {
        batch.finish?.();
        this.inFlight--;
        this.pump();
        this.checkIdle();
      });
    }
    this.checkIdle();
  }

  private async run(batch: Batch): Promise<void> {
    if (batch.after) await this.waitFor(batch.after);
    if (this.behavior.delayMs) await this.sleep(this.behavior.delayMs);
    const copies = Math.max(0, this.behavior.concurrentCopies ?? 0);
    for (let attempt = 0; attempt < this.opts.maxAttempts && !this.closed; attempt++) {
      if (attempt > 0) {
        const d = this.opts.retryDelaysMs;
        await this.sleep(d[Math.min(attempt - 1, d.length - 1)] ?? 0);
      }
      const kind = attempt === 0 ? 'first' : 'retry';
      const sends = [this.send(batch, attempt, kind)];
      for (let i = 0; i < copies; i++) sends.push(this.send(batch, attempt, 'concurrent'));
      const results = await Promise.all(sends);
      if (results[0]) {
        let copies = this.behavior.duplicates ?? 0;
        if ((this.behavior.duplicateRate ?? 0) > 0 && (this.behavior.random ?? Math.random)() < this.behavior.duplicateRate!) copies++;
        for (let i = 0; i < copies; i++) await this.send(batch, attempt, 'duplicate');
        return;
      }
    }
  }

  /** One POST; true when the receiver answered 2xx in time. */
  private async send(batch: Batch, attemptNumber: number, kind: WebhookDelivery['kind']): Promise<boolean> {
    const url = this.targetUrl();
    if (!url || this.closed) return false;
    const events = batch.events.map((e) => ({ ...e, attemptNumber }));
    const body = JSON.stringify(events);
    const headers = webhookHeaders({
      clientSecret: this.opts.clientSecret,
      uri: url,
      body,
      timestampMs: Date.now(),
      legacyVersion: this.opts.legacySignatureVersion,
    });
    const d: WebhookDelivery = {
      batchId: batch.id,
      attemptNumber,
      kind,
      url,
      headers,
      body,
      events,
      startedAt: Date.now(),
      finishedAt: null,
      status: null,
      error: null,
    };
    this.deliveries.push(d);
    const ac = new AbortController();
    this.controllers.add(ac);
    const timer = setTimeout(() => ac.abort(new Error(`no answer within ${this.opts.timeoutMs} ms`)), this.opts.timeoutMs);
    this.busy++;
    try {
      const res = await fetch(url, { method: 'POST', headers, body, signal: ac.signal });
      await res.arrayBuffer().catch(() => undefined);
      d.status = res.status;
      return res.status >= 200 && res.status < 300;
    } catch (e) {
      d.error = ac.signal.aborted ? String((ac.signal.reason as Error)?.message ?? 'timeout') : errorText(e);
      return false;
    } finally {
      clearTimeout(timer);
      this.controllers.delete(ac);
      d.finishedAt = Date.now();
      this.busy--;
    }
  }

  private async waitFor(batches: Promise<void>[]): Promise<void> {
    this.busy++;
    try {
      await Promise.all(batches);
    } finally {
      this.busy--;
    }
  }

  private sleep(ms: number): Promise<void> {
    this.busy++;
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        this.busy--;
        resolve();
      }, ms);
      this.timers.add(t);
    });
  }

  // ------------------------------------------------------------ idle / close

  private isIdle(): boolean {
    return this.pending.length === 0 && !this.batchTimer && this.queue.length === 0 && this.inFlight === 0 && this.busy === 0;
  }

  private checkIdle(): void {
    if (!this.isIdle()) return;
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const fn of w) fn();
  }

  /** Keeps events back from now on (a test control: both sides change before they meet). */
  hold(): void {
    this.held = true;
  }

  /** Sends what was held back, and everything from now on as it happens. */
  release(): void {
    this.held = false;
    if (this.pending.length > 0 && !this.batchTimer) this.cut();
  }

  /** Resolves once nothing is pending, in flight or waiting for a retry (held events are released first). */
  flush(): Promise<void> {
    if (this.held) this.release();
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  close(): void {
    this.closed = true;
    if (this.batchTimer) clearTimeout(this.batchTimer);
    this.batchTimer = null;
    this.pending = [];
    this.queue = [];
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const ac of this.controllers) ac.abort(new Error('sandbox closed'));
    this.busy = 0;
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const fn of w) fn();
  }
}

function tracked(b: Batch): Batch {
  b.done = new Promise<void>((resolve) => (b.finish = resolve));
  return b;
}

function errorText(e: unknown): string {
  const cause = (e as { cause?: { code?: string; message?: string } })?.cause;
  return cause?.code ?? cause?.message ?? (e instanceof Error ? e.message : String(e));
}
