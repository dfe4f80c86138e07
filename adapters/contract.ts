// The origin-tagging contract every CRM adapter implements.
//
// Adapters never import from src/ and never let an SDK type past this file's types:
// the sync engine sees only what is declared here. Every record we create in a CRM
// carries an origin tag (HubSpot: the contact property `lead_source_system`;
// Salesforce: `Lead_Source_System__c`; Zoho: a picklist field) whose value is the
// platform's tag. Changes that arrive carrying our tag on creation are our own echo.
//
// Longer than the other files on purpose: this is the one place that states what an
// adapter promises the engine, so every type carries its documentation with it.

import { z } from 'zod';
import type { NetworkPolicy } from './kit/net-guard.ts';

export type { NetworkPolicy } from './kit/net-guard.ts';

export type CrmProvider = 'HUBSPOT' | 'SALESFORCE' | 'ZOHO';

/** The lead fields kept in sync, in the platform's vocabulary. null means "no value". */
/** What a caller gathering work for one CRM call knows of it (kit/limiter.ts Demand). */
export interface BudgetDemand {
  /** Items in hand for the next call. */
  pending: number;
  /** The most items one call carries: a full call is never held. */
  perRequest: number;
  /** Items arriving per second, lately (0: unknown). */
  perSecond: number;
  /** When the oldest item in hand arrived (epoch ms). */
  oldestAt: number;
  /** When the next arrival is expected (epoch ms; unknown: soon). */
  nextArrivalAt?: number;
}

export interface LeadFields {
  email: string | null;
  firstName: string | null;
  lastName: string | null;
  phone: string | null;
  company: string | null;
  /** HubSpot lifecycle stage, Salesforce Status, Zoho Lead_Status. */
  status: string | null;
}

export const SYNCED_FIELDS: readonly (keyof LeadFields)[] = [
  'email',
  'firstName',
  'lastName',
  'phone',
  'company',
  'status',
];

/** A CRM record as the engine sees it. */
export interface CrmRecord {
  externalId: string;
  fields: LeadFields;
  /** Value of the origin-tag property/field; null when empty. */
  originTag: string | null;
  createdAt: Date | null;
  updatedAt: Date | null;
  /**
   * When the CRM last changed each synced field, where the CRM says so per field
   * (HubSpot's property history). Absent for a field: only `updatedAt` is known, which
   * is no earlier than the field's own change. The engine settles a field changed on
   * both sides by these times: a record touched later in another field does not make
   * an older change of this one win.
   */
  fieldUpdatedAt?: Partial<Record<keyof LeadFields, Date>>;
  /**
   * Each synced field's recent values, newest first, where the CRM keeps a history per
   * field (HubSpot). Lets the engine see a person's edit that a write of ours, sent
   * before that edit's notification arrived, then overwrote: the CRM applies writes
   * unconditionally, so only the history still shows it.
   */
  fieldHistory?: Partial<Record<keyof LeadFields, FieldVersion[]>>;
  archived?: boolean;
  /**
   * Values of the fields beyond the six that the client was asked to read
   * (ConnectionOptions.extraFields), by CRM field name, normalised (FieldValue). A field
   * asked for and empty is null; one the CRM does not have is absent.
   */
  extra?: Record<string, FieldValue>;
  /** When the CRM last changed each extra field, where it says so per field (HubSpot's property history). */
  extraUpdatedAt?: Record<string, Date>;
}

/**
 * A value of a field beyond the six, normalised the same way for every CRM: text,
 * number, boolean, a date as `YYYY-MM-DD`, a date-time as ISO 8601 UTC, a multi-select
 * picklist as the list of its option values; null for no value.
 */
export type FieldValue = string | number | boolean | string[] | null;

export type CrmFieldType = 'text' | 'number' | 'boolean' | 'date' | 'datetime' | 'picklist' | 'multipicklist' | 'email' | 'phone';

/** One field of the CRM's lead/contact object, as field discovery (CrmClient.listFields) lists it. */
export interface CrmField {
  /** API name: HubSpot property name, Salesforce field API name, Zoho api_name. */
  name: string;
  label: string;
  type: CrmFieldType;
  /** The API may write it (not calculated, formula, read-only or system maintained). */
  writable: boolean;
  /** Created by the customer (HubSpot: not hubspotDefined; Salesforce: custom; Zoho: custom_field). */
  custom: boolean;
  /** Picklists: the values the CRM accepts (the API value, and the label people see). */
  options?: { value: string; label: string }[];
  /** Which of the six synced fields it is, when it is one of them. */
  synced?: keyof LeadFields;
  /** Kept by the sync itself (the origin tag, the platform's lead id): never mapped. */
  reserved?: boolean;
}

/** One value a field held, from the CRM's history of the field. */
export interface FieldVersion {
  value: string | null;
  at: Date;
  /** Set through the API by an app (ours or another one), not by a person or the CRM itself. */
  byApp: boolean;
}

/** One lead the engine wants written to the CRM. */
export interface OutboundLead {
  /** The platform's lead id: the idempotency key of the write. */
  localId: string;
  fields: LeadFields;
  /** Known CRM id (from the identity map), when the lead is already linked. */
  externalId: string | null;
  /**
   * For a linked lead: the fields whose value the CRM is not known to hold already. An
   * update writes only these, so a field changed in the CRM meanwhile by a person (whose
   * notification is still on its way) is not overwritten with the value it had before.
   * Absent: every field.
   */
  changed?: (keyof LeadFields)[];
  /**
   * Fields beyond the six to write, by CRM field name, in the CRM's terms already
   * (picklist option values). Only these are written; absent: none.
   */
  extra?: Record<string, FieldValue>;
  /**
   * Synced fields (never email) this write leaves alone: the integration's field
   * mappings do not write them to the CRM, or write their CRM field through `extra`.
   * Neither created nor updated from `fields`; a field the CRM requires on create still
   * gets the adapter's placeholder unless `extra` writes that CRM field.
   */
  skip?: (keyof LeadFields)[];
}

export type WriteAction = 'created' | 'updated' | 'linked';

export type WriteResult =
  | {
      localId: string;
      ok: true;
      externalId: string;
      action: WriteAction;
      record?: CrmRecord;
      /**
       * The synced fields as the CRM holds them after this write, as far as the adapter
       * knows: the values it wrote, in the form a read returns them. Fields it did not
       * write (a value the CRM cannot hold, a default it filled in, a field left alone
       * when linking) are absent. The engine's echo suppression relies on it.
       */
      written?: Partial<LeadFields>;
      /** Like `written`, for the extra fields written (as a read returns them). */
      writtenExtra?: Record<string, FieldValue>;
    }
  | {
      localId: string;
      ok: false;
      error: CrmError;
      /**
       * false when this lead's write was never sent: an earlier call of the same push
       * failed (say another lead's batch update answered 502) and the adapter stopped.
       * `error` is that call's error; the engine retries the lead without charging it an
       * attempt. Absent means the lead's own call failed (or was refused for it).
       */
      attempted?: false;
    };

export type ChangeKind = 'created' | 'updated' | 'deleted' | 'merged' | 'restored';

/** A normalised change notification parsed from a webhook. */
export interface ChangeEvent {
  /** Stable across redeliveries of the same change: the inbox's idempotency key. */
  dedupeKey: string;
  /**
   * The CRM account the change belongs to (HubSpot portalId, Salesforce org id): its
   * route for adapters routing by account. null when the notification names no account
   * (adapters routing by channel, Zoho).
   */
  accountId: string | null;
  /** The notification channel the change came through: its route for adapters routing by channel (Zoho). */
  channelId?: string | null;
  kind: ChangeKind;
  externalId: string;
  occurredAt: Date;
  /** For single-property changes (HubSpot propertyChange): the CRM property name. */
  property?: string | null;
  /** For merges: the record that survives and the records merged into it. */
  mergedIds?: string[];
  /** The CRM's own description of who made the change (e.g. CRM_UI, API, INTEGRATION). */
  changeSource?: string | null;
  /** Set when the notification itself proves the change was ours (e.g. a client id). */
  ownOrigin?: boolean;
  // No record data: a notification is never trusted for field values. The engine reads
  // every record named by a notification back through the CRM's API.
}

/** A raw webhook request, as received (the raw body is needed for signatures). */
export interface WebhookRequest {
  method: string;
  /** The PUBLIC URL the CRM called (scheme, host, path, query). */
  url: string;
  headers: Record<string, string | undefined>;
  rawBody: Buffer;
  now?: Date;
  /**
   * The secret path segment of the endpoint the CRM called (Salesforce: the outbound
   * message endpoint URL ends with a per-integration secret); null when absent.
   */
  endpointSecret?: string | null;
}

/**
 * A notification channel the service opens for one integration of a CRM that routes by
 * channel (CrmAdapter.routing `by: 'channel'`): the CRM names `id` in every notification
 * (the service keeps it in its own column and routes by it) and echoes `token` back (the
 * service keeps it encrypted). The adapter makes both, in the CRM's formats
 * (`routing.newChannel`); the service makes them once per integration and stores them.
 */
export interface WebhookChannel {
  id: string;
  token: string;
}

export interface ParsedWebhook {
  events: ChangeEvent[];
  /** Accounts named by the payload: how it is routed for adapters routing by account. */
  accountIds: string[];
  /** Channels named by the payload: how it is routed for adapters routing by channel (Zoho). */
  channelIds?: string[];
}

/**
 * Stateless webhook handling of one CRM: parse, verify, acknowledge. `S` is what `verify`
 * needs, a type of the adapter's own (declared in its webhooks.ts) built by the same
 * adapter's CrmAdapter.webhookSecrets: the service never fills or reads a field of it.
 */
export interface WebhookCodec<S = unknown> {
  provider: CrmProvider;
  /** Throws CrmError VALIDATION when the body is not a well-formed notification. */
  parse(req: WebhookRequest): ParsedWebhook;
  /** Throws CrmError SIGNATURE_INVALID when the request is not authentic or is stale. */
  verify(req: WebhookRequest, secrets: S): void;
  /** The body and content type to answer once the events are persisted. */
  acknowledge(): { status: number; contentType: string; body: string };
  /**
   * How to refuse a request in the CRM's own protocol (Salesforce expects a SOAP fault).
   * When absent the service answers with its JSON error envelope.
   */
  fault?(status: number, code: string, message: string): { status: number; contentType: string; body: string };
}

export interface Page {
  records: CrmRecord[];
  /** Cursor of the next page, null at the end. */
  nextCursor: string | null;
}

export interface ProvisionReport {
  /** The origin field/property exists now (created now or already there). */
  originFieldReady: boolean;
  originFieldCreated: boolean;
  /** Subscription id, when the adapter could register the webhook subscription itself. */
  subscriptionId: string | null;
  events: string[];
  expiresAt: Date | null;
  /** What an administrator must still configure on the CRM side, if anything. */
  manualSteps: string[];
  /** Settings to persist on the integration and hand back to connect() next time. */
  settings: Record<string, unknown>;
}

export type PrepareReport = Pick<ProvisionReport, 'originFieldReady' | 'originFieldCreated' | 'manualSteps' | 'settings'>;

/** What the service owns about one integration's webhooks, handed to provision(). */
export interface ProvisionOptions {
  /** The URL the CRM must call (public base URL + the adapter's webhook path, + the endpoint secret where one is used). */
  webhookUrl: string;
  /** Values the origin field must accept: our tag plus the CRM's own values. */
  tagValues: string[];
  /**
   * The integration's notification channel: given to adapters routing by channel
   * (CrmAdapter.routing `by: 'channel'`) only, the same one every time (renewal too, a new
   * token after a rotation); absent for the others.
   */
  channel?: WebhookChannel;
}

/** A connection to one CRM account. All methods throw CrmError only. */
export interface CrmClient {
  readonly provider: CrmProvider;
  /** The CRM-side name of the origin-tag property/field. */
  readonly originField: string;
  /** Creates the origin field if missing, registers webhooks where the API allows. */
  provision(opts: ProvisionOptions): Promise<ProvisionReport>;
  /**
   * Makes the CRM ready for our writes without registering any webhook: the origin
   * field exists and accepts `tagValues`. The engine calls it before the first push.
   */
  prepare(tagValues: string[]): Promise<PrepareReport>;
  /**
   * Whose token this is: asks the CRM which account the credentials belong to (HubSpot
   * account-info portalId, Salesforce userinfo organization_id, Zoho org zgid), in the
   * form webhooks name it. Throws CrmError (AUTH_EXPIRED for a token the CRM refuses).
   */
  whoami(): Promise<{ accountId: string }>;
  /**
   * How long a caller able to wait, and to gather more work for the same call, should
   * hold off (0: go now), given what it holds and how fast work arrives (kit/limiter.ts
   * paceFor): a trickle the budget sustains is never held; when arrivals would spend
   * the budget faster than it frees, a partial batch waits until it is a fair share of
   * what the budget allows (at most one even spacing of the window). Without `demand`:
   * only while the budget is spent. Absent: never waits.
   */
  budgetWaitMs?(demand?: BudgetDemand): number;
  /**
   * Reads records by id (batched internally); ids that do not exist are absent from the
   * result. `{ history: false }`: the caller needs no per-field history of these records
   * (CrmRecord.fieldUpdatedAt, fieldHistory, extraUpdatedAt: records no lead is linked to
   * yet), and a CRM that answers fewer records per call with history (HubSpot: 50 instead
   * of 100) reads more per call.
   */
  readRecords(ids: string[], opts?: { history?: boolean }): Promise<CrmRecord[]>;
  /**
   * The fields of the object the integration syncs (contacts, leads): HubSpot's properties
   * API, Salesforce's describe, Zoho's field settings. Absent: the CRM offers no discovery.
   */
  listFields?(): Promise<CrmField[]>;
  /**
   * Writes leads. Linked leads (externalId set) are updated; the others are matched by
   * email and linked, or created carrying `originTag`. Never creates a duplicate on
   * retry. One result per input, in input order.
   */
  pushLeads(leads: OutboundLead[], originTag: string): Promise<WriteResult[]>;
  /** One page of every record, in a stable order. */
  listPage(cursor: string | null, pageSize: number): Promise<Page>;
  /** Records changed since an opaque cursor, oldest first; ties on time are not lost. */
  changesSince(cursor: string | null, limit: number): Promise<Page>;
  /** A changesSince cursor that starts at `time` (the poll starts from when webhooks were enabled). */
  cursorAt?(time: Date): string;
  /**
   * The modification time a changesSince cursor stands at (every record stamped before it
   * was returned). With cursorAt, the poll re-reads a window behind its cursor: records
   * stamped before it that became visible late (a transaction committed after its stamp,
   * a search index lagging the writes) are found on the next poll. Throws VALIDATION for a
   * cursor that is not one of this adapter's.
   */
  cursorTime?(cursor: string): Date;
  /** Undoes what provision() registered (webhook subscriptions, channels); keeps the origin field. */
  unprovision?(): Promise<void>;
  /** Extends webhook channels that expire (Zoho: at most one week) before they lapse; absent where subscriptions do not expire. */
  renewWebhooks?(opts: ProvisionOptions): Promise<ProvisionReport>;
}

/** Minimal structured logger an adapter may use (pino fits). */
export interface AdapterLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export type Credentials = Record<string, string | undefined>;

/** Everything needed to talk to one CRM account. */
export interface ConnectionOptions {
  /** API base: HubSpot basePath, Salesforce instance URL, Zoho api_domain. */
  baseUrl: string;
  accountId: string;
  /** accessToken, refreshToken, clientId, clientSecret, accountsUrl, expiresAt (ISO) ... */
  credentials: Credentials;
  /** What provision() returned earlier (field API names, channel ids, ...). */
  settings: Record<string, unknown>;
  /**
   * Called after an OAuth refresh so the caller can persist the new credentials (all of
   * them, not only what changed). `connection.baseUrl` is the API base the CRM named for
   * the account in that refresh (Salesforce instance_url, Zoho api_domain): the caller
   * stores it as the connection's baseUrl when it differs, so a later connection goes
   * to the host the account lives on now.
   */
  onCredentialsChanged?: (credentials: Credentials, connection?: { baseUrl?: string }) => Promise<void> | void;
  /**
   * Who renews OAuth tokens. When given, the client never calls the token endpoint
   * itself: shortly before `expiresAt` and after a 401 it asks `renew` with the access
   * token it holds and uses the answer (the service makes sure one refresh runs at a time
   * per integration, across workers and instances, and persists the new tokens before
   * answering). Absent: the client refreshes itself and reports via onCredentialsChanged.
   */
  tokens?: TokenKeeper;
  logger?: AdapterLogger;
  /**
   * Deadline of one CRM call (ms): a call without an answer by then fails with NETWORK
   * (retryable) so one hung CRM never holds a worker longer. 30 s when absent.
   */
  callTimeoutMs?: number;
  /**
   * CRM fields beyond the six that every read returns in `CrmRecord.extra` (the fields
   * the integration's mappings name). Absent: none.
   */
  extraFields?: readonly string[];
  /** Client-side request budget; the adapter's provider default when absent. */
  rateLimit?: { requests: number; perMs: number };
  /**
   * Where requests may go besides the CRM's own hosts. Absent: https to the adapter's
   * allow-listed hosts, public addresses only. `allowLocalHosts` (sandboxes, tests, the
   * demo) also allows http and hosts resolving to loopback, never private addresses.
   */
  network?: NetworkPolicy;
}

/**
 * A value an environment variable may hold for a yes/no setting: true, false, 1, 0, yes, no.
 * Adapters and the service's own configuration read flags with it, so every flag reads alike.
 */
export function envFlag() {
  return z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes');
}

/** A credential field that is optional and, when given, not empty. */
export function optionalSecret() {
  return z.string().trim().min(1).max(4000).nullable().optional();
}

/**
 * The credentials every CRM takes: the access token (required) and the OAuth client and
 * refresh token that renew it. An adapter extends it with its own fields.
 */
export const baseCredentials = z.object({
  accessToken: z.string().min(1, 'is required').max(4000),
  refreshToken: optionalSecret(),
  clientId: optionalSecret(),
  clientSecret: optionalSecret(),
});

/** What an adapter gets to say how one integration's webhooks are verified: what the service holds for it. */
export interface WebhookSecretSources<Env = Record<string, unknown>> {
  /** The integration's decrypted credentials. */
  credentials: Credentials;
  /** The integration's settings (what provision() returned, tuning values). */
  settings: Record<string, unknown>;
  /** The adapter's environment settings (its `env` schema, parsed at start). */
  env: Env;
  /** The account the integration is connected to. */
  accountId: string;
  /** Adapters routing by channel: the channel the service opened for the integration; null before webhooks were enabled (and always for the others). */
  channel: WebhookChannel | null;
  /** Adapters with `endpointSecret`: the endpoint secrets accepted now (the current one; the previous one during its grace period). Empty for the others. */
  endpointSecrets: string[];
}

/**
 * How the service finds the integration a notification belongs to.
 * - `account`: by the accounts it names (ParsedWebhook.accountIds, ChangeEvent.accountId)
 *   against the integration's account id (whoami's answer).
 * - `channel`: the notification names no account, only the channel it came through
 *   (ParsedWebhook.channelIds, ChangeEvent.channelId), which the service opened for the
 *   integration: `newChannel` makes one in the CRM's formats (ids in the form the CRM
 *   takes, tokens within its limits). The service calls it once per integration, keeps
 *   the id in its own column (the only routing key, never compared with account ids) and
 *   the token encrypted, and gives the channel to provision() (ProvisionOptions.channel)
 *   and webhookSecrets (WebhookSecretSources.channel).
 */
export type WebhookRouting = { by: 'account' } | { by: 'channel'; newChannel(): WebhookChannel };

/** Renews an integration's tokens for its clients (ConnectionOptions.tokens). */
export interface TokenKeeper {
  /**
   * Credentials to use instead of those holding `rejected` (the access token the client
   * holds now, undefined when it has none): the stored ones when another worker already
   * replaced it, else the result of one refresh. Throws CrmError AUTH_REVOKED when the CRM
   * refused the grant.
   */
  renew(rejected: string | undefined): Promise<{ credentials: Credentials; baseUrl?: string }>;
}

/** The OAuth app the service is registered as with a CRM (its environment settings). */
export interface OAuthApp {
  clientId: string;
  clientSecret: string;
  /** The callback URL registered with the CRM: `<public base>/api/v1/oauth/<slug>/callback`. */
  redirectUri: string;
}

/** What a successful code exchange or refresh yields. */
export interface OAuthGrant {
  /** As stored: accessToken, refreshToken (the new one when the CRM rotated it, else the old one), expiresAt (ISO) and the adapter's own fields. */
  credentials: Credentials;
  /** The API base of the account (Salesforce instance_url, Zoho api_domain, HubSpot's API host). */
  baseUrl: string;
  /** The account the token belongs to, as the CRM names it (HubSpot portal id, Salesforce org id, Zoho org id). Known after an exchange; refreshes may omit it. */
  accountId?: string;
  /** A name people recognise the account by (portal domain, org name), when the CRM says it. */
  accountName?: string;
}

/** Everything an OAuth call needs besides its own arguments. */
export interface OAuthCallOptions<Env> {
  env: Env;
  app: OAuthApp;
  network?: NetworkPolicy;
  callTimeoutMs?: number;
  logger?: AdapterLogger;
}

/**
 * How customers connect this CRM through OAuth 2.0 (authorization code grant). The service
 * owns `state` (signed, single-use, bound to the organization) and the PKCE verifier; the
 * adapter knows the CRM's hosts, scopes, parameters and answers.
 */
export interface CrmOAuth<Env = Record<string, unknown>> {
  /** The scopes requested, minimal (documented in the README). */
  scopes: readonly string[];
  /** The CRM supports PKCE (S256): the service sends a code challenge and keeps the verifier. */
  pkce: boolean;
  /**
   * Options a customer may choose when connecting (Salesforce: `loginUrl` production,
   * sandbox or My Domain; Zoho: `dataCentre`), validated; unknown keys refused.
   */
  connectOptions: z.ZodObject;
  /** The OAuth app from the environment; null when this CRM's client id/secret are not configured. */
  app(env: Env, redirectUri: string): OAuthApp | null;
  /** The URL of the CRM's consent screen. */
  authorizeUrl(args: { env: Env; app: OAuthApp; state: string; codeChallenge?: string; options: Record<string, unknown> }): string;
  /**
   * Exchanges the callback's code (all of its query parameters: Zoho names the data centre
   * in them) and learns the account the token belongs to from the CRM.
   */
  exchange(
    args: OAuthCallOptions<Env> & { query: Record<string, string>; codeVerifier?: string; options: Record<string, unknown> },
  ): Promise<OAuthGrant & { accountId: string }>;
  /** One refresh (refresh_token grant) of stored credentials; AUTH_REVOKED on invalid_grant. */
  refresh(args: OAuthCallOptions<Env> & { credentials: Credentials; baseUrl: string }): Promise<OAuthGrant>;
  /** Revokes the refresh token (and with it the access tokens) at the CRM. Idempotent: a token already revoked is success. */
  revoke(args: OAuthCallOptions<Env> & { credentials: Credentials; baseUrl: string }): Promise<void>;
}

/**
 * One CRM: how to connect, how its webhooks look, where they arrive, what the service must
 * know about it. `S` is what its codec verifies a notification with (its own type, built by
 * `webhookSecrets`). `CrmAdapter` without arguments is any adapter, as the service holds
 * them: S is then opaque (`unknown`), and the service only hands what an adapter's
 * `webhookSecrets` built back to the same adapter's `codec.verify`.
 */
export interface CrmAdapter<Env extends z.ZodObject = z.ZodObject, S = unknown> {
  provider: CrmProvider;
  /** The CRM's name for people (descriptions, messages): HubSpot. */
  label: string;
  /**
   * The webhook route segment: the CRM calls `/api/v1/webhooks/<slug>` below the public
   * base URL (the HTTP layer builds the route from it). Lower-case letters only.
   */
  slug: string;
  /** What one record is called in this CRM, in log lines: contact, lead. */
  noun: string;
  /**
   * The CRM field each synced field is read from and written to by default (HubSpot
   * property, Salesforce Lead field, Zoho api_name): the default field mappings.
   */
  fieldNames: Readonly<Record<keyof LeadFields, string>>;
  /** What the CRM calls the account an integration connects, for documentation: portal id. */
  accountIdName: string;
  /** What the API base URL of an integration is in this CRM, for documentation: instance URL. */
  apiBaseUrlName: string;
  /**
   * What an administrator does in this CRM about a permanent error of this code (the
   * scopes or profile rights to grant). The service adds how to resume; codes absent here
   * get its generic advice.
   */
  remedies: Partial<Record<CrmErrorCode, string>>;
  /**
   * The service settings this adapter reads from the environment, with their defaults
   * and rules. The service validates them once at start with its own settings (same
   * messages), and hands the parsed values back to `defaultApiBaseUrl`/`webhookSecrets`.
   */
  env: Env;
  /** The API base of an integration created without one (from `env`); null where the CRM has no single host (per org, per data centre). */
  defaultApiBaseUrl(env: z.infer<Env>): string | null;
  /**
   * The credentials createIntegration accepts for this CRM, as stored (unknown fields are
   * dropped). Field descriptions are shown in the API's input documentation.
   */
  credentials: z.ZodObject;
  /**
   * The integration settings the client reads (what provision() returned and tuning
   * values): unknown keys are kept. The service validates what it stores against it.
   */
  settings: z.ZodObject;
  /** How a notification finds its integration: by the account it names, or by the channel the service opened (WebhookRouting). */
  routing: WebhookRouting;
  /**
   * The CRM signs nothing: the endpoint URL it calls ends with a per-integration secret
   * the service generates (`/api/v1/webhooks/<slug>/<secret>`, rotated with a grace
   * period) and hands to `webhookSecrets` as `endpointSecrets`. Absent: no such route.
   */
  endpointSecret?: boolean;
  /**
   * What `codec.verify` needs for a notification of this integration, from what the
   * service holds for it (its credentials, settings, channel, endpoint secrets) and the
   * adapter's environment settings.
   */
  webhookSecrets(sources: WebhookSecretSources<z.infer<Env>>): S;
  /**
   * What `codec.verify` needs for a notification that names no integration of this
   * service (a service-wide app secret), so a forged one is refused; null when the CRM has
   * no such secret (the notification is then refused as unauthenticated).
   */
  unroutedWebhookSecrets?(env: z.infer<Env>): S | null;
  codec: WebhookCodec<S>;
  connect(opts: ConnectionOptions): CrmClient;
  /** Connecting through OAuth (authorization code grant); absent when the CRM offers none. */
  oauth?: CrmOAuth<z.infer<Env>>;
  /**
   * The hosts this CRM's API lives on (`api`) and, where it has one apart, its OAuth
   * accounts server (`accounts`): the network guard's allow-list. Patterns are a host or
   * `*.domain` (any host below the domain).
   */
  hosts: { api: readonly string[]; accounts?: readonly string[] };
  /**
   * The client's request budget where the CRM's plan sets it and an administrator may name
   * the account's own (setRequestBudget). Absent: the budget is not adjustable.
   */
  requestBudget?: RequestBudgetSpec;
  /**
   * The account id in the one form webhooks name it (ParsedWebhook.accountIds), for an
   * id a person may write in another form (Salesforce: the 15-character org id Setup
   * shows, for the 18-character one outbound messages carry). Identity when absent.
   */
  normaliseAccountId?(accountId: string): string;
}

/** At most `requests` CRM calls in any `perMs` window. */
export interface RequestBudget {
  requests: number;
  perMs: number;
}

export interface RequestBudgetSpec {
  /** What the client spends when none is set (the budget every account of the CRM has). */
  default: RequestBudget;
  /** The highest the CRM documents for any plan, in its own window: a budget allowing more calls in such a window is refused. */
  highest: RequestBudget;
  /** The CRM's documented budgets by plan, for the person choosing one. */
  documented: string;
  /** The budget the integration's settings name, or null (the default applies). */
  read(settings: Record<string, unknown>): RequestBudget | null;
  /** The settings entries that put `budget` in force (null: back to the default); an undefined value removes its entry. */
  write(budget: RequestBudget | null): Record<string, unknown>;
}

export type CrmErrorCode =
  | 'RATE_LIMITED'
  | 'AUTH_EXPIRED'
  | 'PERMISSION'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'VALIDATION'
  | 'SIGNATURE_INVALID'
  | 'NETWORK'
  | 'UPSTREAM'
  /** The network guard refused the URL or the address (adapters/kit/net-guard.ts); never retried. */
  | 'DESTINATION_REFUSED'
  /**
   * The CRM refused the refresh token or the grant (OAuth `invalid_grant`: consent revoked,
   * user deactivated, token expired): nothing works until the customer connects again.
   * Never retried; the service holds the integration's work until it is reconnected.
   */
  | 'AUTH_REVOKED';

const RETRYABLE: ReadonlySet<CrmErrorCode> = new Set(['RATE_LIMITED', 'NETWORK', 'UPSTREAM', 'AUTH_EXPIRED']);

export interface CrmErrorOptions {
  provider?: CrmProvider;
  status?: number;
  retryAfterMs?: number;
  /** For CONFLICT: the id of the record that already exists. */
  existingId?: string;
  cause?: unknown;
  retryable?: boolean;
}

/** The only error type adapters throw. `code` is stable; messages are for humans. */
export class CrmError extends Error {
  readonly code: CrmErrorCode;
  readonly provider?: CrmProvider;
  readonly status?: number;
  readonly retryAfterMs?: number;
  readonly existingId?: string;
  readonly retryable: boolean;

  constructor(code: CrmErrorCode, message: string, opts: CrmErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'CrmError';
    this.code = code;
    this.provider = opts.provider;
    this.status = opts.status;
    this.retryAfterMs = opts.retryAfterMs;
    this.existingId = opts.existingId;
    this.retryable = opts.retryable ?? RETRYABLE.has(code);
  }
}

export function isCrmError(e: unknown): e is CrmError {
  return e instanceof CrmError;
}

/** Trims and lower-cases an email; null for empty. Case and spaces never make a new person. */
export function normaliseEmail(email: string | null | undefined): string | null {
  const v = (email ?? '').trim().toLowerCase();
  return v === '' ? null : v;
}


/** True when a record carries the platform's own origin tag. */
export function hasOwnOrigin(record: Pick<CrmRecord, 'originTag'>, platformTag: string): boolean {
  return (record.originTag ?? '').trim().toLowerCase() === platformTag.toLowerCase();
}

/** An empty field set, for building records. */
export function emptyFields(): LeadFields {
  return { email: null, firstName: null, lastName: null, phone: null, company: null, status: null };
}
