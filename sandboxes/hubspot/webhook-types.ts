// The HubSpot sandbox's webhook vocabulary: subscriptions, v3 events, the deliveries it
// records, the misbehaviours a test can ask of it, and the dispatcher's options.

export interface Subscription {
  id: string;
  eventType: string;
  propertyName: string | null;
  active: boolean;
  createdAt: number;
  updatedAt: number;
}

/** One v3 webhook event exactly as HubSpot sends it. */
export interface HubSpotEvent {
  eventId: number;
  subscriptionId: number;
  portalId: number;
  appId: number;
  occurredAt: number;
  subscriptionType: string;
  attemptNumber: number;
  objectId: number;
  changeSource: string;
  changeFlag?: string;
  sourceId?: string;
  propertyName?: string;
  propertyValue?: string;
  primaryObjectId?: number;
  mergedObjectIds?: number[];
  newObjectId?: number;
  numberOfPropertiesMoved?: number;
}

export interface WebhookDelivery {
  /** Same for every attempt (and copy) of one batch. */
  batchId: string;
  attemptNumber: number;
  /** 'retry' attempts follow a failure; 'duplicate' and 'concurrent' are deliberate copies. */
  kind: 'first' | 'retry' | 'duplicate' | 'concurrent';
  url: string;
  headers: Record<string, string>;
  body: string;
  events: HubSpotEvent[];
  startedAt: number;
  finishedAt: number | null;
  /** HTTP status the receiver answered; null on connection failure or timeout. */
  status: number | null;
  error: string | null;
}

export interface WebhookBehavior {
  /** Send each batch this many extra times after it succeeded (same attemptNumber): duplicate delivery. */
  duplicates?: number;
  /** Wait this long before sending each batch. */
  delayMs?: number;
  /** Send events newest first (within and across batches). */
  reorder?: boolean;
  /** Send each batch this many times at once (racing copies). */
  concurrentCopies?: number;
  /** Events per POST (HubSpot: up to 100). */
  batchSize?: number;
  /** Fraction (0..1) of batches sent once more after they succeeded (HubSpot may deliver an event twice). */
  duplicateRate?: number;
  /**
   * Fraction (0..1) of contact.creation events held back and sent in a later POST, once
   * the POST with the contact's property changes was answered (HubSpot does not
   * guarantee the order of events).
   */
  lateCreationRate?: number;
  /** Random source of the two rates above (seeded by the harness to reproduce a run). */
  random?: () => number;
}

export interface WebhookDispatcherOptions {
  portalId: number;
  appId: number;
  clientSecret: string;
  targetUrl: string | null;
  /** Waits before attempts 1, 2, ... (the last value repeats). HubSpot spreads 10 attempts over 24 h. */
  retryDelaysMs: number[];
  /** Total attempts per batch, HubSpot: 10. */
  maxAttempts: number;
  /** A slower answer counts as a failure (HubSpot: 5 s). */
  timeoutMs: number;
  /** Batches in flight at once (HubSpot: 10 per account). */
  maxConcurrent: number;
  /** How long changes are collected into one batch. */
  batchWindowMs: number;
  legacySignatureVersion: 'v1' | 'v2';
  /** Also send propertyChange events for the properties set on creation. */
  propertyChangeOnCreate: boolean;
}
