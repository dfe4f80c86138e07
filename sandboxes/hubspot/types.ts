// The HubSpot sandbox's public types: its options, its faults, its request log entries,
// its controls and the sandbox object a test drives.
import type { SandboxControls, LoggedRequest } from '../kit/controls.ts';
import type { FaultKind } from '../kit/faults.ts';
import type { RequestMatch } from '../kit/match.ts';
import type { HubSpotOAuthApp } from './oauth.ts';
import type { PropertyDef } from './store.ts';
import type { HubSpotEvent, Subscription, WebhookBehavior, WebhookDelivery } from './webhooks.ts';

export type SandboxFault =
  | { kind: 'rate_limit'; policy?: 'TEN_SECONDLY_ROLLING' | 'DAILY' | 'SECONDLY'; retryAfterSeconds?: number }
  | { kind: 'server_error'; status?: number }
  | { kind: 'auth_expired' }
  | { kind: 'forbidden' }
  | { kind: 'not_found' }
  | { kind: 'latency'; ms: number }
  /** The request is processed, then the connection is dropped without an answer. */
  | { kind: 'lost_response' };

/** The kit's fault kinds HubSpot's sandbox renders. */
export type SandboxFaultKind = Extract<FaultKind, SandboxFault['kind']>;

/** Method and path prefix (string) or pattern the request path must match. */
export type FaultMatch = RequestMatch;

/** An API request the sandbox answered (recorded once answered, so in order of answer). */
export interface ApiCall extends LoggedRequest {
  query: string;
  at: number;
  body: unknown;
  /** The fault injected into this call (explicit or drawn from the fault plan), if any. */
  fault?: SandboxFaultKind;
}

export interface HubSpotSandboxOptions {
  port?: number;
  portalId?: number;
  appId?: number;
  /** The app's client secret: the webhook signing key. */
  clientSecret?: string;
  /** Developer API key accepted as `hapikey` by the webhooks API. */
  developerApiKey?: string;
  /** Bearer tokens accepted by the CRM APIs. */
  accessTokens?: string[];
  /** Requests allowed per token per window (HubSpot Free/Starter: 100 / 10 s); null disables. */
  rateLimit?: { requests: number; perMs: number } | null;
  /** Search requests per second (HubSpot: about 5); null disables. */
  searchRateLimit?: { requests: number; perMs: number } | null;
  dailyLimit?: number;
  /** Initial webhook target URL (the app's settings can also be set through the API). */
  webhookTargetUrl?: string | null;
  /** 'default': start with the subscriptions crm-sync needs, as if an operator had created them. */
  subscriptions?: 'none' | 'default';
  webhookRetryDelaysMs?: number[];
  webhookMaxAttempts?: number;
  webhookTimeoutMs?: number;
  webhookBatchWindowMs?: number;
  webhookMaxConcurrent?: number;
  legacySignatureVersion?: 'v1' | 'v2';
  /** Send propertyChange events for the properties set on creation too (default true). */
  propertyChangeOnCreate?: boolean;
  /** The OAuth app (its secret is `clientSecret`); default client id `sandbox-client-id`, no redirect URL registered. */
  oauth?: Partial<HubSpotOAuthApp>;
}

/** The kit's controls; HubSpot's faults carry details (policy, status, hold) and can match calls. */
export interface HubSpotSandboxControls extends SandboxControls<SandboxFaultKind, ApiCall> {
  /** Every change from now on carries this time as createdate/lastmodifieddate/occurredAt (null: real time). */
  setClock(at: Date | null): void;
  /** The next `count` API calls (matching `match`) fail this way. */
  injectFault(fault: SandboxFault | SandboxFaultKind, count?: number, match?: FaultMatch): void;
  /** Runs `fn` (given the request's parsed JSON body) just before the next `count` matching API requests are processed (e.g. to race a write). */
  beforeRequest(match: FaultMatch, fn: (body: unknown) => void | Promise<void>, count?: number): void;
  /** Lifetime (seconds) of the OAuth access tokens issued from now on (HubSpot: 1800). */
  setAccessTokenLifetime(seconds: number): void;
}

export interface HubSpotSandbox {
  /** Base URL, e.g. http://127.0.0.1:PORT (the SDK's basePath). */
  url: string;
  portalId: number;
  appId: number;
  clientSecret: string;
  developerApiKey: string;
  /** The first accepted access token. */
  accessToken: string;
  close(): Promise<void>;
  /** The kit's controls: clock, faults, request log (`controls.requests`). */
  controls: HubSpotSandboxControls;

  // A person in the CRM UI (changes fire webhooks with changeSource CRM_UI).
  createContactAsUser(props: Record<string, string | null>): string;
  updateContactAsUser(id: string, props: Record<string, string | null>): void;
  deleteContact(id: string, opts?: { privacy?: boolean }): void;
  restoreContact(id: string): void;
  /** Merges `mergedId` into `primaryId` (the primary survives); fires contact.merge. */
  mergeContacts(primaryId: string, mergedId: string): string;

  // Inspection.
  getContact(id: string): { id: string; properties: Record<string, string | null>; createdAt: Date; updatedAt: Date; archived: boolean } | null;
  /** The live contact with this email (compared case-insensitively), or null. */
  findContactByEmail(email: string): { id: string; properties: Record<string, string | null>; archived: boolean } | null;
  listContacts(opts?: { includeArchived?: boolean }): { id: string; properties: Record<string, string | null>; archived: boolean }[];
  getProperty(name: string): PropertyDef | null;
  /** API requests received and not yet answered (a held one is applied at the end of its hold). */
  inFlight(): { method: string; path: string; body: unknown; since: number }[];

  // Auth and limits.
  addAccessToken(token: string): void;
  /** The OAuth app's client id (its secret is `clientSecret`). */
  oauthClientId: string;
  /** The customer uninstalls the app: its refresh and access tokens stop working. */
  uninstallApp(): void;
  /** The token now answers 401 EXPIRED_AUTHENTICATION. */
  expireAccessToken(token: string): void;
  /** Writes by the API that changed nothing on a contact (every property already held the value). */
  noopWrites: { id: string; at: number }[];
  setRateLimit(limit: { requests: number; perMs: number } | null): void;
  /**
   * Changes `fn` makes are applied at once (reads and webhooks see them) but search keeps
   * answering with the contacts as they were, until indexSearch(): HubSpot's search index
   * lags writes by a few seconds.
   */
  lagSearchIndex(fn: () => void): void;
  indexSearch(): void;

  // Webhooks.
  setWebhookTarget(url: string | null): void;
  /** The app's webhook target URL (null: none set). */
  webhookTarget(): string | null;
  subscriptions(): Subscription[];
  /** Creates the standard subscriptions directly (as an operator in the developer portal would). */
  subscribeDefaults(): void;
  setWebhookBehavior(b: WebhookBehavior): void;
  deliveries: WebhookDelivery[];
  /** Events dropped because no target URL was set. */
  undeliverable: HubSpotEvent[];
  /** Resolves when no webhook is pending, in flight or waiting for a retry (releases held events first). */
  flushWebhooks(): Promise<void>;
  /** Keeps webhook events back until releaseWebhooks() or flushWebhooks(). */
  holdWebhooks(): void;
  /** Sends the events held back. */
  releaseWebhooks(): void;
  /** Queues hand-made events (sent batched and signed like the others). */
  emitEvents(events: HubSpotEvent[]): void;
  /** A webhook request signed as the sandbox would sign it, without sending it. */
  signedWebhook(
    events: HubSpotEvent[],
    opts?: { url?: string; timestampMs?: number; clientSecret?: string },
  ): { method: string; url: string; headers: Record<string, string>; body: string };
  /** One event as the sandbox would emit it for a change (for hand-made payloads). */
  makeEvent(subscriptionType: string, objectId: string, extra?: Partial<HubSpotEvent>): HubSpotEvent;
}
