// The HubSpot sandbox's webhooks API (developer API key): the app's settings (target URL,
// throttling) and its subscriptions. The server checks the key and the app id first.
import { HttpError, asObject, errorBody, validation, type ApiRoute, type Result } from './api.ts';
import type { ContactStore } from './store.ts';
import type { Subscription, WebhookDispatcher } from './webhooks.ts';

const SETTINGS = '/webhooks/v3/:appId/settings';
const SUBSCRIPTIONS = '/webhooks/v3/:appId/subscriptions';

const EVENT_TYPES = ['contact.creation', 'contact.deletion', 'contact.privacyDeletion', 'contact.merge', 'contact.restore', 'contact.propertyChange', 'contact.associationChange'];

function subscriptionJson(s: Subscription): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: s.id,
    eventType: s.eventType,
    active: s.active,
    createdAt: new Date(s.createdAt).toISOString(),
    updatedAt: new Date(s.updatedAt).toISOString(),
  };
  if (s.propertyName) out.propertyName = s.propertyName;
  return out;
}

export function webhookRoutes(hooks: WebhookDispatcher, store: ContactStore): ApiRoute[] {
  const settings = (): Result => {
    const s = hooks.settings!;
    return {
      status: 200,
      body: { targetUrl: s.targetUrl, throttling: { maxConcurrentRequests: s.maxConcurrentRequests, period: 'SECONDLY' }, createdAt: new Date(s.createdAt).toISOString(), updatedAt: new Date(s.updatedAt).toISOString() },
    };
  };
  const subscription = (id: string): Subscription => {
    const s = hooks.subscriptions.get(id);
    if (!s) throw new HttpError(404, errorBody(`Subscription ${id} not found`, 'OBJECT_NOT_FOUND'));
    return s;
  };
  return [
    {
      method: 'GET',
      pattern: SETTINGS,
      handler: () => {
        if (!hooks.settings) throw new HttpError(404, errorBody('No settings configured for this app', 'OBJECT_NOT_FOUND'));
        return settings();
      },
    },
    {
      method: 'PUT',
      pattern: SETTINGS,
      handler: ({ body }) => {
        const b = asObject(body, 'settings');
        if (typeof b.targetUrl !== 'string' || !/^https?:\/\//.test(b.targetUrl)) throw validation('targetUrl must be an absolute URL');
        hooks.setTarget(b.targetUrl);
        return settings();
      },
    },
    {
      method: 'DELETE',
      pattern: SETTINGS,
      handler: () => {
        hooks.setTarget(null);
        return { status: 204 };
      },
    },
    { method: 'GET', pattern: SUBSCRIPTIONS, handler: () => ({ status: 200, body: { results: [...hooks.subscriptions.values()].map(subscriptionJson) } }) },
    {
      method: 'POST',
      pattern: SUBSCRIPTIONS,
      handler: ({ body }) => {
        const b = asObject(body, 'a subscription');
        const eventType = b.eventType;
        if (typeof eventType !== 'string' || !EVENT_TYPES.includes(eventType)) throw validation(`Unsupported eventType ${JSON.stringify(eventType)}`);
        const propertyName = typeof b.propertyName === 'string' ? b.propertyName : null;
        if (eventType === 'contact.propertyChange' && (!propertyName || !store.properties.has(propertyName))) {
          throw validation(`propertyName ${JSON.stringify(propertyName)} is not a contact property`);
        }
        if (hooks.findSubscription(eventType, propertyName)) {
          throw new HttpError(409, errorBody(`A subscription for ${eventType}${propertyName ? ` ${propertyName}` : ''} already exists`, 'CONFLICT'));
        }
        const s = hooks.subscribe(eventType, propertyName, b.active !== false);
        return { status: 201, body: subscriptionJson(s) };
      },
    },
    { method: 'GET', pattern: `${SUBSCRIPTIONS}/:id`, handler: ({ params }) => ({ status: 200, body: subscriptionJson(subscription(params.id!)) }) },
    {
      method: 'PATCH',
      pattern: `${SUBSCRIPTIONS}/:id`,
      handler: ({ params, body }) => {
        const s = subscription(params.id!);
        const b = asObject(body, 'a subscription patch');
        if (typeof b.active === 'boolean') s.active = b.active;
        s.updatedAt = Date.now();
        return { status: 200, body: subscriptionJson(s) };
      },
    },
    {
      method: 'DELETE',
      pattern: `${SUBSCRIPTIONS}/:id`,
      handler: ({ params }) => {
        hooks.subscriptions.delete(subscription(params.id!).id);
        return { status: 204 };
      },
    },
  ];
}
