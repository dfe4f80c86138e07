// Renews an integration's OAuth tokens for its clients (the contract's TokenKeeper, given
// through ConnectionOptions.tokens). One refresh at a time per integration, on every
// instance: in this process the callers of one integration share one renewal; across
// instances the one holding the integration's refresh lease (a conditional update of
// `refreshLeaseBy`/`refreshLeaseUntil`, no transaction held while the CRM answers) calls
// the CRM, the others wait and read what it stored. New tokens are persisted (encrypted)
// before anyone is answered; a refresh token the CRM rotated replaces the old one, one it
// did not send keeps the old one. A grant the CRM refused (AUTH_REVOKED) moves the
// integration to needs_reconnect: its work is held until the customer connects again.
import { CrmError, isCrmError, type CrmAdapter, type Credentials, type OAuthApp, type TokenKeeper } from '../../adapters/contract.ts';
import type { Integration } from '../generated/prisma/client.ts';
import { checkedApiBase, readCredentials, writeCredentials } from './connections.ts';
import { markNeedsReconnect } from './connection-state.ts';
import type { EngineContext } from './context.ts';

export type KeeperDeps = Pick<EngineContext, 'config' | 'prisma' | 'logger' | 'connections' | 'instanceId'> & Partial<Pick<EngineContext, 'metrics'>>;

/** How long one refresh may hold the lease: the CRM call's deadline and the write after it. */
const leaseMsFor = (callTimeoutMs: number) => callTimeoutMs + 15_000;
/** How often a caller waiting for another instance's refresh looks again. */
const WAIT_STEP_MS = 100;

/** The callback URL registered with the CRM for this adapter. */
export function redirectUriFor(publicBaseUrl: string, adapter: Pick<CrmAdapter, 'slug'>): string {
  return `${publicBaseUrl}/api/v1/oauth/${adapter.slug}/callback`;
}

/**
 * The OAuth app a refresh uses: the one the integration was connected with. Tokens pasted
 * with their own client id and secret (createIntegration) renew with those; OAuth
 * connections with the app of the environment.
 */
export function appFor(deps: Pick<EngineContext, 'config'>, adapter: CrmAdapter, credentials: Credentials): OAuthApp | null {
  const redirectUri = redirectUriFor(deps.config.PUBLIC_BASE_URL, adapter);
  if (credentials.clientId && credentials.clientSecret) return { clientId: credentials.clientId, clientSecret: credentials.clientSecret, redirectUri };
  return adapter.oauth?.app(deps.config, redirectUri) ?? null;
}

export class TokenKeepers {
  /** The renewal in flight in this process, per integration. */
  private readonly inFlight = new Map<string, Promise<{ credentials: Credentials; baseUrl?: string }>>();

  constructor(private readonly deps: KeeperDeps) {}

  /** The keeper handed to the client of one integration. */
  for(integrationId: string): TokenKeeper {
    return {
      renew: (rejected) => {
        const running = this.inFlight.get(integrationId);
        if (running) return running;
        const p = this.renew(integrationId, rejected).finally(() => this.inFlight.delete(integrationId));
        this.inFlight.set(integrationId, p);
        return p;
      },
    };
  }

  private async renew(integrationId: string, rejected: string | undefined): Promise<{ credentials: Credentials; baseUrl?: string }> {
    const { prisma, config } = this.deps;
    const leaseMs = leaseMsFor(config.CRM_CALL_TIMEOUT_MS);
    const giveUpAt = Date.now() + 2 * leaseMs;
    for (;;) {
      const row = await prisma.integration.findUniqueOrThrow({ where: { id: integrationId } });
      const current = this.usable(row, rejected);
      if (current) return current;
      const now = new Date();
      const won = await prisma.integration.updateMany({
        where: { id: integrationId, OR: [{ refreshLeaseUntil: null }, { refreshLeaseUntil: { lt: now } }] },
        data: { refreshLeaseBy: this.deps.instanceId, refreshLeaseUntil: new Date(now.getTime() + leaseMs) },
      });
      if (won.count === 1) return this.refreshHolding(integrationId, rejected);
      if (Date.now() > giveUpAt) {
        throw new CrmError('AUTH_EXPIRED', 'another instance is still renewing the tokens of this integration', { retryable: true });
      }
      await new Promise((resolve) => setTimeout(resolve, WAIT_STEP_MS));
    }
  }

  /**
   * What the stored row offers instead of `rejected`: its credentials when they hold
   * another access token (another worker renewed them already); null when a refresh is
   * needed. Throws AUTH_REVOKED when the connection waits for the customer.
   */
  private usable(row: Integration, rejected: string | undefined): { credentials: Credentials; baseUrl: string } | null {
    if (row.connectionState !== 'connected') {
      throw new CrmError('AUTH_REVOKED', `the connection is ${row.connectionState}: it waits for the customer to connect again`);
    }
    const credentials = readCredentials(row, this.deps.connections.keyring);
    // Another token than the refused one, and not expired (an expired one would only be
    // refused in turn: it is renewed at once instead).
    const expiresAt = credentials.expiresAt ? Date.parse(credentials.expiresAt) : NaN;
    const fresh = Number.isNaN(expiresAt) || expiresAt > Date.now();
    if (credentials.accessToken && credentials.accessToken !== rejected && fresh) return { credentials, baseUrl: row.apiBaseUrl };
    return null;
  }

  /** The refresh itself, by the holder of the lease; the lease is given back whatever happens. */
  private async refreshHolding(integrationId: string, rejected: string | undefined): Promise<{ credentials: Credentials; baseUrl?: string }> {
    const { prisma, connections } = this.deps;
    const me = this.deps.instanceId;
    const release = () =>
      prisma.integration.updateMany({ where: { id: integrationId, refreshLeaseBy: me }, data: { refreshLeaseBy: null, refreshLeaseUntil: null } });
    try {
      // Read again under the lease: a refresh that ended between the first read and the
      // lease already stored new tokens.
      const row = await prisma.integration.findUniqueOrThrow({ where: { id: integrationId } });
      const current = this.usable(row, rejected);
      if (current) return current;
      const adapter = connections.adapter(row.provider);
      const log = this.deps.logger.child({ integrationId, provider: row.provider });
      const credentials = readCredentials(row, connections.keyring);
      const app = appFor(this.deps, adapter, credentials);
      if (!adapter.oauth || !credentials.refreshToken || !app) {
        // Nothing to renew with (a pasted token without a refresh token): the CRM's refusal
        // stands, as the client's own renewal answers it; a new token is the customer's to give.
        throw new CrmError('AUTH_EXPIRED', 'the CRM refused the access token and there is no refresh token to renew it with', { retryable: false });
      }
      let grant;
      try {
        grant = await adapter.oauth.refresh({
          env: this.deps.config,
          app,
          credentials,
          baseUrl: row.apiBaseUrl,
          network: connections.network,
          callTimeoutMs: this.deps.config.CRM_CALL_TIMEOUT_MS,
          logger: log,
        });
      } catch (e) {
        const revoked = isCrmError(e) && e.code === 'AUTH_REVOKED';
        this.deps.metrics?.tokenRefreshes.inc({ provider: row.provider, outcome: revoked ? 'revoked' : 'failed' });
        if (revoked) await markNeedsReconnect(this.deps, row, e);
        else log.warn({ code: isCrmError(e) ? e.code : 'UNEXPECTED' }, 'token refresh failed');
        throw e;
      }
      this.deps.metrics?.tokenRefreshes.inc({ provider: row.provider, outcome: 'renewed' });
      // A rotated refresh token replaces the old one; an answer without one keeps it.
      const merged: Credentials = { ...credentials, ...grant.credentials, refreshToken: grant.credentials.refreshToken ?? credentials.refreshToken };
      const movedTo = checkedApiBase(adapter, grant.baseUrl, connections.network);
      if (grant.baseUrl && movedTo === null) log.warn('the CRM named an API host that is not one of its own; not stored');
      const apiBaseUrl = movedTo ?? row.apiBaseUrl;
      // Persisted before anyone is answered, under the lease (a holder whose lease expired
      // and was taken over stores nothing: the new holder's tokens stand).
      const column = writeCredentials(merged, connections.keyring);
      const stored = await prisma.integration.updateMany({
        where: { id: integrationId, refreshLeaseBy: me },
        data: { credentials: column, apiBaseUrl, refreshLeaseBy: null, refreshLeaseUntil: null },
      });
      if (stored.count === 0) throw new CrmError('AUTH_EXPIRED', 'the token refresh outlived its lease; its tokens were not stored', { retryable: true });
      // The live client holds the new tokens once answered: it stays (with its rate limiter).
      connections.renewed(integrationId, { apiBaseUrl: row.apiBaseUrl, credentials: row.credentials, settings: row.settings, fieldMappings: row.fieldMappings }, { apiBaseUrl, credentials: column, settings: row.settings, fieldMappings: row.fieldMappings });
      if (apiBaseUrl !== row.apiBaseUrl) log.warn({ from: row.apiBaseUrl, to: apiBaseUrl }, 'the CRM moved this account to another API host; using it from now on');
      log.info('crm credentials refreshed and stored');
      return { credentials: merged, baseUrl: apiBaseUrl };
    } finally {
      await release().catch((err) => this.deps.logger.warn({ err, integrationId }, 'could not release the token refresh lease; it will expire'));
    }
  }
}
