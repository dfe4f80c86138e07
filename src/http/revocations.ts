// Revoked API keys end what they opened. Every request re-authenticates, but a
// subscription (graphql-ws socket, SSE stream) authenticates once and then stays open:
// when a key is revoked, each instance must end the streams it serves for that key.
//   * revokeApiKey publishes `apikey.revoked` on the app pub/sub, which goes through
//     Redis when REDIS_URL is set, so every instance hears it;
//   * as a safety net (a key revoked by the CLI without Redis, a message lost while Redis
//     reconnected) each instance also asks the database every `sweepMs` whether a key
//     it serves streams for was revoked.
import type { PrismaClient } from '../generated/prisma/client.ts';
import type { Logger } from '../logger.ts';
import type { PubSub } from '../pubsub.ts';

export const REVOCATION_SWEEP_MS = 30_000;

export interface Revocations {
  /** Calls `onRevoked` once when the key is revoked (on any instance); returns an unwatch. */
  watch(apiKeyId: string, onRevoked: () => void): () => void;
  /** Tells every instance the key was revoked. */
  announce(apiKeyId: string): Promise<void>;
  /** Streams currently watched (for tests and logs). */
  watching(): number;
  stop(): Promise<void>;
}

export function createRevocations(deps: { pubsub: PubSub; prisma: PrismaClient; logger: Logger; sweepMs?: number }): Revocations {
  const watchers = new Map<string, Set<() => void>>();
  const log = deps.logger.child({ component: 'revocations' });

  const fire = (apiKeyId: string, via: string) => {
    const set = watchers.get(apiKeyId);
    if (!set) return;
    watchers.delete(apiKeyId);
    log.info({ apiKeyId, streams: set.size, via }, 'API key revoked: ending its open streams');
    for (const cb of set) {
      try {
        cb();
      } catch (err) {
        log.error({ err, apiKeyId }, 'failed to end a stream of a revoked API key');
      }
    }
  };

  const events = deps.pubsub.subscribe('apikey.revoked');
  void (async () => {
    try {
      for await (const event of events) fire(event.apiKeyId, 'pubsub');
    } catch (err) {
      log.error({ err }, 'failed to listen for API key revocations');
    }
  })();

  let sweeping = false;
  const sweep = async () => {
    if (sweeping || watchers.size === 0) return;
    sweeping = true;
    try {
      const revoked = await deps.prisma.apiKey.findMany({
        where: { id: { in: [...watchers.keys()] }, revokedAt: { not: null } },
        select: { id: true },
      });
      for (const { id } of revoked) fire(id, 'database');
    } catch (err) {
      log.warn({ err }, 'could not check open streams for revoked API keys');
    } finally {
      sweeping = false;
    }
  };
  const timer = setInterval(() => void sweep(), deps.sweepMs ?? REVOCATION_SWEEP_MS);
  timer.unref();

  return {
    watch(apiKeyId, onRevoked) {
      let set = watchers.get(apiKeyId);
      if (!set) watchers.set(apiKeyId, (set = new Set()));
      set.add(onRevoked);
      return () => {
        const current = watchers.get(apiKeyId);
        current?.delete(onRevoked);
        if (current && current.size === 0) watchers.delete(apiKeyId);
      };
    },
    async announce(apiKeyId) {
      await deps.pubsub.publish('apikey.revoked', { apiKeyId });
    },
    watching: () => [...watchers.values()].reduce((n, s) => n + s.size, 0),
    async stop() {
      clearInterval(timer);
      await events.return?.();
    },
  };
}
