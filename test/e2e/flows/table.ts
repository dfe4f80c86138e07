// What the one flow suite (test/e2e/flows.test.ts) needs from each CRM: how a person
// works in it, how to read what the service wrote there, how to count the service's
// writes and the CRM's notifications. One row per CRM (hubspot.ts, salesforce.ts,
// zoho.ts); where a CRM really behaves differently, the row says so in a named field.
import { expect } from 'vitest';
import type { CrmProvider } from '../../../adapters/contract.ts';
import type { Connected, Moving, Stack } from '../../helpers/stack.ts';

export const LEAD_FIELDS =
  'id email firstName lastName phone company status crmMetadata { sourceSystem lastSyncDirection lastSyncedAt syncVersion crmProvider } crmLinks { externalId provider }';

export async function leadsByEmail(stack: Stack, email: string) {
  const d = await stack.gqlOk(`query($e: String) { leads(email: $e, first: 10) { totalCount edges { node { ${LEAD_FIELDS} } } } }`, { e: email });
  return d.leads as { totalCount: number; edges: { node: any }[] };
}

/** The one lead with this email (fails the test when there is not exactly one). */
export async function theLead(stack: Stack, email: string) {
  const r = await leadsByEmail(stack, email);
  expect(r.totalCount).toBe(1);
  return r.edges[0].node;
}

export async function webhookStatus(stack: Stack, integrationId: string) {
  const d = await stack.gqlOk(`query($id: ID!) { webhookStatus(integrationId: $id) { created skipped failed totalReceived } }`, { id: integrationId });
  return d.webhookStatus as { created: number; skipped: number; failed: number; totalReceived: number };
}

/** A person's record in the CRM, in platform terms (null clears a field). */
export interface Person {
  email?: string | null;
  firstName?: string | null;
  lastName?: string | null;
  company?: string | null;
  phone?: string | null;
  status?: string | null;
  /** The origin tag (the CRM's origin field). */
  origin?: string | null;
}

/** A CRM record as the flows read it back: platform field names, and the CRM's own view. */
export interface SeenRecord {
  id: string;
  email: string | null;
  firstName: string | null;
  lastName: string | null;
  company: string | null;
  phone: string | null;
  status: string | null;
  origin: string | null;
}

/** A notification the CRM sent to the service. */
export interface SentNotification {
  /** The records it names. */
  ids: string[];
  /** What it says happened, when the CRM's notifications say it (Salesforce's do not). */
  kinds: ('created' | 'updated' | 'deleted' | 'other')[] | null;
  /** The platform fields it says changed, when the CRM's notifications name them (HubSpot's do). */
  fields: string[] | null;
  /** The service answered it as the CRM expects from a receiver that took it. */
  accepted: boolean;
}

/** One connected CRM sandbox, as the flows drive it. */
export interface FlowSandbox {
  integrationId: string;
  /** What enableWebhooks answered (when the row connected through createAndEnable). */
  enabled: Connected['enabled'] | null;
  moves: Moving;
  close(): Promise<void>;
  createAsUser(p: Person): string;
  updateAsUser(id: string, p: Person): void;
  deleteAsUser(id: string): void;
  recordsWithEmail(email: string): SeenRecord[];
  record(id: string): SeenRecord | null;
  /** Writes of records the service made through the CRM's API so far. */
  writes(): number;
  notifications(): SentNotification[];
}

export interface FlowCrm<S extends FlowSandbox = FlowSandbox> {
  name: string;
  provider: CrmProvider;
  /** The sourceSystem of leads that came from this CRM. */
  sourceSystem: string;
  /** The noun the service's log lines use for this CRM's records. */
  noun: 'contact' | 'lead';
  /** Settings of the service for this CRM's stack. */
  stackEnv?: Record<string, string>;
  start(stack: Stack): Promise<S>;
  /** What enableWebhooks must have prepared in this CRM (the CRMs differ entirely here). */
  provisioned: { title: string; check(stack: Stack, sb: S): void | Promise<void> };
  /** The email as a person types it in the CRM's form. */
  typedEmail: string;
  /** The status a person gives a new record (undefined: leaves it) and the one the lead gets. */
  personStatus: { given: string | undefined; expected: string };
  /**
   * Creating a record without an email sends one notification (true), or several (HubSpot:
   * contact.creation and a propertyChange per property set), each skipped.
   */
  oneNotificationPerCreate: boolean;
  /**
   * A notification of an edit made in the second the record was created reads as one of its
   * creation (Salesforce: an Outbound Message does not say created or updated, and stamps
   * whole seconds, so CreatedDate = LastModifiedDate): its echo is skipped as our own origin.
   */
  earlyEditReadsAsCreation: boolean;
  /** The CRM notifies the service of deletions (Salesforce's Outbound Messages do not). */
  notifiesDeletion: boolean;
  /** What the CRM fills in itself on a record created with an email alone (Salesforce: a Status). */
  filledOnCreate: Partial<SeenRecord>;
  /** Whether the last write of the record came through the API as the service (only Salesforce records that). */
  lastWriteWasOurs?(sb: S, id: string): boolean;
  /** Checks of a pushed record that only this CRM can make. */
  pushedExtras?(stack: Stack, sb: S, rec: SeenRecord, platformLeadId: string): void;
  /** Flows only this CRM has, run on the same stack after the shared ones. */
  extraFlows?(ctx: () => { stack: Stack; sb: S }): void;
  /** Suites only this CRM has, each with a stack of its own. */
  extraSuites?(): void;
}
