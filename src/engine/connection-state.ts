// The state of an integration's connection to its CRM, apart from its webhooks:
// - connected: calls go;
// - needs_reconnect: the CRM refused the grant (AUTH_REVOKED: consent revoked, user
//   deactivated, refresh token expired). Its pushes and applies are held (not claimed,
//   never failed, no attempt counted) until the customer connects the same account again
//   (the OAuth callback), then resume;
// - disconnected: disconnectCrm removed it from the CRM and deleted its credentials.
import type { CrmError } from '../../adapters/contract.ts';
import { AppError } from '../errors.ts';
import type { Integration } from '../generated/prisma/client.ts';
import type { EngineContext } from './context.ts';

export type ConnectionState = 'connected' | 'needs_reconnect' | 'disconnected';

export const CONNECTED: ConnectionState = 'connected';
export const NEEDS_RECONNECT: ConnectionState = 'needs_reconnect';
export const DISCONNECTED: ConnectionState = 'disconnected';

/** The connection state as the API shows it (CONNECTED, NEEDS_RECONNECT, DISCONNECTED). */
export function connectionStateView(state: string): 'CONNECTED' | 'NEEDS_RECONNECT' | 'DISCONNECTED' {
  if (state === NEEDS_RECONNECT) return 'NEEDS_RECONNECT';
  if (state === DISCONNECTED) return 'DISCONNECTED';
  return 'CONNECTED';
}

/**
 * The CRM refused the grant: the integration waits for the customer. Idempotent (one log
 * line per change); a disconnected integration stays disconnected.
 */
export async function markNeedsReconnect(
  deps: Pick<EngineContext, 'prisma' | 'logger'>,
  integration: Pick<Integration, 'id' | 'provider' | 'organizationId'>,
  error: Pick<CrmError, 'code'>,
): Promise<void> {
  const r = await deps.prisma.integration.updateMany({
    where: { id: integration.id, connectionState: CONNECTED },
    data: { connectionState: NEEDS_RECONNECT, connectionError: error.code, connectionChangedAt: new Date() },
  });
  if (r.count > 0) {
    deps.logger.warn(
      { integrationId: integration.id, organizationId: integration.organizationId, provider: integration.provider, code: error.code },
      `${integration.provider} refused the grant (${error.code}): pushes and applies held until the customer connects the account again`,
    );
  }
}

/** True for the error that moves an integration to needs_reconnect. */
export const revokesGrant = (e: Pick<CrmError, 'code'>) => e.code === 'AUTH_REVOKED';

/** Refuses an operation that calls the CRM while the connection waits for the customer (CONFLICT). */
export function requireConnected(integration: Pick<Integration, 'connectionState' | 'provider'>, doing: string): void {
  if (integration.connectionState === NEEDS_RECONNECT) {
    throw new AppError('CONFLICT', `Cannot ${doing}: ${integration.provider} refused the grant; connect the account again (connectCrm) first`);
  }
  if (integration.connectionState === DISCONNECTED) {
    throw new AppError('CONFLICT', `Cannot ${doing}: the integration is disconnected; connect the account again (connectCrm) first`);
  }
}

/** The connection as webhookStatus shows it. */
export function connectionStatus(
  i: Pick<Integration, 'connectionState' | 'connectedVia' | 'connectionError' | 'connectionChangedAt'>,
): { state: ReturnType<typeof connectionStateView>; via: 'OAUTH' | 'TOKEN'; errorCode: string | null; changedAt: Date | null } {
  const state = connectionStateView(i.connectionState);
  return { state, via: i.connectedVia === 'oauth' ? 'OAUTH' : 'TOKEN', errorCode: state === 'CONNECTED' ? null : i.connectionError, changedAt: i.connectionChangedAt };
}
