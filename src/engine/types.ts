// The service functions the API layers (GraphQL and the REST shim) call. Both layers
// call the same functions with the caller's organization id; nothing here knows
// about HTTP or GraphQL.
import type { CrmField, CrmProvider, ProvisionReport, RequestBudget, WebhookRequest } from '../../adapters/contract.ts';
import type { FieldResyncJob, ImportJob, Integration, Lead, SyncEvent } from '../generated/prisma/client.ts';
import type { MappingInput, ResyncSource, SetMappingsResult } from './mappings.ts';
import type { Metrics } from '../metrics.ts';

export type { WebhookRequest };

export interface CreateLeadInput {
  email: string;
  firstName?: string | null;
  lastName?: string | null;
  phone?: string | null;
  company?: string | null;
  status?: string | null;
  /** Custom values by key (src/engine/attributes.ts); null values are left out. */
  attributes?: unknown;
}

export interface UpdateLeadInput {
  id: string;
  email?: string | null;
  firstName?: string | null;
  lastName?: string | null;
  phone?: string | null;
  company?: string | null;
  status?: string | null;
  /** Keys given are set, keys set to null removed, keys left out kept. */
  attributes?: unknown;
}

export interface CreateIntegrationInput {
  provider: CrmProvider;
  name: string;
  /**
   * The CRM account (its adapter says which id: a portal, an organization). Optional: the
   * CRM is asked whose token it is; when given it must be that account.
   */
  accountId?: string | null;
  /** API base URL; the adapter's default (CrmAdapter.defaultApiBaseUrl) when absent. */
  apiBaseUrl?: string | null;
  /** Every CRM takes an access token; the adapter's credentials schema says what else. */
  accessToken: string;
  autoSync?: boolean | null;
  /** The CRM's other credentials (refresh token, client, app ids...): checked by its adapter's schema. */
  [credential: string]: unknown;
}

export interface WebhookStatus {
  integrationId: string;
  provider: CrmProvider;
  enabled: boolean;
  subscriptionId: string | null;
  events: string[];
  expiresAt: Date | null;
  totalReceived: number;
  lastReceivedAt: Date | null;
  created: number;
  updated: number;
  skipped: number;
  failed: number;
  pending: number;
  /** Pushes to this CRM waiting (pending or in progress). */
  pendingPushes: number;
  /** Pushes left failed (permanent error, or transient ones beyond RETRY_WINDOW_MS). */
  failedPushes: number;
  /** When the next waiting event or push is due (a breaker's cool-down included); null when nothing waits. */
  nextAttemptAt: Date | null;
  breaker: BreakerStatus;
  connection: ConnectionStatus;
}

/** The integration's connection to its CRM (connection-state.ts). */
export interface ConnectionStatus {
  state: 'CONNECTED' | 'NEEDS_RECONNECT' | 'DISCONNECTED';
  /** How it was connected: OAUTH (connectCrm) or TOKEN (pasted credentials). */
  via: 'OAUTH' | 'TOKEN';
  /** The error that moved it out of CONNECTED (AUTH_REVOKED); null while connected. */
  errorCode: string | null;
  changedAt: Date | null;
}

export interface BreakerStatus {
  state: 'CLOSED' | 'OPEN' | 'HALF_OPEN';
  /** Consecutive transient failures of calls to this CRM. */
  failures: number;
  /** OPEN: no call before this time; HALF_OPEN: the probe's deadline. */
  until: Date | null;
  openedAt: Date | null;
  lastErrorCode: string | null;
}

export interface EnableWebhooksResult {
  status: WebhookStatus;
  provision: Omit<ProvisionReport, 'settings'>;
  webhookUrl: string;
}

export interface RotateWebhookSecretResult {
  integrationId: string;
  /** The URL the CRM must call from now on (Salesforce: with the new secret). */
  webhookUrl: string;
  /** Until when the previous URL is still accepted; null when it no longer is. */
  previousValidUntil: Date | null;
}

export interface WebhookResponse {
  status: number;
  contentType: string;
  body: string;
}

export interface ConnectCrmInput {
  provider: CrmProvider;
  name: string;
  /** The CRM's connect options (CrmAdapter.oauth.connectOptions: a login host, a data centre). */
  options?: Record<string, unknown> | null;
}

/** Who starts a connection: the organization of the API key (and the key). */
export interface Starter {
  organizationId: string;
  apiKeyId: string | null;
}

/** What the OAuth callback answers: a redirect to the return page, or a page saying why not. */
export type CallbackAnswer =
  | { kind: 'redirect'; location: string }
  | { kind: 'page'; status: number; title: string; message: string; returnUrl: string };

/** A CRM as a customer may connect it. */
export interface CrmConnector {
  provider: CrmProvider;
  label: string;
  /** It connects through OAuth on this service (the adapter has it and its app is configured). */
  oauth: boolean;
  /** The connect options it takes (connectCrm `options`). */
  options: string[];
}

export interface SyncService {
  createLead(organizationId: string, input: CreateLeadInput): Promise<Lead>;
  updateLead(organizationId: string, input: UpdateLeadInput): Promise<Lead>;
  createIntegration(organizationId: string, input: CreateIntegrationInput): Promise<Integration>;
  /** The CRMs of this build and how they connect. */
  connectors(): CrmConnector[];
  /** Starts an OAuth connection: the URL of the CRM's consent screen, with a single-use state. */
  connectCrm(who: Starter, input: ConnectCrmInput): Promise<{ authorizeUrl: string; expiresAt: Date }>;
  /** The CRM sent the browser back to `/api/v1/oauth/<slug>/callback` with `query`. */
  completeOAuth(slug: string, query: Record<string, string>): Promise<CallbackAnswer>;
  /** Removes the CRM-side registrations, revokes the tokens, deletes the credentials; keeps leads and history. */
  disconnectCrm(organizationId: string, integrationId: string, opts?: { keepLinks?: boolean }): Promise<Integration>;
  enableWebhooks(organizationId: string, integrationId: string): Promise<EnableWebhooksResult>;
  disableWebhooks(organizationId: string, integrationId: string): Promise<WebhookStatus>;
  /** A new webhook secret (Salesforce endpoint URL, Zoho channel token); see rotateWebhookSecret. */
  rotateWebhookSecret(organizationId: string, integrationId: string, opts?: { revokePrevious?: boolean }): Promise<RotateWebhookSecretResult>;
  webhookStatus(organizationId: string, integrationId: string): Promise<WebhookStatus>;
  /** Starts an import and returns its job at once; progress is published on 'import.progress'. */
  importFromCrm(organizationId: string, integrationId: string): Promise<ImportJob>;
  importJob(organizationId: string, jobId: string): Promise<ImportJob>;
  /** The CRM's lead/contact fields (CrmClient.listFields), kept in memory a while unless `refresh`. */
  crmFields(organizationId: string, integrationId: string, opts?: { refresh?: boolean }): Promise<CrmField[]>;
  /** Replaces an integration's field mappings, checked against the CRM's fields (field-mappings.ts). */
  setFieldMappings(organizationId: string, integrationId: string, mappings: readonly MappingInput[]): Promise<SetMappingsResult>;
  /** Sets the request budget of an integration's client (null: the CRM's default); request-budget.ts. */
  setRequestBudget(organizationId: string, integrationId: string, budget: RequestBudgetInput | null): Promise<Integration>;
  /** The request budget in force; null when the CRM has no adjustable budget. */
  requestBudget(organizationId: string, integrationId: string): Promise<RequestBudgetView | null>;
  /** Starts a resync of mapped fields; returns its job at once. */
  resyncFields(organizationId: string, integrationId: string, fields: string[], source?: ResyncSource | null): Promise<FieldResyncJob>;
  fieldResyncJob(organizationId: string, jobId: string): Promise<FieldResyncJob>;
  /** Verifies, persists and acknowledges a webhook; processing happens afterwards. */
  receiveWebhook(provider: string, req: WebhookRequest): Promise<WebhookResponse>;
  /** Replays one failed sync event: its inbox event or outbox item goes back to pending. */
  retrySyncEvent(organizationId: string, syncEventId: string): Promise<SyncEvent>;
  /** Puts every failed inbound event and push of the organization (or one integration) back; returns how many. */
  retryFailed(organizationId: string, integrationId?: string | null): Promise<number>;
  /** Operations: the engine's metrics (absent in stubs; the app then keeps its own). */
  readonly metrics?: Metrics;
  /** Operations: whether the workers run (absent in stubs). */
  workerStatus?(): WorkerStatus;
}

export interface WorkerStatus {
  /** False when this process runs no workers (WORKERS=false): nothing to check. */
  enabled: boolean;
  /** Every worker loop is running (not stopped, not stopping). */
  running: boolean;
  stopping: boolean;
  workers: { name: string; running: boolean }[];
}

/** The request budget in force for an integration (request-budget.ts). */
export interface RequestBudgetView {
  requests: number;
  perMs: number;
  /** True when no budget was set: the CRM's default applies. */
  isDefault: boolean;
  /** The highest the CRM documents for any plan. */
  highest: RequestBudget;
  /** The CRM's documented budgets by plan. */
  documented: string;
}

export interface RequestBudgetInput {
  requests: number;
  perSeconds: number;
}
