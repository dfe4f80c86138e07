// Real-time events for GraphQL subscriptions. In-process by default; with REDIS_URL
// every instance publishes to and hears from Redis, so a subscriber connected to one
// instance sees leads created by another.
import { createPubSub } from 'graphql-yoga';
import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import { Redis } from 'ioredis';
import type { ImportJob, Lead, SyncEvent } from './generated/prisma/client.ts';

export interface LeadEvent {
  organizationId: string;
  lead: Lead;
}

export type PubSubTopics = {
  'lead.created': [LeadEvent];
  'lead.updated': [LeadEvent];
  'import.progress': [ImportJob];
  /** A sync history row was recorded (carries its organizationId). */
  'sync.activity': [SyncEvent];
  /** An API key was revoked: every instance ends the streams it opened. */
  'apikey.revoked': [{ apiKeyId: string }];
};

export type PubSub = ReturnType<typeof createPubSub<PubSubTopics>> & { close(): Promise<void> };

const QUIT_TIMEOUT_MS = 1_000;

export function createAppPubSub(redisUrl?: string): PubSub {
  if (!redisUrl) {
    return Object.assign(createPubSub<PubSubTopics>(), { close: async () => {} });
  }
  const publishClient = new Redis(redisUrl, { lazyConnect: false, maxRetriesPerRequest: 3 });
  // Topics may be subscribed to before the connection is up (the app listens for key
  // revocations from the start). ioredis' ready check (INFO) is not allowed on a
  // connection already in subscriber mode and would make it reconnect forever: skip it.
  const subscribeClient = new Redis(redisUrl, { lazyConnect: false, maxRetriesPerRequest: 3, enableReadyCheck: false });
  const eventTarget = createRedisEventTarget({ publishClient, subscribeClient });
  return Object.assign(createPubSub<PubSubTopics>({ eventTarget }), {
    async close() {
      // QUIT after what is queued (the UNSUBSCRIBEs of subscriptions that just ended),
      // so nothing is rejected as "Connection is closed"; cut it if Redis does not answer.
      await Promise.all(
        [publishClient, subscribeClient].map(async (client) => {
          let timer: NodeJS.Timeout | undefined;
          const cut = new Promise<void>((resolve) => {
            timer = setTimeout(resolve, QUIT_TIMEOUT_MS);
          });
          await Promise.race([client.quit().catch(() => {}), cut]);
          clearTimeout(timer);
          client.disconnect();
        }),
      );
    },
  });
}
