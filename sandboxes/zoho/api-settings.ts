// The Zoho sandbox's settings and setup routes: notification channels (actions/watch:
// enable, update, list, disable), the Leads module's fields (list, read, create, update)
// and the organization (GET /crm/v7/org).
import { errorBody, requireLeads, statusFor, type ApiRoute, type Reply } from './api.ts';
import type { Channel, Notifier } from './notifications.ts';
import { err, LEADS_MODULE_ID, ok, type LeadsState, type RecordResult } from './state.ts';

const WEEK_MS = 7 * 24 * 3600_000;

export interface SettingsDeps {
  state: LeadsState;
  notifier: Notifier;
  /** The api_domain (known once the sandbox listens). */
  apiUrl: () => string;
  orgId: string;
  /** channel_expiry beyond one week: 'default_1h' (documented behaviour, default) or 'error'. */
  overlongChannelExpiry?: 'default_1h' | 'error';
}

export function settingsRoutes(deps: SettingsDeps): ApiRoute[] {
  const { state, notifier } = deps;

  function parseExpiry(raw: unknown, index: number): { at: number } | { error: RecordResult } {
    const now = state.now();
    if (raw === undefined || raw === null) return { at: now + 3600_000 };
    const t = typeof raw === 'string' ? Date.parse(raw) : NaN;
    if (Number.isNaN(t)) return { error: err('INVALID_DATA', { api_name: 'channel_expiry', json_path: `$.watch[${index}].channel_expiry` }, 'invalid data') };
    if (t - now > WEEK_MS) {
      if (deps.overlongChannelExpiry === 'error') {
        return { error: err('INVALID_DATA', { api_name: 'channel_expiry', json_path: `$.watch[${index}].channel_expiry` }, 'channel expiry time exceeds limit') };
      }
      // Documented: set for more than a week, the expiry defaults to one hour.
      return { at: now + 3600_000 };
    }
    if (t <= now) return { error: err('INVALID_DATA', { api_name: 'channel_expiry', json_path: `$.watch[${index}].channel_expiry` }, 'invalid data') };
    return { at: t };
  }

  function channelDetails(ch: Channel) {
    return {
      events: [
        {
          channel_expiry: state.fmt(ch.expiresAt),
          resource_uri: `${deps.apiUrl()}/crm/v2/Leads`,
          resource_id: ch.resource_id,
          resource_name: 'Leads',
          channel_id: ch.channel_id,
        },
      ],
    };
  }

  function watchApi(method: string, query: URLSearchParams, body: unknown): Reply {
    if (method === 'GET') {
      const live = notifier.liveChannels();
      if (live.length === 0) return { status: 204 };
      return {
        status: 200,
        body: {
          watch: live.map((ch) => ({
            notify_on_related_action: ch.notify_on_related_action,
            channel_expiry: state.fmt(ch.expiresAt),
            resource_uri: `${deps.apiUrl()}/crm/v2/Leads`,
            resource_id: ch.resource_id,
            notify_url: ch.notify_url,
            resource_name: 'Leads',
            channel_id: ch.channel_id,
            events: ch.events,
            token: ch.token,
          })),
        },
      };
    }
    if (method === 'DELETE') {
      const ids = (query.get('channel_ids') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
      if (ids.length === 0) return { status: 400, body: errorBody('REQUIRED_PARAM_MISSING', 'One of the expected parameter is missing', { param: 'channel_ids' }) };
      const results = ids.map((id) => {
        const ch = notifier.channels.get(id);
        if (!ch) return err('INVALID_DATA', { api_name: 'channel_ids', channel_id: id }, 'invalid channel id');
        notifier.channels.delete(id);
        return ok(channelDetails(ch), 'Successfully unsubscribed from actions-watch of the given module');
      });
      return { status: statusFor(results, 200), body: { watch: results } };
    }
    const items = (body as { watch?: unknown })?.watch;
    if (!Array.isArray(items) || items.length === 0) {
      return { status: 400, body: errorBody('MANDATORY_NOT_FOUND', 'required field not found', { api_name: 'watch' }) };
    }
    const results: RecordResult[] = items.map((raw, i) => {
      const w = (raw ?? {}) as Record<string, unknown>;
      const channelId = typeof w.channel_id === 'string' || typeof w.channel_id === 'number' ? String(w.channel_id) : null;
      if (!channelId) return err('MANDATORY_NOT_FOUND', { api_name: 'channel_id', json_path: `$.watch[${i}].channel_id` }, 'required field not found');
      // channel_id is documented as a long.
      if (!/^\d{1,19}$/.test(channelId) || BigInt(channelId) > 9223372036854775807n || BigInt(channelId) === 0n) {
        return err('INVALID_DATA', { api_name: 'channel_id', json_path: `$.watch[${i}].channel_id`, expected_data_type: 'long' }, 'invalid data');
      }
      const existing = notifier.channels.get(channelId);
      if (method === 'PATCH' && (!existing || existing.expiresAt <= state.now())) {
        return err('INVALID_DATA', { api_name: 'channel_id', json_path: `$.watch[${i}].channel_id` }, 'invalid channel id');
      }
      const events = w.events ?? existing?.events;
      if (!Array.isArray(events) || events.length === 0) {
        return err('MANDATORY_NOT_FOUND', { api_name: 'events', json_path: `$.watch[${i}].events` }, 'required field not found');
      }
      if (!events.every((e) => typeof e === 'string' && /^Leads\.(create|edit|delete|all)$/.test(e))) {
        return err('INVALID_DATA', { api_name: 'events', json_path: `$.watch[${i}].events` }, 'invalid data');
      }
      const notifyUrl = w.notify_url ?? existing?.notify_url;
      if (typeof notifyUrl !== 'string' || !/^https?:\/\//.test(notifyUrl)) {
        return err('MANDATORY_NOT_FOUND', { api_name: 'notify_url', json_path: `$.watch[${i}].notify_url` }, 'required field not found');
      }
      const token = w.token === undefined ? (existing?.token ?? null) : w.token;
      if (token !== null && (typeof token !== 'string' || token.length > 50)) {
        return err('INVALID_DATA', { api_name: 'token', json_path: `$.watch[${i}].token`, maximum_length: 50 }, 'invalid data');
      }
      const expiry = w.channel_expiry === undefined && existing && method === 'PATCH' ? { at: existing.expiresAt } : parseExpiry(w.channel_expiry, i);
      if ('error' in expiry) return expiry.error;
      const ch: Channel = {
        channel_id: channelId,
        events: events as string[],
        notify_url: notifyUrl,
        token: token as string | null,
        expiresAt: expiry.at,
        return_affected_field_values: w.return_affected_field_values === true,
        notify_on_related_action: w.notify_on_related_action !== false,
        resource_id: LEADS_MODULE_ID,
      };
      notifier.channels.set(channelId, ch);
      return ok(
        channelDetails(ch),
        method === 'PATCH' ? 'Successfully updated the subscribe details' : 'Successfully subscribed for actions-watch of the given module',
      );
    });
    return { status: statusFor(results, method === 'POST' ? 200 : 200), body: { watch: results } };
  }

  function fieldsApi(method: string, fieldId: string | null, query: URLSearchParams, body: unknown): Reply {
    const bad = requireLeads(query);
    if (bad) return bad;
    if (method === 'GET') {
      if (fieldId) {
        const f = state.fields.find((x) => x.id === fieldId);
        return f ? { status: 200, body: { fields: [f] } } : { status: 204 };
      }
      return { status: 200, body: { fields: state.fields } };
    }
    const items = (body as { fields?: unknown })?.fields;
    if (!Array.isArray(items) || items.length === 0) {
      return { status: 400, body: errorBody('MANDATORY_NOT_FOUND', 'required field not found', { api_name: 'fields' }) };
    }
    if (items.length > 5) return { status: 400, body: errorBody('LIMIT_EXCEEDED', 'maximum of five fields per call', { limit: 5 }) };
    if (method === 'POST' && !fieldId) {
      const results = items.map((f, i) => state.createCustomField((f ?? {}) as Record<string, unknown>, i));
      return { status: statusFor(results, 201), body: { fields: results } };
    }
    if (method === 'PATCH') {
      const results = items.map((f) => {
        const o = (f ?? {}) as Record<string, unknown>;
        const id = fieldId ?? (typeof o.id === 'string' ? o.id : '');
        return state.updateCustomField(id, o);
      });
      return { status: statusFor(results, 200), body: { fields: results } };
    }
    return { status: 400, body: errorBody('INVALID_REQUEST_METHOD', 'The http request method type is not a valid one') };
  }

  /**
   * The Organization API: `GET /crm/v7/org` answers `{"org":[{...}]}` with the org of the
   * token: `id` (the org record id), `zgid` (the "Org ID") and `domain_name` "org<zgid>".
   */
  function orgApi(): Reply {
    return {
      status: 200,
      body: {
        org: [
          {
            id: `${deps.orgId}000000000`.slice(0, 19),
            zgid: deps.orgId,
            domain_name: `org${deps.orgId}`,
            company_name: 'Sandbox Co',
            primary_email: 'admin@sandbox.example',
            time_zone: 'Asia/Kolkata',
            currency: 'US Dollar',
            iso_code: 'USD',
            country_code: 'US',
            license_details: { paid: true, paid_type: 'enterprise', users_license_purchased: 10 },
          },
        ],
      },
    };
  }

  return [
    { method: ['GET', 'POST', 'PATCH', 'DELETE'], pattern: '/crm/v7/actions/watch', handler: ({ method, query, body }) => watchApi(method, query, body) },
    { method: ['GET', 'POST', 'PATCH'], pattern: '/crm/v7/settings/fields', handler: ({ method, query, body }) => fieldsApi(method, null, query, body) },
    { method: ['GET', 'PATCH'], pattern: '/crm/v7/settings/fields/:id', handler: ({ method, params, query, body }) => fieldsApi(method, params.id!, query, body) },
    { method: 'GET', pattern: '/crm/v7/org', handler: () => orgApi() },
  ];
}
