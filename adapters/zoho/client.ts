// The Zoho CRM CrmClient (REST API v7, module Leads): one connection (connection.ts) and
// the reads, writes and provisioning done over it, each in its own file.
import type {
  ConnectionOptions,
  CrmClient,
  CrmField,
  CrmRecord,
  OutboundLead,
  Page,
  PrepareReport,
  ProvisionOptions,
  ProvisionReport,
  WriteResult,
} from '../contract.ts';
import { ZohoConnection, type ZohoDeps, type ZohoSettings } from './connection.ts';
import * as fields from './fields.ts';
import { markReserved } from '../kit/skip.ts';
import * as provisioning from './provisioning.ts';
import * as reads from './reads.ts';
import { pushLeads } from './writes.ts';

export { readSettings, type WriteStrategy, type ZohoDeps, type ZohoSettings } from './connection.ts';
export { BUILTIN_TAG_VALUES, CHANNEL_EXPIRY_MARGIN_MS, isZohoChannelId, WATCH_EVENTS } from './provisioning.ts';

export class ZohoClient implements CrmClient {
  readonly provider = 'ZOHO' as const;
  private readonly conn: ZohoConnection;

  constructor(opts: ConnectionOptions, deps: ZohoDeps = {}) {
    this.conn = new ZohoConnection(opts, deps);
  }

  get originField(): string {
    return this.conn.originField;
  }

  /** The settings in force (what provision() would persist). */
  currentSettings(): ZohoSettings {
    return this.conn.currentSettings();
  }

  whoami(): Promise<{ accountId: string }> {
    return this.conn.whoami();
  }

  readRecords(ids: string[]): Promise<CrmRecord[]> {
    return reads.readRecords(this.conn, ids);
  }

  async listFields(): Promise<CrmField[]> {
    return markReserved(await fields.listFields(this.conn), [this.conn.originField]);
  }

  listPage(cursor: string | null, pageSize: number): Promise<Page> {
    return reads.listPage(this.conn, cursor, pageSize);
  }

  changesSince(cursor: string | null, limit: number): Promise<Page> {
    return reads.changesSince(this.conn, cursor, limit);
  }

  cursorAt(time: Date): string {
    return reads.cursorAt(time);
  }

  cursorTime(cursor: string): Date {
    return reads.cursorTime(cursor);
  }

  pushLeads(leads: OutboundLead[], originTag: string): Promise<WriteResult[]> {
    return pushLeads(this.conn, leads, originTag);
  }

  prepare(tagValues: string[]): Promise<PrepareReport> {
    return provisioning.prepare(this.conn, tagValues);
  }

  provision(opts: ProvisionOptions): Promise<ProvisionReport> {
    return provisioning.provision(this.conn, opts);
  }

  /** Extends the notification channel (channels live at most a week). Re-creates it if it lapsed. */
  renewWebhooks(opts: ProvisionOptions): Promise<ProvisionReport> {
    return provisioning.renewWebhooks(this.conn, opts);
  }

  unprovision(): Promise<void> {
    return provisioning.unprovision(this.conn);
  }
}

export function connectZoho(opts: ConnectionOptions, deps: ZohoDeps = {}): ZohoClient {
  return new ZohoClient(opts, deps);
}
