// Provisioning a Zoho org: the origin picklist on Leads (created, or given the values it
// lacks), whether Email is unique, and the notification channel (`/actions/watch`),
// renewed before it expires and removed by unprovision.
import { CrmError, type PrepareReport, type ProvisionOptions, type ProvisionReport, type WebhookChannel } from '../contract.ts';
import type { ZohoConnection } from './connection.ts';
import { translateZohoError, unexpectedResponse } from './errors.ts';
import { formatZohoTime, ORIGIN_FIELD_LABEL, parseZohoTime } from './mappers.ts';

export const WATCH_EVENTS = ['Leads.create', 'Leads.edit', 'Leads.delete'] as const;
/** Zoho channels live at most one week; we ask for a week minus this margin. */
export const CHANNEL_EXPIRY_MARGIN_MS = 3600_000;
const WEEK_MS = 7 * 24 * 3600_000;
/** Origin values provision() always makes valid besides the ones it is asked for. */
export const BUILTIN_TAG_VALUES = ['zoho', 'manual'] as const;

const MAX_LONG = 9223372036854775807n;

/** Zoho's channel_id is a long. */
export function isZohoChannelId(v: string): boolean {
  return /^\d{1,19}$/.test(v) && BigInt(v) > 0n && BigInt(v) <= MAX_LONG;
}

async function leadFields(conn: ZohoConnection): Promise<Record<string, unknown>[]> {
  const res = await conn.http.request({ method: 'GET', path: '/settings/fields', query: { module: 'Leads' } });
  const fields = (res.body as { fields?: unknown } | null)?.fields;
  if (!Array.isArray(fields)) throw unexpectedResponse('fields metadata without fields', res.status);
  return fields as Record<string, unknown>[];
}

/** Creates the origin picklist if missing (and adds missing values); returns its API name. */
async function ensureOriginField(conn: ZohoConnection, tagValues: string[]): Promise<{ created: boolean; emailUnique: boolean }> {
  const wanted = [...new Set([...tagValues, ...BUILTIN_TAG_VALUES].map((v) => v.trim()).filter(Boolean))];
  let fields = await leadFields(conn);
  const email = fields.find((f) => f.api_name === 'Email');
  const unique = email?.unique;
  const emailUnique = !!unique && typeof unique === 'object' && Object.keys(unique).length > 0;

  const find = (list: Record<string, unknown>[]) =>
    list.find((f) =>
      conn.explicitOriginField || conn.settings.originFieldId
        ? f.api_name === conn.settings.originField || (conn.settings.originFieldId !== undefined && f.id === conn.settings.originFieldId)
        : f.custom_field === true && typeof f.field_label === 'string' && f.field_label.toLowerCase() === ORIGIN_FIELD_LABEL.toLowerCase(),
    );

  let field = find(fields);
  let created = false;
  if (!field) {
    const res = await conn.http.request({
      method: 'POST',
      path: '/settings/fields',
      query: { module: 'Leads' },
      body: {
        fields: [
          {
            field_label: ORIGIN_FIELD_LABEL,
            data_type: 'picklist',
            pick_list_values: wanted.map((v) => ({ display_value: v, actual_value: v })),
          },
        ],
      },
      perRecord: true,
    });
    const item = ((res.body as { fields?: Record<string, unknown>[] } | null)?.fields ?? [])[0];
    if (!item) throw unexpectedResponse('field creation without result', res.status);
    if (item.status !== 'success') {
      // A field with our label may have been made meanwhile: use it if it is there now.
      if (item.code !== 'DUPLICATE_DATA') throw translateZohoError(item, res.status);
    } else {
      created = true;
    }
    const newId = (item.details as { id?: unknown } | undefined)?.id;
    fields = await leadFields(conn);
    field = (newId !== undefined ? fields.find((f) => f.id === String(newId)) : undefined) ?? find(fields);
    if (!field) throw unexpectedResponse('created origin field is missing from the fields metadata', 200);
  }
  const apiName = field.api_name;
  if (typeof apiName !== 'string' || apiName === '') throw unexpectedResponse('origin field without api_name', 200);
  const fieldId = String(field.id);

  if (!created && field.data_type === 'picklist') {
    const have = new Set(
      (Array.isArray(field.pick_list_values) ? field.pick_list_values : []).map((p) => String((p as { actual_value?: unknown }).actual_value)),
    );
    const missing = wanted.filter((v) => !have.has(v));
    if (missing.length > 0) {
      const res = await conn.http.request({
        method: 'PATCH',
        path: `/settings/fields/${encodeURIComponent(fieldId)}`,
        query: { module: 'Leads' },
        body: { fields: [{ id: fieldId, pick_list_values: missing.map((v) => ({ display_value: v, actual_value: v })) }] },
        perRecord: true,
      });
      const item = ((res.body as { fields?: Record<string, unknown>[] } | null)?.fields ?? [])[0];
      if (!item || item.status !== 'success') throw translateZohoError(item ?? {}, res.status);
    }
  }
  conn.settings = { ...conn.settings, originField: apiName, originFieldId: fieldId, emailUnique };
  return { created, emailUnique };
}

/** The channel provision() registers: the one the service opened for the integration (the adapter routes by channel). */
function channelOf(opts: ProvisionOptions): WebhookChannel {
  const channel = opts.channel;
  if (!channel) {
    throw new CrmError('VALIDATION', 'Zoho notifications need the channel opened for the integration (ProvisionOptions.channel)', {
      provider: 'ZOHO',
      retryable: false,
    });
  }
  if (channel.token.length > 50) {
    throw new CrmError('VALIDATION', 'Zoho channel tokens are at most 50 characters', { provider: 'ZOHO', retryable: false });
  }
  if (!isZohoChannelId(channel.id)) {
    throw new CrmError('VALIDATION', `Zoho channel_id must be a positive 64-bit integer (at most 19 digits), got "${channel.id}"`, {
      provider: 'ZOHO',
      retryable: false,
    });
  }
  return channel;
}

async function registerChannel(conn: ZohoConnection, webhookUrl: string, channel: WebhookChannel, method: 'POST' | 'PATCH'): Promise<Date | null> {
  const requested = new Date(conn.now() + WEEK_MS - CHANNEL_EXPIRY_MARGIN_MS);
  const res = await conn.http.request({
    method,
    path: '/actions/watch',
    body: {
      watch: [
        {
          channel_id: channel.id,
          events: [...WATCH_EVENTS],
          notify_url: webhookUrl,
          token: channel.token,
          channel_expiry: formatZohoTime(requested),
          return_affected_field_values: false,
          notify_on_related_action: false,
        },
      ],
    },
    perRecord: false,
  });
  const item = ((res.body as { watch?: Record<string, unknown>[] } | null)?.watch ?? [])[0];
  if (!item) throw unexpectedResponse('watch without result', res.status);
  if (item.status !== 'success') throw translateZohoError(item, res.status);
  const events = ((item.details as { events?: Array<Record<string, unknown>> } | undefined)?.events ?? []).filter(
    (e) => String(e.channel_id ?? channel.id) === channel.id,
  );
  const expiries = events.map((e) => parseZohoTime(e.channel_expiry)).filter((d): d is Date => d !== null);
  const expiresAt = expiries.length ? new Date(Math.min(...expiries.map((d) => d.getTime()))) : null;
  if (expiresAt && expiresAt.getTime() < requested.getTime() - 60_000) {
    conn.opts.logger?.warn(
      { requested: requested.toISOString(), granted: expiresAt.toISOString() },
      'zoho: channel granted a shorter expiry than requested; renew before it',
    );
  }
  conn.settings = { ...conn.settings, channelId: channel.id, channelExpiry: expiresAt?.toISOString() };
  return expiresAt;
}

function persistedSettings(conn: ZohoConnection): Record<string, unknown> {
  const s = conn.settings;
  return {
    ...conn.opts.settings,
    originField: s.originField,
    ...(s.originFieldId ? { originFieldId: s.originFieldId } : {}),
    ...(s.channelId ? { channelId: s.channelId } : {}),
    ...(s.channelExpiry ? { channelExpiry: s.channelExpiry } : {}),
    ...(s.emailUnique !== undefined ? { emailUnique: s.emailUnique } : {}),
  };
}

export async function prepare(conn: ZohoConnection, tagValues: string[]): Promise<PrepareReport> {
  const { created } = await ensureOriginField(conn, tagValues);
  return { originFieldReady: true, originFieldCreated: created, manualSteps: [], settings: persistedSettings(conn) };
}

export async function provision(conn: ZohoConnection, opts: ProvisionOptions): Promise<ProvisionReport> {
  // Checked before anything is changed in Zoho.
  const channel = channelOf(opts);
  const { created, emailUnique } = await ensureOriginField(conn, opts.tagValues);
  const expiresAt = await registerChannel(conn, opts.webhookUrl, channel, 'POST');
  const manualSteps: string[] = [];
  if (!emailUnique) {
    manualSteps.push(
      "Recommended: in Zoho CRM (Setup > Modules and Fields > Leads > Email) enable 'Do not allow duplicate values'. " +
        'Then a lead created in Zoho seconds before the platform pushes the same email is linked without receiving the platform origin tag.',
    );
  }
  return {
    originFieldReady: true,
    originFieldCreated: created,
    subscriptionId: channel.id,
    events: [...WATCH_EVENTS],
    expiresAt,
    manualSteps,
    settings: persistedSettings(conn),
  };
}

/** Extends the notification channel (channels live at most a week). Re-creates it if it lapsed. */
export async function renewWebhooks(conn: ZohoConnection, opts: ProvisionOptions): Promise<ProvisionReport> {
  const channel = channelOf(opts);
  let expiresAt: Date | null;
  try {
    expiresAt = await registerChannel(conn, opts.webhookUrl, channel, 'PATCH');
  } catch (e) {
    // An unknown or lapsed channel cannot be patched: enable it again.
    if (!(e instanceof CrmError) || (e.code !== 'VALIDATION' && e.code !== 'NOT_FOUND')) throw e;
    expiresAt = await registerChannel(conn, opts.webhookUrl, channel, 'POST');
  }
  return {
    originFieldReady: conn.explicitOriginField || conn.settings.originFieldId !== undefined,
    originFieldCreated: false,
    subscriptionId: channel.id,
    events: [...WATCH_EVENTS],
    expiresAt,
    manualSteps: [],
    settings: persistedSettings(conn),
  };
}

export async function unprovision(conn: ZohoConnection): Promise<void> {
  const channelId = conn.settings.channelId;
  if (!channelId) return;
  const res = await conn.http.request({ method: 'DELETE', path: '/actions/watch', query: { channel_ids: channelId }, perRecord: false }).catch((e: unknown) => {
    // Already gone (expired channels are removed by Zoho): nothing left to undo.
    if (e instanceof CrmError && e.code === 'VALIDATION') return null;
    throw e;
  });
  const item = ((res?.body as { watch?: Record<string, unknown>[] } | null)?.watch ?? [])[0];
  if (item && item.status !== 'success' && item.code !== 'INVALID_DATA') throw translateZohoError(item, res?.status);
  conn.settings = { ...conn.settings, channelId: undefined, channelExpiry: undefined };
}
