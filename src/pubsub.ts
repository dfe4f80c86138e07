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

export function createAppPubSub(redisUrl?: string): PubSub {
  if (!redisUrl) {
    return Object.assign(createPubSub<PubSubTopics>(), { close: async () => {} });
  }
  const publishClient = new Redis(redisUrl, { lazyConnect: false, maxRetriesPerRequest: 3 });
  const subscribeClient = new Redis(redisUrl, { lazyConnect: false, maxRetriesPerRequest: 3 });
  const eventTarget = createRedisEventTarget({ publishClient, subscribeClient });
  return Object.assign(createPubSub<PubSubTopics>({ eventTarget }), {
    async close() {
      publishClient.disconnect();
      subscribeClient.disconnect();
    },
  });
}
