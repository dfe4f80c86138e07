// The Salesforce CrmClient: one connection (connection.ts) and the reads, writes and
// provisioning done over it, each in its own file. No jsforce type leaves this folder:
// every method returns contract types and throws CrmError only (errors.ts).
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
import { SalesforceConnection } from './connection.ts';
import * as fields from './fields.ts';
import { markReserved } from '../kit/skip.ts';
import * as provisioning from './provisioning.ts';
import * as reads from './reads.ts';
import { pushLeads } from './writes.ts';

export { API_VERSION, resolveSettings, SALESFORCE_HOSTS, type SalesforceSettings } from './connection.ts';
export { outboundFields } from './provisioning.ts';
export { MAX_COLLECTION } from './writes.ts';

export class SalesforceClient implements CrmClient {
  readonly provider = 'SALESFORCE' as const;
  readonly originField: string;
  readonly externalIdField: string;
  readonly callOptionsClient: string;
  private readonly sf: SalesforceConnection;

  constructor(opts: ConnectionOptions) {
    this.sf = new SalesforceConnection(opts);
    this.originField = this.sf.originField;
    this.externalIdField = this.sf.externalIdField;
    this.callOptionsClient = this.sf.callOptionsClient;
  }

  whoami(): Promise<{ accountId: string }> {
    return this.sf.whoami();
  }

  readRecords(ids: string[]): Promise<CrmRecord[]> {
    return reads.readRecords(this.sf, ids);
  }

  async listFields(): Promise<CrmField[]> {
    return markReserved(await fields.listFields(this.sf), [this.sf.originField, this.sf.externalIdField]);
  }

  listPage(cursor: string | null, pageSize: number): Promise<Page> {
    return reads.listPage(this.sf, cursor, pageSize);
  }

  changesSince(cursor: string | null, limit: number): Promise<Page> {
    return reads.changesSince(this.sf, cursor, limit);
  }

  cursorAt(time: Date): string {
    return reads.cursorAt(time);
  }

  cursorTime(cursor: string): Date {
    return reads.cursorTime(cursor);
  }

  pushLeads(leads: OutboundLead[], originTag: string): Promise<WriteResult[]> {
    return pushLeads(this.sf, leads, originTag);
  }

  prepare(tagValues: string[]): Promise<PrepareReport> {
    return provisioning.prepare(this.sf, tagValues);
  }

  provision(opts: ProvisionOptions): Promise<ProvisionReport> {
    return provisioning.provision(this.sf, opts);
  }
}
