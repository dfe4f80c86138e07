// A circuit breaker per integration, kept in the database so every instance (and
// webhookStatus) sees it. When calls to a CRM fail transiently BREAKER_THRESHOLD times in
// a row, the breaker opens: no work of that integration is claimed until the cool-down
// ends. Then one worker takes a probe (one call); success closes the breaker, failure
// opens it again for a longer cool-down (doubling, up to 16 times BREAKER_COOLDOWN_MS). A 429 with Retry-After pauses the integration
// until then whatever the count: the CRM asked us to wait.
import type { CrmError } from '../../adapters/contract.ts';
import type { Integration, PrismaClient } from '../generated/prisma/client.ts';
import type { Logger } from '../logger.ts';

export type BreakerState = 'closed' | 'open' | 'half_open';

export interface BreakerConfig {
  BREAKER_THRESHOLD: number;
  BREAKER_COOLDOWN_MS: number;
  WORK_LEASE_MS: number;
}

/** What a worker holding claimed work of an integration may do now. */
export type Admission = { kind: 'go' } | { kind: 'probe' } | { kind: 'wait'; until: Date };

/** Errors that say "the CRM (or the way to it) is not answering properly now". */
export function isTransient(e: CrmError): boolean {
  return e.retryable && (e.code === 'RATE_LIMITED' || e.code === 'NETWORK' || e.code === 'UPSTREAM' || e.code === 'AUTH_EXPIRED');
}

type BreakerRow = Pick<Integration, 'id' | 'breakerState' | 'breakerUntil'>;

/**
 * Decides whether calls to this integration's CRM may go now. An open breaker whose
 * cool-down has ended lets exactly one worker probe: the switch to half_open is one
 * conditional update, so of several instances only one wins it.
 */
export async function admit(prisma: PrismaClient, integration: BreakerRow, config: BreakerConfig, now = new Date()): Promise<Admission> {
  // The breaker columns as the caller read them with its claimed work, in this pass (no
  // second read: another instance opening the breaker a moment later is seen next pass,
  // and the half-open transition below is decided by the database, not by this copy).
  const current = integration;
  if (current.breakerState === 'closed') {
    if (current.breakerUntil && current.breakerUntil > now) return { kind: 'wait', until: current.breakerUntil };
    return { kind: 'go' };
  }
  if (current.breakerUntil && current.breakerUntil > now) return { kind: 'wait', until: current.breakerUntil };
  const probeUntil = new Date(now.getTime() + config.WORK_LEASE_MS);
  const won = await prisma.integration.updateMany({
    where: {
      id: integration.id,
      breakerState: current.breakerState,
      OR: [{ breakerUntil: null }, { breakerUntil: { lte: now } }],
    },
    data: { breakerState: 'half_open', breakerUntil: probeUntil },
  });
  return won.count === 1 ? { kind: 'probe' } : { kind: 'wait', until: probeUntil };
}

/** A call to the CRM answered: the breaker closes. */
export async function recordSuccess(prisma: PrismaClient, integrationId: string, logger?: Logger): Promise<void> {
  const r = await prisma.integration.updateMany({
    where: { id: integrationId, OR: [{ breakerState: { not: 'closed' } }, { breakerFailures: { gt: 0 } }, { breakerUntil: { not: null } }] },
    data: { breakerState: 'closed', breakerFailures: 0, breakerUntil: null, breakerOpenedAt: null, breakerLastError: null },
  });
  if (r.count > 0) logger?.info({ integrationId }, 'CRM answers again: circuit breaker closed');
}

/**
 * A call to the CRM failed transiently. Returns until when the integration now pauses
 * (null when calls may go on).
 */
export async function recordFailure(
  prisma: PrismaClient,
  integrationId: string,
  error: CrmError,
  config: BreakerConfig,
  logger?: Logger,
  now = new Date(),
): Promise<Date | null> {
  const row = await prisma.integration.update({
    where: { id: integrationId },
    data: { breakerFailures: { increment: 1 }, breakerLastError: error.code },
    select: { breakerState: true, breakerFailures: true, breakerOpenedAt: true, breakerUntil: true },
  });
  // A failed probe of a breaker opened by failures opens it again; below the threshold
  // (a pause asked for by Retry-After) only the CRM's own wait applies.
  const trips = row.breakerFailures >= config.BREAKER_THRESHOLD;
  let until: Date | null = null;
  if (trips) {
    // Each failed probe doubles the cool-down, up to 16 times the base.
    const over = Math.max(0, row.breakerFailures - config.BREAKER_THRESHOLD);
    until = new Date(now.getTime() + config.BREAKER_COOLDOWN_MS * 2 ** Math.min(4, over));
  }
  if (error.retryAfterMs && error.retryAfterMs > 0) {
    const asked = new Date(now.getTime() + error.retryAfterMs);
    if (!until || asked > until) until = asked;
  }
  if (!until) {
    if (row.breakerState !== 'closed') await prisma.integration.update({ where: { id: integrationId }, data: { breakerState: 'closed', breakerUntil: null } });
    return null;
  }
  await prisma.integration.update({
    where: { id: integrationId },
    data: { breakerState: 'open', breakerUntil: until, breakerOpenedAt: row.breakerOpenedAt ?? now },
  });
  if (row.breakerState !== 'open') {
    logger?.warn(
      { integrationId, code: error.code, failures: row.breakerFailures, until },
      `CRM calls failing (${error.code}): circuit breaker open, next probe at ${until.toISOString()}`,
    );
  }
  return until;
}

/** A probe that made no call (nothing needed one): the next work may probe at once. */
export async function probeUnused(prisma: PrismaClient, integrationId: string): Promise<void> {
  await prisma.integration.updateMany({ where: { id: integrationId, breakerState: 'half_open' }, data: { breakerState: 'open', breakerUntil: new Date() } });
}

/** The breaker as webhookStatus shows it. */
export function breakerView(i: Pick<Integration, 'breakerState' | 'breakerFailures' | 'breakerUntil' | 'breakerOpenedAt' | 'breakerLastError'>, now = new Date()) {
  const state = (i.breakerState === 'half_open' ? 'HALF_OPEN' : i.breakerState === 'open' ? 'OPEN' : 'CLOSED') as 'CLOSED' | 'OPEN' | 'HALF_OPEN';
  return {
    state,
    failures: i.breakerFailures,
    until: state === 'CLOSED' && !(i.breakerUntil && i.breakerUntil > now) ? null : i.breakerUntil,
    openedAt: i.breakerOpenedAt,
    lastErrorCode: i.breakerLastError,
  };
}
