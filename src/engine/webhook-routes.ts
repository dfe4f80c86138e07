// Which integrations a webhook is for, and what verifying it needs, kept for a moment.
// Every CRM notification needs them, and they change rarely: looking them up and
// decrypting the credentials once per WEBHOOK_ROUTE_CACHE_MS (per routing key) instead of
// once per request takes a query and two decryptions off the intake path.
//
// Freshness: this instance forgets everything at once whenever it changes an integration
// in a way routing or verification reads (created, webhooks enabled, disabled, renewed,
// secret rotated: index.ts). Another instance's change is seen at most
// WEBHOOK_ROUTE_CACHE_MS later; during that moment a disabled integration's events are
// still stored pending (the worker skips them: it reads the integration fresh), and a
// rotated secret may be refused (the CRM delivers again).
import type { CrmAdapter, Credentials } from '../../adapters/contract.ts';
import type { Integration, PrismaClient } from '../generated/prisma/client.ts';
import type { Keyring } from '../secrets.ts';
import { readCredentials } from './connections.ts';
import { readWebhookSecrets, type WebhookSecretSet } from './webhook-secrets.ts';

/** An integration a webhook is routed to, with its secrets decrypted. */
export interface Routed {
  integration: Integration;
  credentials: Credentials;
  hooks: WebhookSecretSet;
}

/** Keys held at most; forged account ids cannot grow the cache without bound. */
const MAX_KEYS = 1_000;

export class WebhookRoutes {
  private readonly entries = new Map<string, { until: number; routed: Routed[] }>();
  /** Moves on every clear(): a lookup that began before a change never caches what it read. */
  private generation = 0;

  constructor(
    private readonly prisma: Pick<PrismaClient, 'integration'>,
    private readonly keyring: Keyring,
    private readonly ttlMs: number,
  ) {}

  /** The integrations of `adapter` named by the webhook: by account or by channel, as the adapter routes. */
  async resolve(adapter: Pick<CrmAdapter, 'provider' | 'routing'>, ids: string[]): Promise<Routed[]> {
    if (ids.length === 0) return [];
    const by = adapter.routing.by;
    const key = `${adapter.provider}\u0000${by}\u0000${[...ids].sort().join('\u0000')}`;
    const now = Date.now();
    const held = this.entries.get(key);
    if (held && held.until > now) return held.routed;
    const generation = this.generation;
    const where = by === 'channel' ? { channelId: { in: ids } } : { accountId: { in: ids } };
    // A disconnected integration takes no webhook (disconnectCrm): its account routes nowhere.
    const rows = await this.prisma.integration.findMany({ where: { provider: adapter.provider, connectionState: { not: 'disconnected' }, ...where } });
    const routed = rows.map((integration) => ({
      integration,
      credentials: readCredentials(integration, this.keyring),
      hooks: readWebhookSecrets(integration, this.keyring),
    }));
    if (this.ttlMs > 0 && generation === this.generation) {
      if (this.entries.size >= MAX_KEYS) this.entries.clear();
      this.entries.set(key, { until: now + this.ttlMs, routed });
    }
    return routed;
  }

  /** Forgets everything: called whenever this instance changes what routing or verification reads. */
  clear(): void {
    this.generation++;
    this.entries.clear();
  }
}
