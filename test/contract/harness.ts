// What the one contract suite (test/contract/suite.ts) needs from each CRM's sandbox.
// Every adapter is run through the same suite by giving it one of these.
import type {
  ChangeKind,
  CrmAdapter,
  CrmClient,
  CrmProvider,
  LeadFields,
  WebhookRequest,
  WebhookSecretSources,
} from '../../adapters/contract.ts';

export interface ContractHarness {
  provider: CrmProvider;
  adapter: CrmAdapter;
  /** A client of the adapter, connected to the sandbox over HTTP. */
  client: CrmClient;
  platformTag: string;
  /** The account the client's credentials belong to, in the form webhooks name it (what whoami must answer). */
  accountId: string;
  /** Creates a record directly in the CRM, as a person would; originTag null leaves the tag empty. */
  createRemote(fields: Partial<LeadFields>, originTag: string | null): Promise<string>;
  updateRemote(externalId: string, fields: Partial<LeadFields>): Promise<void>;
  /** Makes every change from now on carry this modification time (null: real time again). */
  setClock(at: Date | null): void;
  /** The next `count` API calls fail this way. */
  injectFault(kind: 'rate_limit' | 'server_error' | 'auth_expired' | 'not_found', count: number): void;
  /**
   * A webhook request for one change exactly as the CRM would send it, with what the
   * service holds for the integration (`held`): the suite has the adapter build what
   * verifies it (CrmAdapter.webhookSecrets), as the service does.
   */
  webhookFor(
    change: { externalId: string; kind: ChangeKind },
    tamper: 'none' | 'forged' | 'replayed',
  ): Promise<{ req: WebhookRequest; held: WebhookSecretSources }>;
  close(): Promise<void>;
}
