// Turns an integration row into a connected CRM client, and keeps one client per
// integration so each keeps its own rate limiter and token state.
import type { CrmAdapter, CrmClient, CrmProvider, Credentials, NetworkPolicy, TokenKeeper } from '../../adapters/contract.ts';
import { checkOrigin, HostAllowList } from '../../adapters/kit/net-guard.ts';
import { AppError } from '../errors.ts';
import type { Integration, Prisma, PrismaClient } from '../generated/prisma/client.ts';
import type { Logger } from '../logger.ts';
import type { Keyring } from '../secrets.ts';
import type { Metrics } from '../metrics.ts';
import { measured } from './crm-call-metrics.ts';
import { planFor } from './mapped-fields.ts';

/**
 * The credentials of an integration row. The column holds an encrypted envelope
 * (src/secrets.ts); rows written before encryption hold plain JSON and still read.
 * A value that cannot be decrypted (key not configured, altered data) throws SecretError.
 */
export function readCredentials(integration: Pick<Integration, 'credentials'>, keyring: Keyring): Credentials {
  const text = keyring.decrypt(integration.credentials);
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === 'object' ? (v as Credentials) : {};
  } catch {
    return {};
  }
}

/** The column value for credentials: always encrypted with the keyring's current key. */
export function writeCredentials(credentials: Credentials, keyring: Keyring): string {
  return keyring.encrypt(JSON.stringify(credentials));
}

/** The values the origin field must accept: our tag, the CRM's own name, and "manual". */
export function tagValuesFor(provider: CrmProvider, platformTag: string): string[] {
  return [platformTag, provider.toLowerCase(), 'manual'];
}

export function settingsOf(integration: Pick<Integration, 'settings'>): Record<string, unknown> {
  const s = integration.settings;
  return s && typeof s === 'object' && !Array.isArray(s) ? (s as Record<string, unknown>) : {};
}

/**
 * A base URL checked by the network guard against the adapter's API hosts (normalised to
 * an origin), or null when refused. Throws nothing.
 */
export function checkedApiBase(adapter: CrmAdapter, url: string | undefined, policy: NetworkPolicy): string | null {
  if (!url) return null;
  try {
    return checkOrigin(url, new HostAllowList(adapter.hosts.api), policy);
  } catch {
    return null;
  }
}

type ClientSource = Pick<Integration, 'apiBaseUrl' | 'credentials' | 'settings'> & Partial<Pick<Integration, 'fieldMappings'>>;

// A client reads the CRM fields the mappings name: new mappings, new client.
const clientKey = (i: ClientSource) => `${i.apiBaseUrl}|${i.credentials}|${JSON.stringify(i.settings)}|${JSON.stringify(i.fieldMappings ?? null)}`;

export class Connections {
  private readonly adapters = new Map<CrmProvider, CrmAdapter>();
  private readonly clients = new Map<string, { key: string; client: CrmClient }>();

  constructor(
    adapters: CrmAdapter[],
    private readonly prisma: PrismaClient,
    private readonly logger: Logger,
    readonly keyring: Keyring,
    /** Every client is wrapped to count and time its calls when given. */
    private readonly metrics?: Metrics,
    /** Where CRM requests may go (CRM_ALLOW_LOCAL_HOSTS); the adapters' allow-lists only by default. */
    readonly network: NetworkPolicy = {},
    /** Deadline of one CRM call (CRM_CALL_TIMEOUT_MS); the adapters' default when absent. */
    private readonly callTimeoutMs?: number,
  ) {
    for (const a of adapters) this.adapters.set(a.provider, a);
  }

  adapter(provider: CrmProvider): CrmAdapter {
    const a = this.adapters.get(provider);
    if (!a) throw new AppError('UNSUPPORTED', `No adapter for ${provider} in this build`);
    return a;
  }

  /**
   * Integration settings about to be stored, checked against the adapter's settings
   * schema (unknown keys are kept). Settings come from the adapter itself (provision,
   * prepare): a refusal is a defect of the adapter, thrown as an unexpected error.
   */
  settingsToStore(provider: CrmProvider, settings: Record<string, unknown>): Prisma.InputJsonValue {
    const adapter = this.adapter(provider);
    const r = adapter.settings.safeParse(settings);
    if (!r.success) {
      const problems = r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
      throw new Error(`the ${adapter.label} adapter answered settings its own schema refuses (${problems})`);
    }
    return r.data as Prisma.InputJsonValue;
  }

  /** The adapter of a provider, or undefined when this build has none. */
  find(provider: CrmProvider): CrmAdapter | undefined {
    return this.adapters.get(provider);
  }

  /** The adapter whose webhook route ends with this segment (its slug; any case). */
  adapterForPath(segment: string): CrmAdapter | undefined {
    for (const a of this.adapters.values()) {
      if (a.slug === segment.toLowerCase()) return a;
    }
    return undefined;
  }

  /** What one record of this CRM is called, for log lines (contact, lead). */
  noun(provider: CrmProvider): string {
    return this.find(provider)?.noun ?? 'record';
  }

  /** Decrypted credentials of an integration row. */
  credentials(integration: Pick<Integration, 'credentials'>): Credentials {
    return readCredentials(integration, this.keyring);
  }

  providers(): CrmProvider[] {
    return [...this.adapters.keys()];
  }

  /** Who renews OAuth tokens for the clients (the service's TokenKeepers); set once by the engine. */
  private keeper?: (integrationId: string) => TokenKeeper;

  useTokenKeeper(keeper: (integrationId: string) => TokenKeeper) {
    this.keeper = keeper;
  }

  /** The keeper that renews this integration's tokens (what every client of it is given). */
  tokensFor(integrationId: string): TokenKeeper | undefined {
    return this.keeper?.(integrationId);
  }

  /**
   * Tokens renewed through the keeper were stored: the live client built from `before`
   * already holds them (the keeper answered it), so it is kept for the row as it is now.
   */
  renewed(integrationId: string, before: ClientSource, after: ClientSource) {
    const entry = this.clients.get(integrationId);
    if (entry && entry.key === clientKey(before)) entry.key = clientKey(after);
  }

  client(integration: Integration): CrmClient {
    // A client is rebuilt when what it was built from changes (credentials, settings, URL).
    const key = clientKey(integration);
    const cached = this.clients.get(integration.id);
    if (cached && cached.key === key) return cached.client;
    const log = this.logger.child({ integrationId: integration.id, provider: integration.provider });
    let baseUrl = integration.apiBaseUrl;
    const adapter = this.adapter(integration.provider);
    const credentials = readCredentials(integration, this.keyring);
    const client = adapter.connect({
      baseUrl: integration.apiBaseUrl,
      accountId: integration.accountId,
      credentials,
      settings: settingsOf(integration),
      logger: log,
      network: this.network,
      callTimeoutMs: this.callTimeoutMs,
      // The CRM fields the integration's mappings read beyond the six (mapped-fields.ts).
      extraFields: planFor(adapter, integration).extraFields,
      // One refresh at a time per integration, across workers and instances (token-keeper.ts),
      // for every integration that can renew: connected through OAuth, or pasted with a
      // refresh token (renewed with the client id and secret pasted with it).
      ...(this.keeper && (integration.connectedVia === 'oauth' || renewable(credentials)) ? { tokens: this.keeper(integration.id) } : {}),
      onCredentialsChanged: async (credentials, connection) => {
        const merged = { ...readCredentials(integration, this.keyring), ...credentials };
        // The CRM may move an account to another API host (named in the token answer):
        // later connections must go there, not to the host the integration started on —
        // provided the network guard accepts it as one of the CRM's hosts.
        const movedTo = checkedApiBase(adapter, connection?.baseUrl, this.network);
        if (connection?.baseUrl && movedTo === null) {
          log.warn('the CRM named an API host that is not one of its own; not stored');
        }
        const moved = movedTo !== null && movedTo !== baseUrl;
        const updated = await this.prisma.integration.update({
          where: { id: integration.id },
          data: { credentials: writeCredentials(merged, this.keyring), ...(moved ? { apiBaseUrl: movedTo } : {}) },
        });
        if (moved) {
          log.warn({ from: baseUrl, to: movedTo }, 'the CRM moved this account to another API host; using it from now on');
          baseUrl = movedTo;
        }
        // Keep the live client: it already holds the new token.
        const entry = this.clients.get(integration.id);
        if (entry) {
          entry.key = clientKey(updated);
        }
        log.info('crm credentials refreshed and stored');
      },
    });
    const wrapped = this.metrics ? measured(client, integration.provider, this.metrics) : client;
    this.clients.set(integration.id, { key, client: wrapped });
    return wrapped;
  }

  forget(integrationId: string) {
    this.clients.delete(integrationId);
  }
}

/** Pasted credentials that can renew their access token: a refresh token and the client it belongs to. */
function renewable(credentials: Credentials): boolean {
  return Boolean(credentials.refreshToken && credentials.clientId && credentials.clientSecret);
}
