// What applying a CRM record (or event) did, and the one reading of it: the history,
// the webhook status and the metrics all classify outcomes here.
export type ApplyOutcome =
  | 'created'
  | 'updated'
  | 'linked'
  | 'unchanged'
  | 'deleted'
  | 'merged'
  | 'skipped_own_origin'
  | 'skipped_no_email'
  | 'skipped_echo'
  | 'skipped_stale'
  | 'skipped_missing'
  | 'skipped_disabled'
  | 'skipped_deleted';

/** Which path brought a record. 'push': read back before a retried push (read-back.ts). */
export type ApplyVia = 'webhook' | 'import' | 'poll' | 'push';

export interface ApplyResult {
  outcome: ApplyOutcome;
  leadId: string | null;
}

/** Outcomes that changed the platform's leads or links. */
export const CHANGED_OUTCOMES: readonly ApplyOutcome[] = ['created', 'updated', 'linked', 'deleted', 'merged'];

/** Outcomes that changed nothing (a record known already, or one the rules skip). */
export const SKIPPED_OUTCOMES: readonly ApplyOutcome[] = [
  'unchanged',
  'skipped_own_origin',
  'skipped_no_email',
  'skipped_echo',
  'skipped_stale',
  'skipped_missing',
  'skipped_disabled',
  'skipped_deleted',
];

export type OutcomeStatus = 'succeeded' | 'skipped' | 'failed';

/**
 * The class of an outcome (as stored, so any string): succeeded (it changed something),
 * skipped (it changed nothing), failed; null for a value that is no outcome (an event
 * not processed yet).
 */
export function outcomeStatus(outcome: string | null | undefined): OutcomeStatus | null {
  if (outcome === 'failed') return 'failed';
  if ((CHANGED_OUTCOMES as readonly string[]).includes(outcome ?? '')) return 'succeeded';
  if ((SKIPPED_OUTCOMES as readonly string[]).includes(outcome ?? '')) return 'skipped';
  return null;
}

/** How an apply outcome reads in the history: its kind, status and reason. */
export function inboundFromOutcome(outcome: ApplyOutcome | 'failed'): { kind: string; status: OutcomeStatus; reason: string | null } {
  const status = outcomeStatus(outcome);
  if (status === 'failed') return { kind: 'failed', status, reason: 'failed' };
  if (status === 'succeeded') return { kind: outcome, status, reason: null };
  return { kind: 'skipped', status: 'skipped', reason: outcome };
}
