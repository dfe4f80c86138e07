// Outbound Messages as Salesforce sends them: a SOAP `notifications` envelope with up to
// 100 Notification elements, POSTed to the endpoint; anything but a notificationsResponse
// with <Ack>true</Ack> is a failure and the notifications are sent again later. The sObject
// data is read when the message is SENT (a record edited twice before delivery shows its
// latest values in both notifications), null fields are omitted.
import { XMLParser } from 'fast-xml-parser';
import { IdFactory, KEY_PREFIX, to15 } from './ids.ts';
import type { LeadStore, StoredLead } from './store.ts';

export interface OutboundConfig {
  /** Where notifications are POSTed; null disables the outbound message. */
  targetUrl: string | null;
  /** Lead fields carried in each notification (Id is always included). */
  fields: string[];
  /** Which changes fire the message. */
  on: { create: boolean; update: boolean };
  /** Updates fire only when one of these fields changed (empty: any update). */
  triggerFields: string[];
  /** Delays before each retry; the last one repeats. */
  retryIntervalsMs: number[];
  /** Attempts per notification before it is dropped (Salesforce gives up after 24 h). */
  maxAttempts: number;
  /** Notifications per message (Salesforce: up to 100). */
  maxPerMessage: number;
  /** A receiver slower than this counts as a failed delivery. */
  responseTimeoutMs: number;
  /** Send queued notifications at once (false: only on flush). */
  auto: boolean;
  /** Send a session id ("Send Session ID" checked). */
  sendSessionId: boolean;
}

export const DEFAULT_OUTBOUND_FIELDS = [
  'Email',
  'FirstName',
  'LastName',
  'Phone',
  'Company',
  'Status',
  'Lead_Source_System__c',
  'CreatedDate',
  'LastModifiedDate',
  'SystemModstamp',
];

export function defaultOutboundConfig(): OutboundConfig {
  return {
    targetUrl: null,
    fields: [...DEFAULT_OUTBOUND_FIELDS],
    on: { create: true, update: true },
    triggerFields: [],
    retryIntervalsMs: [25, 50, 100, 200],
    maxAttempts: 50,
    maxPerMessage: 100,
    responseTimeoutMs: 5_000,
    auto: true,
    sendSessionId: false,
  };
}

export interface OutboundDelivery {
  seq: number;
  at: Date;
  notificationIds: string[];
  leadIds: string[];
  /** HTTP status, null when the request itself failed. */
  status: number | null;
  acked: boolean;
  error: string | null;
  /** True for the extra copy sent by duplicateNext(). */
  duplicate: boolean;
  body: string;
}

interface Pending {
  notificationId: string;
  leadId: string;
  attempts: number;
  dueAt: number;
  /** State captured when the record was deleted before delivery. */
  snapshot: StoredLead | null;
}

export interface EnvelopeContext {
  organizationId: string;
  actionId: string;
  instanceUrl: string;
  apiVersion: string;
  sessionId: string | null;
}

const ackParser = new XMLParser({ removeNSPrefix: true, parseTagValue: false });

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

function soapValue(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (v instanceof Date) return v.toISOString();
  return String(v);
}

/** Builds the SOAP envelope exactly as Salesforce lays it out. */
export function buildEnvelope(
  ctx: EnvelopeContext,
  items: { notificationId: string; lead: StoredLead }[],
  fields: string[],
): string {
  const orgId15 = to15(ctx.organizationId);
  const lines: string[] = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">',
    ' <soapenv:Body>',
    '  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">',
    `   <OrganizationId>${esc(ctx.organizationId)}</OrganizationId>`,
    `   <ActionId>${esc(ctx.actionId)}</ActionId>`,
    ctx.sessionId ? `   <SessionId>${esc(ctx.sessionId)}</SessionId>` : '   <SessionId xsi:nil="true"/>',
    `   <EnterpriseUrl>${esc(`${ctx.instanceUrl}/services/Soap/c/${ctx.apiVersion}/${orgId15}`)}</EnterpriseUrl>`,
    `   <PartnerUrl>${esc(`${ctx.instanceUrl}/services/Soap/u/${ctx.apiVersion}/${orgId15}`)}</PartnerUrl>`,
  ];
  for (const { notificationId, lead } of items) {
    lines.push('   <Notification>', `    <Id>${esc(notificationId)}</Id>`);
    lines.push('    <sObject xsi:type="sf:Lead" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">');
    lines.push(`     <sf:Id>${esc(String(lead.values.Id))}</sf:Id>`);
    for (const f of fields) {
      if (f === 'Id') continue;
      const v = soapValue(lead.values[f]);
      if (v !== null) lines.push(`     <sf:${f}>${esc(v)}</sf:${f}>`);
    }
    lines.push('    </sObject>', '   </Notification>');
  }
  lines.push('  </notifications>', ' </soapenv:Body>', '</soapenv:Envelope>');
  return lines.join('\n');
}

/** True when a receiver's answer is a notificationsResponse acknowledging the message. */
export function isAck(status: number, body: string): boolean {
  if (status < 200 || status >= 300) return false;
  try {
    const doc = ackParser.parse(body) as Record<string, any>;
    const ack = doc?.Envelope?.Body?.notificationsResponse?.Ack;
    return String(ack).trim() === 'true';
  } catch {
    return false;
  }
}

export class OutboundDispatcher {
  config: OutboundConfig = defaultOutboundConfig();
  readonly deliveries: OutboundDelivery[] = [];
  private queue: Pending[] = [];
  private readonly notificationIds = new IdFactory(KEY_PREFIX.outboundNotification);
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private closed = false;
  private seq = 0;
  private duplicateCount = 0;
  private reorderCount = 0;
  private delays: number[] = [];
  private readonly inflight = new Set<AbortController>();
  private drainWaiters: (() => void)[] = [];

  constructor(
    private readonly store: LeadStore,
    private readonly ctx: () => EnvelopeContext,
  ) {
    store.onChange(({ kind, id, lead, changedFields }) => this.onChange(kind, id, lead, changedFields));
  }

  private onChange(kind: 'created' | 'updated' | 'deleted', id: string, lead: StoredLead, changedFields: string[]): void {
    const c = this.config;
    if (!c.targetUrl) return;
    if (kind === 'deleted') {
      // Workflow does not fire on delete; queued notifications keep the last state.
      for (const p of this.queue) if (to15(p.leadId) === to15(id)) p.snapshot = { ...lead, values: { ...lead.values } };
      return;
    }
    if (kind === 'created' && !c.on.create) return;
    if (kind === 'updated' && (!c.on.update || !this.shouldFire(changedFields))) return;
    this.queue.push({ notificationId: this.notificationIds.make(), leadId: id, attempts: 0, dueAt: 0, snapshot: null });
    if (c.auto) this.schedule(0);
  }

  /** Updates fire only when they touch a trigger field (any field when none is configured). */
  private shouldFire(changedFields: string[]): boolean {
    const t = this.config.triggerFields;
    return t.length === 0 || changedFields.some((f) => t.some((x) => x.toLowerCase() === f.toLowerCase()));
  }

  pending(): number {
    return this.queue.length;
  }

  duplicateNext(n = 1): void {
    this.duplicateCount += n;
  }

  reorderNext(n = 1): void {
    this.reorderCount += n;
  }

  delayNext(ms: number, n = 1): void {
    for (let i = 0; i < n; i++) this.delays.push(ms);
  }

  /** The envelope Salesforce would send now for these Leads (nothing is queued or sent). */
  envelopeFor(leadIds: string[], opts: { organizationId?: string; notificationIds?: string[] } = {}): { body: string; notificationIds: string[] } {
    const notificationIds = leadIds.map((_, i) => opts.notificationIds?.[i] ?? this.notificationIds.make());
    const items = leadIds.map((id, i) => {
      const lead = this.store.get(id) ?? this.store.getDeleted(id);
      if (!lead) throw new Error(`no Lead ${id}`);
      return { notificationId: notificationIds[i], lead };
    });
    const ctx = { ...this.ctx(), ...(opts.organizationId ? { organizationId: opts.organizationId } : {}) };
    return { body: buildEnvelope(ctx, items, this.config.fields), notificationIds };
  }

  private schedule(delayMs: number): void {
    if (this.closed || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.run();
    }, delayMs);
  }

  private run(): Promise<void> {
    if (!this.running) {
      this.running = this.dispatchDue().finally(() => {
        this.running = null;
        this.afterRun();
      });
    }
    return this.running;
  }

  private afterRun(): void {
    if (this.queue.length === 0) {
      const waiters = this.drainWaiters;
      this.drainWaiters = [];
      for (const w of waiters) w();
      return;
    }
    if (!this.config.auto && this.drainWaiters.length === 0) return;
    const next = Math.min(...this.queue.map((p) => p.dueAt));
    this.schedule(Math.max(0, next - Date.now()));
  }

  private async dispatchDue(): Promise<void> {
    while (!this.closed) {
      // Held (auto off) and nobody flushing: a timer set before the hold sends nothing.
      if (!this.config.auto && this.drainWaiters.length === 0) return;
      const now = Date.now();
      let due = this.queue.filter((p) => p.dueAt <= now);
      if (due.length === 0 || !this.config.targetUrl) return;
      if (this.reorderCount > 0) {
        this.reorderCount--;
        due = due.reverse();
      }
      const batch = due.slice(0, Math.max(1, Math.min(100, this.config.maxPerMessage)));
      await this.send(batch);
    }
  }

  private async send(batch: Pending[]): Promise<void> {
    const items = batch.flatMap((p) => {
      const lead = p.snapshot ?? this.store.get(p.leadId) ?? this.store.getDeleted(p.leadId);
      return lead ? [{ notificationId: p.notificationId, lead }] : [];
    });
    const ctx = this.ctx();
    const body = buildEnvelope({ ...ctx, sessionId: this.config.sendSessionId ? ctx.sessionId : null }, items, this.config.fields);
    const delay = this.delays.shift();
    if (delay) await new Promise((r) => setTimeout(r, delay));
    const copies = this.duplicateCount > 0 ? 2 : 1;
    if (copies === 2) this.duplicateCount--;
    let acked = false;
    for (let i = 0; i < copies; i++) {
      const ok = await this.post(batch, body, i === 1);
      acked = acked || ok;
    }
    const now = Date.now();
    const ids = new Set(batch.map((p) => p.notificationId));
    if (acked) {
      this.queue = this.queue.filter((p) => !ids.has(p.notificationId));
      return;
    }
    const intervals = this.config.retryIntervalsMs.length > 0 ? this.config.retryIntervalsMs : [1000];
    for (const p of batch) {
      p.attempts++;
      p.dueAt = now + intervals[Math.min(p.attempts - 1, intervals.length - 1)];
    }
    this.queue = this.queue.filter((p) => p.attempts < this.config.maxAttempts);
  }

  private async post(batch: Pending[], body: string, duplicate: boolean): Promise<boolean> {
    const target = this.config.targetUrl!;
    const delivery: OutboundDelivery = {
      seq: ++this.seq,
      at: new Date(),
      notificationIds: batch.map((p) => p.notificationId),
      leadIds: batch.map((p) => p.leadId),
      status: null,
      acked: false,
      error: null,
      duplicate,
      body,
    };
    this.deliveries.push(delivery);
    const ac = new AbortController();
    this.inflight.add(ac);
    const timeout = setTimeout(() => ac.abort(new Error('receiver timed out')), this.config.responseTimeoutMs);
    try {
      const res = await fetch(target, {
        method: 'POST',
        headers: { 'content-type': 'text/xml; charset=utf-8', soapaction: '""' },
        body,
        signal: ac.signal,
      });
      const text = await res.text();
      delivery.status = res.status;
      delivery.acked = isAck(res.status, text);
      if (!delivery.acked) delivery.error = `not acknowledged (HTTP ${res.status})`;
    } catch (e) {
      delivery.error = e instanceof Error ? e.message : String(e);
    } finally {
      clearTimeout(timeout);
      this.inflight.delete(ac);
    }
    return delivery.acked;
  }

  /**
   * Sends everything queued now, retries waiting included, and resolves once every
   * notification was acknowledged. Rejects when that does not happen within timeoutMs.
   */
  async flush(opts: { timeoutMs?: number } = {}): Promise<OutboundDelivery[]> {
    const from = this.deliveries.length;
    if (this.queue.length === 0 && !this.running) return [];
    for (const p of this.queue) p.dueAt = 0;
    const drained = new Promise<void>((resolve) => this.drainWaiters.push(resolve));
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.running) await this.running;
    void this.run();
    const timeoutMs = opts.timeoutMs ?? 5_000;
    let t: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      t = setTimeout(
        () => reject(new Error(`outbound notifications not acknowledged within ${timeoutMs} ms (${this.queue.length} pending)`)),
        timeoutMs,
      );
    });
    try {
      await Promise.race([drained, timedOut]);
    } finally {
      clearTimeout(t);
    }
    return this.deliveries.slice(from);
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const ac of this.inflight) ac.abort(new Error('sandbox closed'));
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }
}
