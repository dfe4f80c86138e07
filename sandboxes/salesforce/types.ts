// The Salesforce sandbox's public types: its options, faults, request log entries, the
// Lead snapshots its controls answer, its controls and the sandbox object.
import type { LoggedRequest, SandboxControls } from '../kit/controls.ts';
import type { FaultKind, FaultPlan } from '../kit/faults.ts';
import type { OutboundConfig, OutboundDelivery } from './outbound.ts';
import type { FieldDef, SfError } from './store.ts';

/** The kit's fault kinds the Salesforce sandbox renders. */
export type SandboxFault = Extract<FaultKind, 'rate_limit' | 'server_error' | 'auth_expired' | 'not_found' | 'network' | 'latency'>;

export interface SalesforceSandboxOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Loopback only: 127.0.0.1 by default. */
  host?: string;
  organizationId?: string;
  /** OAuth: the connected app's client id/secret the token endpoint accepts. */
  clientId?: string;
  clientSecret?: string;
  /** Initial tokens (generated when absent). */
  accessToken?: string;
  refreshToken?: string;
  /** The token endpoint returns a new refresh token and revokes the old one. */
  rotateRefreshTokens?: boolean;
  /**
   * The `instance_url` the token endpoint answers (the OAuth token response names "the
   * instance of the user's org"; an org can move). Default: the sandbox's own URL.
   */
  tokenInstanceUrl?: string;
  /** Callback URLs of the connected app (OAuth web server flow); none by default. */
  callbackUrls?: string[];
  /** Scopes the connected app allows (default api, refresh_token, offline_access, id, openid). */
  allowedScopes?: string[];
  /** Access token lifetime in seconds on the sandbox clock (the org's session timeout); default: no expiry. */
  accessTokenTtlSeconds?: number | null;
  /** Daily API request allowance reported in Sforce-Limit-Info (default 15000). */
  apiLimit?: number;
  /** Active duplicate rule (blocks with DUPLICATES_DETECTED): true matches on Email; or the fields that must all match. Default off. */
  duplicateRule?: boolean | { fields: string[] };
  /** Custom origin field; null leaves it out of the org. Default Lead_Source_System__c (Text 255). */
  originField?: string | null;
  /** Custom External ID field; null leaves it out. Default Platform_Lead_Id__c (Text 255, External ID, Unique). */
  externalIdField?: string | null;
  /** Forces query batches of this size (Salesforce may return smaller batches than asked). */
  queryBatchSize?: number | null;
  outbound?: Partial<OutboundConfig>;
}

export interface RecordedRequest extends LoggedRequest {
  query: string;
  /** The Sforce-Call-Options header, when sent. */
  callOptions: string | null;
  authorization: string | null;
}

export interface LeadSnapshot {
  /** Field values with API names; datetimes as Date. */
  values: Record<string, unknown>;
  deleted: boolean;
  createdByClient: string | null;
  /** The `client` of the Sforce-Call-Options of the last write (null: a person in the UI). */
  lastModifiedByClient: string | null;
}

export class SandboxWriteError extends Error {
  constructor(readonly errors: SfError[]) {
    super(errors.map((e) => `${e.errorCode}: ${e.message}`).join('; '));
  }
}

export interface SalesforceSandboxControls extends SandboxControls<SandboxFault, RecordedRequest> {
  readonly organizationId: string;
  /** The API user's id (writes through the API) and the UI user's id (controls). */
  readonly integrationUserId: string;
  readonly uiUserId: string;
  /** Current credentials: what an adapter needs to connect (loginUrl = the sandbox). */
  credentials(): { accessToken: string; refreshToken: string; clientId: string; clientSecret: string; loginUrl: string };
  /** Every change from now on carries this time (whole seconds); null: real time. */
  setClock(at: Date | null): void;
  /**
   * Leads `fn` creates get their Id and SystemModstamp now but stay invisible to SOQL until
   * the returned function is called: a save that commits after it was stamped.
   */
  commitLater(fn: () => void): () => void;
  // -- "as a person in the UI" (no Sforce-Call-Options, UI user) --
  createLeadAsUser(fields: Record<string, unknown>): string;
  updateLeadAsUser(id: string, fields: Record<string, unknown>): void;
  deleteLead(id: string): void;
  getLead(id: string): LeadSnapshot | null;
  listLeads(): LeadSnapshot[];
  // -- org configuration --
  /** true: a blocking rule matching on Email; { fields }: matching when all fields equal; false: off. */
  setDuplicateRule(rule: boolean | { fields: string[] }): void;
  addField(def: Omit<FieldDef, 'createable' | 'updateable'> & Partial<Pick<FieldDef, 'createable' | 'updateable'>>): void;
  removeField(name: string): void;
  // -- faults --
  /**
   * The next `count` API calls (not the token endpoint) fail this way; with `method` /
   * `pathIncludes` only the next matching calls do (e.g. only the write of a push).
   */
  injectFault(kind: SandboxFault, count?: number, opts?: { latencyMs?: number; method?: string; pathIncludes?: string }): void;
  /** Latency added to every API call. */
  setLatency(ms: number): void;
  /**
   * From now on each API call fails with probability `plan.rate` (null: off), in the shared
   * chaos vocabulary: rate_limit is Salesforce's 403 REQUEST_LIMIT_EXCEEDED, server_error a
   * 500/502/503, latency holds the call before applying it, lost_response applies it and drops
   * the connection.
   */
  setFaultPlan(plan: FaultPlan | null): void;
  /** The next `count` records written through sObject Collections fail inside a 2xx answer. */
  failNextRecordWrites(count: number, errorCode?: string, message?: string): void;
  /** Every access token issued so far stops working (401 INVALID_SESSION_ID). */
  expireAccessTokens(): void;
  /** The refresh token stops working (token endpoint: invalid_grant). */
  revokeRefreshToken(): void;
  setApiLimit(max: number): void;
  apiUsage(): { used: number; max: number };
  setQueryBatchSize(size: number | null): void;
  /** Refresh-token grants answered successfully. */
  tokenRefreshes(): number;
  /** Lifetime of the access tokens issued from now on (seconds on the sandbox clock; null: no expiry). */
  setAccessTokenLifetime(seconds: number | null): void;
  // -- outbound messages --
  readonly outbound: {
    configure(config: Partial<OutboundConfig>): void;
    readonly config: OutboundConfig;
    readonly deliveries: OutboundDelivery[];
    pending(): number;
    /** Each of the next n messages is POSTed twice. */
    duplicateNext(n?: number): void;
    /** The next n messages wait `ms` before they are sent. */
    delayNext(ms: number, n?: number): void;
    /** The next n dispatches send their notifications newest first. */
    reorderNext(n?: number): void;
    /** The envelope Salesforce would send for these Leads, without sending it. */
    envelopeFor(leadIds: string[], opts?: { organizationId?: string; notificationIds?: string[] }): { body: string; notificationIds: string[] };
  };
  /** Sends every queued notification now; resolves once all are acknowledged. */
  flushNotifications(opts?: { timeoutMs?: number }): Promise<OutboundDelivery[]>;
}

export interface SalesforceSandbox {
  url: string;
  close(): Promise<void>;
  controls: SalesforceSandboxControls;
}

