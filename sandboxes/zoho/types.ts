// The Zoho sandbox's public types: its options, faults, request log entries, its
// controls and the sandbox object a test drives.
import type { LoggedRequest, SandboxControls } from '../kit/controls.ts';
import type { FaultKind, FaultPlan } from '../kit/faults.ts';
import type { Channel, Delivery } from './notifications.ts';
import type { Change } from './state.ts';

export interface ZohoSandboxOptions {
  /** Port of the API server; 0 (default) picks a free one. */
  port?: number;
  /** Serve the accounts host (token endpoint) on its own port; default false (same port). */
  separateAccounts?: boolean;
  accountsPort?: number;
  clientId?: string;
  clientSecret?: string;
  refreshToken?: string;
  /** Index lag after each write, real ms: searches miss the record until it passes. Default 0. */
  searchLagMs?: number;
  /** Lead Email is a unique field (inserts of a taken email fail with DUPLICATE_DATA). Default true. */
  emailUnique?: boolean;
  /** Reject picklist values that are not in the field's list. Default false (Zoho accepts new values). */
  strictPicklists?: boolean;
  /** Time zone offset (minutes) in which every time is rendered. Default +330. */
  timezoneOffsetMinutes?: number;
  /** API name the sandbox assigns to a new custom field (default: label with underscores). */
  customFieldApiName?: (label: string) => string;
  /** `api_domain` the token endpoint answers; default the sandbox's own URL. */
  apiDomain?: string;
  /** channel_expiry beyond one week: 'default_1h' (documented behaviour, default) or 'error'. */
  overlongChannelExpiry?: 'default_1h' | 'error';
  /** The org's id as Zoho shows it ("Org ID", the `zgid` of GET /crm/v7/org). Default 60000000001. */
  orgId?: string;
  /** Authorized redirect URIs of the OAuth client (consent); none by default. */
  redirectUris?: string[];
  /** The user's data centre the consent redirect names (`location`); default us. */
  location?: string;
  /** Lifetime of the access tokens the token endpoint issues (seconds, sandbox clock); default 3600. */
  accessTokenTtlSeconds?: number;
  /** A workflow rule on create: fields it writes right after a lead is created with workflows on. */
  workflowOnCreate?: Record<string, unknown> | null;
}

/** The kit's fault kinds the Zoho sandbox renders (not_found: every record id of the call is unknown). */
export type SandboxFault = Extract<FaultKind, 'rate_limit' | 'server_error' | 'auth_expired' | 'not_found' | 'network'>;

/** A request the sandbox received (token endpoint included), recorded on arrival: status 0 until answered. */
export interface RequestLogEntry extends LoggedRequest {
  query: Record<string, string>;
  host: string;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

export interface ZohoSandboxControls extends SandboxControls<SandboxFault, RequestLogEntry> {
  /** The org's zgid (what GET /crm/v7/org names). */
  readonly orgId: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly refreshToken: string;
  /** Issues a valid access token as the accounts server would (not counted as a token call). */
  issueAccessToken(ttlSeconds?: number): { accessToken: string; expiresAt: string };
  /** Makes every access token issued so far invalid (401 INVALID_TOKEN). */
  expireAccessTokens(): void;
  /** The user revokes the client's access: every refresh and access token stops working. */
  revokeAccess(): void;
  /** Lifetime (seconds) of the access tokens issued from now on. */
  setAccessTokenLifetime(seconds: number): void;
  /** Calls to POST /oauth/v2/token so far. */
  readonly tokenCalls: number;
  /** Forgets the requests logged and the token calls counted so far. */
  resetLog(): void;
  /** The next `count` API calls (not token calls) fail this way. */
  injectFault(kind: SandboxFault, count?: number): void;
  /** The next `count` token calls answer `{"error":"invalid_code"}` (or a 500). */
  failTokenEndpoint(kind: 'invalid_code' | 'server_error', count?: number): void;
  /** Every API call waits this long before answering (0 = none). */
  setLatency(ms: number): void;
  /**
   * From now on each API call fails with probability `plan.rate` (null: off), in the shared
   * chaos vocabulary: rate_limit is a 429 TOO_MANY_REQUESTS, server_error a 500/502/503,
   * latency holds the call before applying it, lost_response applies it and drops the connection.
   */
  setFaultPlan(plan: FaultPlan | null): void;
  /** Zoho's clock: every change from now on carries this time (null: real time). */
  setClock(at: Date | null): void;
  now(): Date;
  /**
   * Records `fn` creates get their id and Modified_Time now but stay out of `GET /Leads`
   * until the returned function is called: a save that commits after it was stamped.
   */
  commitLater(fn: () => void): () => void;
  /** Search index lag for later writes; indexNow() makes everything searchable at once. */
  setSearchLag(ms: number): void;
  indexNow(): void;
  /** Writes "as a person" in the Zoho UI (field API names). Throws on validation errors. */
  createLeadAsUser(values: Record<string, unknown>): string;
  updateLeadAsUser(id: string, values: Record<string, unknown>): void;
  deleteLead(id: string): void;
  /** The record as GET /Leads/{id} renders it, or null. */
  getLead(id: string): Record<string, unknown> | null;
  listLeads(): Record<string, unknown>[];
  /** Field metadata (the Leads module). */
  fields(): Array<{ api_name: string; field_label: string; data_type: string; custom_field: boolean; pick_list_values: string[] }>;
  /** Deletes a custom field (as an administrator in Setup would): its values go with it. */
  removeField(apiName: string): void;
  /** Channels registered through /actions/watch, live or expired. */
  channels(): Array<Omit<Channel, 'expiresAt'> & { expiresAt: Date; live: boolean }>;
  /** The exact request Zoho would send for a change on a channel. */
  renderNotification(
    channelId: string,
    operation: 'insert' | 'update' | 'delete',
    ids: string[],
  ): { url: string; headers: Record<string, string>; rawBody: string };
  readonly deliveries: Delivery[];
  holdNotifications(): void;
  releaseNotifications(opts?: { reverse?: boolean }): void;
  duplicateNextNotifications(count: number): void;
  delayNotifications(ms: number): void;
  flushNotifications(): Promise<void>;
  /** Every Leads change in order (operation, ids, who). */
  readonly changes: Change[];
}

export interface ZohoSandbox {
  /** The api_domain, e.g. http://127.0.0.1:PORT */
  url: string;
  /** The accounts host, e.g. http://127.0.0.1:PORT (same as url unless separateAccounts). */
  accountsUrl: string;
  controls: ZohoSandboxControls;
  close(): Promise<void>;
}
