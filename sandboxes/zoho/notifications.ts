// Zoho "actions/watch" notification channels and their delivery to notify_url.
//
// Zoho POSTs a JSON body (no signature) for each change to every live channel whose
// events cover it. Channels expire (at most one week, one hour by default); expired
// channels stop firing. Test controls can hold deliveries back, release them in
// reverse order, duplicate them or delay them, and every attempt is recorded.
import type { Change, LeadsState } from './state.ts';

export interface Channel {
  channel_id: string;
  events: string[];
  notify_url: string;
  token: string | null;
  /** Expiry on the sandbox clock (ms). */
  expiresAt: number;
  return_affected_field_values: boolean;
  notify_on_related_action: boolean;
  resource_id: string;
}

export interface Delivery {
  channelId: string;
  url: string;
  /** The exact body sent. */
  rawBody: string;
  body: Record<string, unknown>;
  status: number | null;
  error: string | null;
  attempt: number;
}

interface Pending {
  channelId: string;
  url: string;
  rawBody: string;
  copies: number;
}

const OPERATION_EVENT: Record<Change['operation'], string> = { insert: 'create', update: 'edit', delete: 'delete' };

export class Notifier {
  readonly channels = new Map<string, Channel>();
  readonly deliveries: Delivery[] = [];
  private readonly pending: Pending[] = [];
  private readonly inflight = new Set<Promise<void>>();
  private held = false;
  private reverse = false;
  private duplicateNext = 0;
  private delayMs = 0;

  constructor(
    private readonly state: LeadsState,
    private readonly apiUrl: () => string,
  ) {}

  private lastServerTime = 0;

  /** Zoho's server_time (ms); strictly increasing, so two changes never share one. */
  private serverTime(): number {
    this.lastServerTime = Math.max(Date.now(), this.lastServerTime + 1);
    return this.lastServerTime;
  }

  liveChannels(): Channel[] {
    const now = this.state.now();
    return [...this.channels.values()].filter((c) => c.expiresAt > now);
  }

  /** The callback body Zoho sends for one change on one channel. */
  render(channel: Channel, operation: Change['operation'], ids: string[], affected: Record<string, string[]> = {}, serverTime = this.serverTime()) {
    const url = new URL(channel.notify_url);
    const query: Record<string, string> = {};
    url.searchParams.forEach((v, k) => {
      query[k] = v;
    });
    const body = {
      server_time: serverTime,
      query_params: query,
      module: 'Leads',
      resource_uri: `${this.apiUrl()}/crm/v2/Leads`,
      ids,
      affected_fields:
        operation === 'update' && channel.return_affected_field_values
          ? ids.map((id) => ({ [id]: affected[id] ?? [] }))
          : [],
      operation,
      channel_id: channel.channel_id,
      token: channel.token,
    };
    return { url: channel.notify_url, rawBody: JSON.stringify(body), body };
  }

  onChange(change: Change): void {
    const event = `Leads.${OPERATION_EVENT[change.operation]}`;
    for (const ch of this.liveChannels()) {
      if (!ch.events.includes(event) && !ch.events.includes('Leads.all')) continue;
      const { url, rawBody } = this.render(ch, change.operation, change.ids, change.affectedFields);
      const copies = this.duplicateNext > 0 ? 2 : 1;
      if (this.duplicateNext > 0) this.duplicateNext--;
      this.pending.push({ channelId: ch.channel_id, url, rawBody, copies });
    }
    if (!this.held) this.pump();
  }

  hold(): void {
    this.held = true;
  }

  /** Sends what was held; `reverse` delivers the newest first (reordering). */
  release(opts: { reverse?: boolean } = {}): void {
    this.held = false;
    this.reverse = opts.reverse ?? false;
    this.pump();
    this.reverse = false;
  }

  duplicate(n: number): void {
    this.duplicateNext = n;
  }

  delay(ms: number): void {
    this.delayMs = ms;
  }

  /** Delivers everything queued (held ones too) and waits for every attempt to finish. */
  async flush(): Promise<void> {
    if (this.held) this.release();
    else this.pump();
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  private pump(): void {
    const batch = this.pending.splice(0, this.pending.length);
    if (this.reverse) batch.reverse();
    // One chain keeps deliveries in the (possibly reversed) order they were queued.
    let chain = Promise.resolve();
    for (const p of batch) {
      for (let copy = 1; copy <= p.copies; copy++) {
        chain = chain.then(() => this.deliver(p, copy));
      }
    }
    const done = chain.finally(() => this.inflight.delete(done));
    this.inflight.add(done);
  }

  private async deliver(p: Pending, attempt: number): Promise<void> {
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    const record: Delivery = {
      channelId: p.channelId,
      url: p.url,
      rawBody: p.rawBody,
      body: JSON.parse(p.rawBody) as Record<string, unknown>,
      status: null,
      error: null,
      attempt,
    };
    this.deliveries.push(record);
    try {
      const res = await fetch(p.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'ZohoCRM-Notifications' },
        body: p.rawBody,
        signal: AbortSignal.timeout(5_000),
      });
      record.status = res.status;
      await res.arrayBuffer().catch(() => undefined);
    } catch (e) {
      record.error = e instanceof Error ? e.message : String(e);
    }
  }
}
