// The HubSpot CrmClient: one connection (connection.ts) and the reads, writes and
// provisioning done over it, each in its own file.
import type {
  BudgetDemand,
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
import { HubSpotConnection } from './connection.ts';
import * as fields from './fields.ts';
import { markReserved } from '../kit/skip.ts';
import { ORIGIN_PROPERTY } from './mappers.ts';
import * as provisioning from './provisioning.ts';
import * as reads from './reads.ts';
import { pushLeads } from './writes.ts';

export { HUBSPOT_API_HOSTS } from './connection.ts';

export class HubSpotClient implements CrmClient {
  readonly provider = 'HUBSPOT' as const;
  readonly originField = ORIGIN_PROPERTY;
  private readonly conn: HubSpotConnection;

  constructor(opts: ConnectionOptions) {
    this.conn = new HubSpotConnection(opts);
  }

  whoami(): Promise<{ accountId: string }> {
    return this.conn.whoami();
  }

  budgetWaitMs(demand?: BudgetDemand): number {
    return this.conn.budgetWaitMs(demand);
  }

  readRecords(ids: string[], opts?: { history?: boolean }): Promise<CrmRecord[]> {
    return reads.readRecords(this.conn, ids, opts);
  }

  async listFields(): Promise<CrmField[]> {
    return markReserved(await fields.listFields(this.conn), [ORIGIN_PROPERTY]);
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

  unprovision(): Promise<void> {
    return provisioning.unprovision(this.conn);
  }
}
