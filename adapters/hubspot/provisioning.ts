// Provisioning a HubSpot account: the origin property `lead_source_system` (created, or
// given the options it lacks) and, with appId and developerApiKey, the app's webhook
// target URL and subscriptions; unprovision removes the subscriptions it created.
import { CrmError, type PrepareReport, type ProvisionOptions, type ProvisionReport } from '../contract.ts';
import type { HubSpotConnection, PropertiesCore, Webhooks } from './connection.ts';
import { isAlreadyExists, translateError } from './errors.ts';
import { extraTypes } from './fields.ts';
import { ORIGIN_PROPERTY, SYNCED_PROPERTIES } from './mappers.ts';

export const DEFAULT_ORIGIN_OPTIONS = ['hubspot', 'manual'];
export const WEBHOOK_EVENTS: readonly { eventType: string; propertyName?: string }[] = [
  { eventType: 'contact.creation' },
  { eventType: 'contact.deletion' },
  { eventType: 'contact.merge' },
  { eventType: 'contact.restore' },
  ...SYNCED_PROPERTIES.map((p) => ({ eventType: 'contact.propertyChange', propertyName: p })),
];

type WantedEvent = { eventType: string; propertyName?: string };

/**
 * The subscriptions the connection needs: the standard ones, and a propertyChange for each
 * extra field the portal has (HubSpot sends propertyChange events only for the property a
 * subscription names, so a change to a mapped field alone would otherwise go unseen until
 * the changes catch-up).
 */
async function wantedEvents(conn: HubSpotConnection): Promise<readonly WantedEvent[]> {
  const names = [...(await extraTypes(conn)).keys()].filter((n) => !SYNCED_PROPERTIES.includes(n));
  return [...WEBHOOK_EVENTS, ...names.map((p) => ({ eventType: 'contact.propertyChange', propertyName: p }))];
}

function eventLabel(e: { eventType: string; propertyName?: string | null }): string {
  return e.propertyName ? `${e.eventType}:${e.propertyName}` : e.eventType;
}

function originOptions(tagValues: string[]): string[] {
  return [...new Set([...tagValues, ...DEFAULT_ORIGIN_OPTIONS].map((v) => v.trim()).filter(Boolean))];
}

export async function prepare(conn: HubSpotConnection, tagValues: string[]): Promise<PrepareReport> {
  const originFieldCreated = await ensureOriginProperty(conn, originOptions(tagValues));
  return { originFieldReady: true, originFieldCreated, manualSteps: [], settings: { ...conn.opts.settings, originProperty: ORIGIN_PROPERTY } };
}

export async function provision(conn: HubSpotConnection, p: ProvisionOptions): Promise<ProvisionReport> {
  const originFieldCreated = await ensureOriginProperty(conn, originOptions(p.tagValues));
  const settings: Record<string, unknown> = { ...conn.opts.settings, originProperty: ORIGIN_PROPERTY };
  const wanted = await wantedEvents(conn);
  const events = wanted.map(eventLabel);

  if (!conn.webhooksApi || conn.appId === null) {
    return {
      originFieldReady: true,
      originFieldCreated,
      subscriptionId: null,
      events,
      expiresAt: null,
      manualSteps: [
        `In your HubSpot developer account open the app that holds this portal's access, then Webhooks: set the Target URL to ${p.webhookUrl}`,
        `Create these subscriptions and activate them: ${events.map((e) => e.replace(':', ' for property ')).join(', ')}`,
        "Give crm-sync the app's client secret (it signs the webhooks), or provide appId and developerApiKey in the credentials so crm-sync can configure the webhooks itself",
      ],
      settings,
    };
  }

  const ids = await subscribe(conn, conn.webhooksApi, conn.appId, p.webhookUrl, wanted);
  return {
    originFieldReady: true,
    originFieldCreated,
    subscriptionId: ids.join(','),
    events,
    expiresAt: null,
    manualSteps: [],
    settings: {
      ...settings,
      appId: String(conn.appId),
      webhookTargetUrl: p.webhookUrl,
      subscriptionIds: ids,
      createdSubscriptionIds: conn.createdSubscriptionIds,
    },
  };
}

/** Points the app's webhooks at `webhookUrl` and makes every wanted subscription exist and be active; returns their ids. */
async function subscribe(conn: HubSpotConnection, api: Webhooks, appId: number, webhookUrl: string, wanted: readonly WantedEvent[]): Promise<string[]> {
  await conn.call('webhook settings', () => api.settingsApi.configure(appId, { targetUrl: webhookUrl, throttling: { maxConcurrentRequests: 10 } }), 'developer');
  const current = await conn.call('list subscriptions', () => api.subscriptionsApi.getAll(appId), 'developer');
  const ids: string[] = [];
  const created: string[] = [];
  for (const want of wanted) {
    const match = current.results.find(
      (s) => String(s.eventType) === want.eventType && (s.propertyName ?? null) === (want.propertyName ?? null),
    );
    if (match) {
      if (!match.active) await conn.call('activate subscription', () => api.subscriptionsApi.update(Number(match.id), appId, { active: true }), 'developer');
      ids.push(String(match.id));
      continue;
    }
    type CreateRequest = Parameters<Webhooks['subscriptionsApi']['create']>[1];
    const body = { eventType: want.eventType, active: true, ...(want.propertyName ? { propertyName: want.propertyName } : {}) } as CreateRequest;
    try {
      const s = await conn.call('create subscription', () => api.subscriptionsApi.create(appId, body), 'developer');
      ids.push(String(s.id));
      created.push(String(s.id));
    } catch (e) {
      if (!(e instanceof CrmError) || !isAlreadyExists(e)) throw e;
      // Created concurrently: find it.
      const again = await conn.call('list subscriptions', () => api.subscriptionsApi.getAll(appId), 'developer');
      const s = again.results.find((x) => String(x.eventType) === want.eventType && (x.propertyName ?? null) === (want.propertyName ?? null));
      if (!s) throw e;
      ids.push(String(s.id));
    }
  }
  conn.createdSubscriptionIds = [...new Set([...conn.createdSubscriptionIds, ...created])];
  return ids;
}

/** Creates lead_source_system (true) or makes sure it offers every wanted option (false). */
async function ensureOriginProperty(conn: HubSpotConnection, values: string[]): Promise<boolean> {
  type CreateRequest = Parameters<PropertiesCore['create']>[1];
  const body = {
    name: ORIGIN_PROPERTY,
    label: 'Lead source system',
    description: 'Which system created this contact (written by crm-sync on the contacts it creates).',
    type: 'enumeration',
    fieldType: 'select',
    groupName: 'contactinformation',
    formField: false,
    options: values.map((v, i) => ({ label: v, value: v, displayOrder: i, hidden: false })),
  } as CreateRequest;
  try {
    await conn.call('create property', () => conn.propertiesApi.create('contacts', body));
    return true;
  } catch (e) {
    if (!(e instanceof CrmError) || !isAlreadyExists(e)) throw e;
  }
  const prop = await conn.call('read property', () => conn.propertiesApi.getByName('contacts', ORIGIN_PROPERTY));
  const have = prop.options.map((o) => ({ label: o.label, value: o.value, displayOrder: o.displayOrder ?? 0, hidden: o.hidden ?? false }));
  const missing = values.filter((v) => !have.some((o) => o.value === v));
  if (missing.length > 0) {
    type UpdateRequest = Parameters<PropertiesCore['update']>[2];
    // PATCH replaces the option list: send the existing options plus the missing ones.
    const options = [...have, ...missing.map((v, i) => ({ label: v, value: v, displayOrder: have.length + i, hidden: false }))];
    await conn.call('update property options', () => conn.propertiesApi.update('contacts', ORIGIN_PROPERTY, { options } as UpdateRequest));
  }
  return false;
}

export async function unprovision(conn: HubSpotConnection): Promise<void> {
  if (conn.createdSubscriptionIds.length === 0) return;
  if (!conn.webhooksApi || conn.appId === null) {
    throw new CrmError('PERMISSION', 'HubSpot: appId and developerApiKey are needed to remove webhook subscriptions', {
      provider: 'HUBSPOT',
      retryable: false,
    });
  }
  const api = conn.webhooksApi;
  const appId = conn.appId;
  const remaining: string[] = [];
  let firstError: CrmError | null = null;
  for (const id of conn.createdSubscriptionIds) {
    try {
      await conn.call('delete subscription', () => api.subscriptionsApi.archive(Number(id), appId), 'developer');
    } catch (e) {
      const err = translateError(e, 'delete subscription');
      if (err.code === 'NOT_FOUND') continue; // already gone
      remaining.push(id);
      firstError = firstError ?? err;
    }
  }
  conn.createdSubscriptionIds = remaining;
  if (firstError) throw firstError;
}
