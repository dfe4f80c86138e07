// The crm-sync operator dashboard. Plain browser JavaScript, no build step: GraphQL over
// fetch, live events over the graphql-transport-ws protocol on a WebSocket. Everything
// shown is built from DOM nodes and text nodes, never HTML strings: names come from CRMs.
// The API key lives in sessionStorage only (never in the URL, never logged).

import { connectionCell, renderConnectors, takeOAuthResult } from './connect.js';
import { closeMappings, openMappings, wireMappings } from './mappings.js';

const KEY_STORE = 'crm-sync.apiKey';
const FEED_MAX = 200;
const REFRESH_MS = 15_000;

const LEAD = 'id email firstName lastName company attributes crmMetadata { sourceSystem crmProvider lastSyncDirection }';
const EVENT = 'id provider integrationId leadId direction kind status reason errorCode error externalId via retryable createdAt retriedAt';
const STATUS = 'enabled totalReceived created updated skipped failed pending lastReceivedAt expiresAt pendingPushes failedPushes nextAttemptAt breaker { state until lastErrorCode } connection { state errorCode }';
const PROVIDERS = { HUBSPOT: 'HubSpot', SALESFORCE: 'Salesforce', ZOHO: 'Zoho' };

const $ = (id) => document.getElementById(id);

let key = null;
let live = null;
let refreshTimer = 0;
let soonTimer = 0;
let leadTimer = 0;
const pendingLeads = new Set(); // lead ids waiting for their names
let historyAvailable = true;
const integrations = new Map(); // id -> integration
const leads = new Map(); // id -> { email, firstName, lastName }
const failedRows = new Map(); // sync event id -> { ev, tr, state }
const connectors = new Map(); // provider -> CRM that connects through OAuth here

// ---------- DOM helpers (text only) ----------

/** An element with attributes and children; strings become text nodes. */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v == null || v === false) continue;
    if (k === 'onclick') el.addEventListener('click', v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c != null && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

const provider = (p) => PROVIDERS[p] ?? p ?? '';
const dash = () => h('span', { class: 'muted' }, '—');

function when(iso, style = 'time') {
  if (!iso) return dash();
  const d = new Date(iso);
  const text = style === 'ago' ? ago(d) : style === 'date' ? d.toLocaleString() : d.toLocaleTimeString();
  return h('time', { datetime: iso, title: d.toLocaleString() }, text);
}

const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
function ago(d) {
  const s = (d.getTime() - Date.now()) / 1000;
  for (const [unit, secs] of [['day', 86400], ['hour', 3600], ['minute', 60]]) {
    if (Math.abs(s) >= secs) return rtf.format(Math.round(s / secs), unit);
  }
  return rtf.format(Math.round(s), 'second');
}

/** The start of the uuid inside a Relay global id ("Lead:<uuid>", base64). */
function shortId(id) {
  try {
    const raw = atob(id);
    if (raw.includes(':')) return raw.slice(raw.indexOf(':') + 1, raw.indexOf(':') + 9);
  } catch {}
  return id.slice(0, 8);
}

function leadLabel(lead, fallbackId) {
  if (!lead) return h('span', { class: 'muted' }, fallbackId ? `lead ${shortId(fallbackId)}` : 'no lead');
  const name = [lead.firstName, lead.lastName].filter(Boolean).join(' ');
  return h('span', { class: 'who' }, name ? h('b', null, name) : null, name ? ' ' : null, h('span', { class: 'email' }, lead.email));
}

/** A lead's attributes as one line of text ("plan: pro · tags: a, b"), or null when it has none. */
function attributesText(attributes) {
  if (!attributes || typeof attributes !== 'object') return null;
  const parts = Object.entries(attributes).map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(', ') : String(v)}`);
  return parts.length ? parts.join(' · ') : null;
}

function notice(message, good = false) {
  const el = $('notice');
  el.textContent = message ?? '';
  el.className = good ? 'ok' : '';
  el.hidden = !message;
}

function setConn(text, cls) {
  const el = $('conn');
  el.textContent = text;
  el.className = `pill ${cls ?? ''}`;
}

// ---------- GraphQL over HTTP ----------

class AuthError extends Error {}

async function gql(query, variables = {}) {
  const res = await fetch('/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query, variables }),
    cache: 'no-store',
    credentials: 'omit',
  });
  let body = null;
  try {
    body = await res.json();
  } catch {}
  if (res.status === 401 || body?.errors?.some((e) => e.extensions?.code === 'UNAUTHENTICATED')) {
    throw new AuthError('The API key was refused.');
  }
  if (!body) throw new Error(`the service answered HTTP ${res.status}`);
  return body;
}

async function gqlOk(query, variables) {
  const body = await gql(query, variables);
  if (body.errors?.length) throw new Error(body.errors.map((e) => e.message).join('; '));
  return body.data;
}

/** The server does not know a field or argument we asked for (an older service). */
const unknownToServer = (errors) =>
  Array.isArray(errors) && errors.length > 0 && errors.every((e) => /^(Cannot query field|Unknown (argument|type)|Field ".*" is not defined)/.test(e.message ?? ''));

// ---------- integrations and webhook status ----------

/** What the connection part (connect.js) uses of this page. */
const connectCtx = { h, gqlOk, notice, connectors, reload: () => loadIntegrations() };
/** What the field-mapping editor (mappings.js) uses: it reads refusals from the raw answer. */
const mappingCtx = { h, gql, gqlOk };

async function loadIntegrations() {
  const data = await gqlOk('query { integrations { id name provider accountId autoSync webhooksEnabled connectionState } }');
  const list = data.integrations;
  let statuses = {};
  if (list.length) {
    const vars = {};
    const params = list.map((it, i) => ((vars[`i${i}`] = it.id), `$i${i}: ID!`)).join(', ');
    const fields = list.map((_, i) => `s${i}: webhookStatus(integrationId: $i${i}) { ${STATUS} }`).join(' ');
    statuses = await gqlOk(`query(${params}) { ${fields} }`, vars);
  }
  integrations.clear();
  for (const it of list) integrations.set(it.id, it);
  $('integrations').replaceChildren(
    ...(list.length ? list.map((it, i) => integrationRow(it, statuses[`s${i}`])) : [h('tr', null, h('td', { colspan: 14, class: 'muted' }, 'No integrations yet.'))]),
  );
}

function integrationRow(it, s) {
  const num = (n) => h('td', { class: 'num' }, s ? String(n) : '—');
  const soon = s?.expiresAt && Date.parse(s.expiresAt) - Date.now() < 86_400_000;
  return h(
    'tr',
    { 'data-integration': it.id },
    h('td', null, h('b', null, it.name), h('br'), h('small', { class: 'muted' }, `${provider(it.provider)} · ${it.accountId}`)),
    h('td', null, h('span', { class: `pill ${s?.enabled ? 'on' : 'off'}` }, s?.enabled ? 'enabled' : 'disabled')),
    num(s?.totalReceived),
    num(s?.created),
    num(s?.updated),
    num(s?.skipped),
    h('td', { class: `num ${s?.failed ? 'bad' : ''}` }, s ? String(s.failed) : '—'),
    num(s?.pending),
    h('td', null, when(s?.lastReceivedAt, 'ago')),
    h('td', { class: soon ? 'warn' : '' }, when(s?.expiresAt, 'date')),
    waiting(s),
    breakerCell(s),
    connectionCell(connectCtx, it, s),
    h(
      'td',
      { class: 'actions' },
      h('button', { type: 'button', class: 'small', 'data-mappings': it.id, onclick: () => openMappings(mappingCtx, it) }, 'Field mappings'),
      historyAvailable ? [h('br'), h('button', { type: 'button', class: 'small', 'data-retry-all': it.id, onclick: (e) => retryAll(it.id, e.currentTarget) }, 'Retry failed')] : null,
    ),
  );
}

/** Pushes waiting (and failed), with when the next waiting work is due. */
function waiting(s) {
  if (!s) return h('td', { class: 'num' }, '—');
  const due = s.pendingPushes || s.pending ? [h('br'), h('small', { class: 'muted' }, 'next ', when(s.nextAttemptAt, 'ago'))] : [];
  const failed = s.failedPushes ? [' ', h('span', { class: 'bad', title: 'failed pushes' }, `(${s.failedPushes} failed)`)] : [];
  return h('td', { class: 'num' }, String(s.pendingPushes), ...failed, ...due);
}

/** The circuit breaker of calls to the CRM: ok, or paused until when and why. */
function breakerCell(s) {
  const b = s?.breaker;
  if (!b) return h('td', null, dash());
  if (b.state === 'CLOSED') return h('td', { class: 'ok' }, 'ok');
  const label = b.state === 'OPEN' ? 'paused' : 'probing';
  return h(
    'td',
    null,
    h('b', { class: 'warn' }, `${label}${b.lastErrorCode ? ` (${b.lastErrorCode})` : ''}`),
    h('br'),
    h('small', { class: 'muted' }, 'until ', when(b.until, 'time')),
  );
}

// ---------- failed sync events ----------

async function loadFailed() {
  if (!historyAvailable) return;
  const body = await gql(`query { syncEvents(filter: { status: FAILED }, first: 50) { edges { node { ${EVENT} } } } }`);
  if (body.errors?.length) {
    if (unknownToServer(body.errors)) return historyMissing();
    throw new Error(body.errors.map((e) => e.message).join('; '));
  }
  // A failed event already put back in its queue is superseded by the events of the retry.
  const open = body.data.syncEvents.edges.map((e) => e.node).filter((ev) => !ev.retriedAt);
  await resolveLeads(open.map((ev) => ev.leadId));
  const ids = new Set(open.map((ev) => ev.id));
  for (const [id, row] of failedRows) {
    if (row.state === 'failed' && !ids.has(id)) {
      row.tr.remove();
      failedRows.delete(id);
    }
  }
  for (const ev of open.reverse()) if (!failedRows.has(ev.id)) addFailed(ev);
  renderFailedCount();
}

function historyMissing() {
  historyAvailable = false;
  $('failed-table').hidden = true;
  const note = $('failed-note');
  note.textContent = 'Not available: this service has no sync history (the syncEvents query), so failed sync events and retries cannot be shown here.';
  note.hidden = false;
  for (const b of document.querySelectorAll('#integrations button[data-retry-all]')) (b.previousSibling?.remove(), b.remove());
}

async function resolveLeads(ids) {
  const missing = [...new Set(ids.filter((id) => id && !leads.has(id)))];
  if (!missing.length) return;
  const body = await gql('query($ids: [ID!]!) { nodes(ids: $ids) { ... on Lead { id email firstName lastName } } }', { ids: missing });
  for (const n of body.data?.nodes ?? []) if (n?.id) leads.set(n.id, n);
}

/** The lead's name, or a placeholder filled in by one batched query a moment later. */
function leadSlot(leadId) {
  if (!leadId || leads.has(leadId)) return leadLabel(leads.get(leadId), leadId);
  pendingLeads.add(leadId);
  if (!leadTimer) leadTimer = setTimeout(fillLeads, 300);
  return h('span', { 'data-lead': leadId }, leadLabel(null, leadId));
}

async function fillLeads() {
  const ids = [...pendingLeads].slice(0, 100);
  for (const id of ids) pendingLeads.delete(id);
  await resolveLeads(ids).catch(() => {});
  for (const el of document.querySelectorAll('[data-lead]')) {
    const lead = leads.get(el.dataset.lead);
    if (lead) el.replaceWith(leadLabel(lead));
  }
  leadTimer = pendingLeads.size && key ? setTimeout(fillLeads, 300) : 0;
}

function addFailed(ev) {
  const row = { ev, state: 'failed', tr: null };
  const it = integrations.get(ev.integrationId);
  row.tr = h(
    'tr',
    { 'data-event': ev.id },
    h('td', null, when(ev.createdAt, 'date')),
    h('td', null, provider(ev.provider), it ? h('small', { class: 'muted' }, h('br'), it.name) : null),
    h('td', null, leadSlot(ev.leadId)),
    h('td', null, ev.direction === 'INBOUND' ? 'from CRM' : 'to CRM', h('br'), h('small', { class: 'muted' }, ev.kind ?? '')),
    h('td', { class: 'error' }, ev.errorCode ? h('code', null, ev.errorCode) : null, ev.errorCode ? ' ' : null, ev.error ?? ev.reason ?? ''),
    h('td', { class: 'state' }),
    h('td', null, ev.retryable === false ? h('small', { class: 'muted' }, 'not retryable') : h('button', { type: 'button', onclick: () => retryOne(row) }, 'Retry')),
  );
  failedRows.set(ev.id, row);
  setState(row, 'failed');
  $('failed').prepend(row.tr);
}

const STATES = { failed: ['failed', 'bad'], retrying: ['retrying…', 'warn'], succeeded: ['succeeded', 'on'] };

function setState(row, state) {
  row.state = state;
  const [text, cls] = STATES[state];
  row.tr.className = state;
  row.tr.querySelector('.state').replaceChildren(h('span', { class: `pill ${cls}` }, text));
  const button = row.tr.querySelector('button');
  if (button) button.disabled = state !== 'failed';
  renderFailedCount();
}

function renderFailedCount() {
  const n = [...failedRows.values()].filter((r) => r.state !== 'succeeded').length;
  $('failed-count').textContent = String(n);
  $('failed-count').className = `count ${n ? 'bad' : ''}`;
  if (!failedRows.size && historyAvailable) $('failed').replaceChildren(h('tr', { class: 'empty' }, h('td', { colspan: 7, class: 'muted' }, 'No failed sync events.')));
  else $('failed').querySelector('tr.empty')?.remove();
}

async function retryOne(row) {
  setState(row, 'retrying');
  try {
    await gqlOk('mutation($id: ID!) { retrySyncEvent(id: $id) { id } }', { id: row.ev.id });
  } catch (err) {
    setState(row, 'failed');
    notice(`Retry failed: ${err.message}`);
  }
}

async function retryAll(integrationId, button) {
  button.disabled = true;
  try {
    await gqlOk('mutation($id: ID!) { retryFailed(integrationId: $id) }', { id: integrationId });
    for (const row of failedRows.values()) if (row.ev.integrationId === integrationId && row.state === 'failed') setState(row, 'retrying');
  } catch (err) {
    notice(`Retry failed: ${err.message}`);
  } finally {
    button.disabled = false;
  }
}

// ---------- live feed ----------

function feed(kind, label, who, detail) {
  if (!kind.includes('skipped') || $('show-skipped').checked) $('feed-note').hidden = true;
  const list = $('feed');
  list.prepend(h('li', { class: kind }, when(new Date().toISOString()), h('span', { class: `badge ${kind}` }, label), h('div', null, who, h('div', { class: 'muted' }, detail))));
  while (list.children.length > FEED_MAX) list.lastChild.remove();
}

function onLead(change, lead) {
  if (!lead) return;
  leads.set(lead.id, lead);
  const m = lead.crmMetadata ?? {};
  const crm = provider(m.crmProvider);
  const from = !m.crmProvider ? `on the platform (${m.sourceSystem ?? '?'})` : m.lastSyncDirection === 'TO_CRM' ? `pushed to ${crm}` : `from ${crm}`;
  const detail = [lead.company, from, attributesText(lead.attributes)].filter(Boolean).join(' · ');
  feed(change === 'created' ? 'created' : 'updated', change === 'created' ? 'new lead' : 'updated', leadLabel(lead), detail);
  refreshSoon();
}

function onSync(ev) {
  if (!ev) return;
  const status = String(ev.status).toLowerCase();
  const what = `${provider(ev.provider)} · ${ev.direction === 'INBOUND' ? 'from CRM' : 'to CRM'} · ${ev.kind ?? ''}`;
  const why = ev.status === 'FAILED' ? [ev.errorCode, ev.error].filter(Boolean).join(' ') : ev.reason;
  feed(`sync ${status}`, `sync ${status}`, leadSlot(ev.leadId), why ? `${what} · ${why}` : what);

  // The same lead, integration and direction as a failed row: the retry's outcome.
  const same = (r) => r.ev.integrationId === ev.integrationId && r.ev.leadId === ev.leadId && r.ev.direction === ev.direction && r.ev.id !== ev.id;
  if (ev.status === 'SUCCEEDED') {
    for (const r of failedRows.values()) if (same(r) && r.state !== 'succeeded') setState(r, 'succeeded');
  } else if (ev.status === 'FAILED' && historyAvailable && !failedRows.has(ev.id)) {
    for (const [id, r] of failedRows) if (same(r) && r.state === 'retrying') (r.tr.remove(), failedRows.delete(id));
    addFailed(ev);
  }
  refreshSoon();
}

/** A minimal graphql-transport-ws client: one socket, reconnecting with backoff. */
function startLive() {
  const subs = {
    created: { query: `subscription { leadCreated { ${LEAD} } }`, next: (d) => onLead('created', d.leadCreated) },
    updated: { query: `subscription { leadUpdated { ${LEAD} } }`, next: (d) => onLead('updated', d.leadUpdated) },
    sync: { query: `subscription { syncActivity { ${EVENT} } }`, next: (d) => onSync(d.syncActivity), optional: true },
  };
  if (!historyAvailable) subs.sync.off = true;
  let ws;
  let attempt = 0;
  let stopped = false;
  let timer = 0;
  let connectedBefore = false;
  const send = (msg) => ws.readyState === WebSocket.OPEN && ws.send(JSON.stringify(msg));

  const open = () => {
    const url = new URL('/graphql', location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    ws = new WebSocket(url, 'graphql-transport-ws');
    ws.onopen = () => send({ type: 'connection_init', payload: { Authorization: `Bearer ${key}` } });
    ws.onmessage = (message) => {
      let msg;
      try {
        msg = JSON.parse(message.data);
      } catch {
        return;
      }
      const sub = subs[msg.id];
      switch (msg.type) {
        case 'connection_ack':
          attempt = 0;
          for (const [id, s] of Object.entries(subs)) if (!s.off) send({ id, type: 'subscribe', payload: { query: s.query } });
          setConn('live', 'on');
          if (connectedBefore) refresh(); // catch up on what happened while disconnected
          connectedBefore = true;
          break;
        case 'ping':
          send({ type: 'pong' });
          break;
        case 'next':
          if (sub && msg.payload?.data) sub.next(msg.payload.data);
          if (msg.payload?.errors?.length) notice(`Live ${msg.id} feed: ${msg.payload.errors.map((e) => e.message).join('; ')}`);
          break;
        case 'error':
          if (sub?.optional && unknownToServer(msg.payload)) {
            sub.off = true;
            historyMissing();
          } else notice(`Live ${msg.id} feed stopped: ${(msg.payload ?? []).map((e) => e.message).join('; ')}`);
          break;
      }
    };
    ws.onclose = (event) => {
      if (stopped) return;
      if (event.code === 4403 || event.code === 4401) return forget('The API key was refused: paste a valid key.');
      setConn('reconnecting…', 'warn');
      timer = setTimeout(open, Math.min(30_000, 1000 * 2 ** attempt++) * (0.5 + Math.random() / 2));
    };
  };
  open();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
      ws.close(1000);
    },
  };
}

// ---------- session ----------

async function refresh() {
  try {
    await loadIntegrations();
    await loadFailed();
  } catch (err) {
    if (err instanceof AuthError) return forget('The API key was refused: paste a valid key.');
    notice(`Could not refresh: ${err.message}`);
  }
}

/** Webhook counters follow activity, at most one refresh every two seconds. */
function refreshSoon() {
  if (soonTimer) return;
  soonTimer = setTimeout(() => {
    soonTimer = 0;
    if (key) loadIntegrations().catch(() => {});
  }, 2000);
}

async function connect(candidate) {
  key = candidate;
  setConn('connecting…', 'warn');
  try {
    await loadIntegrations();
  } catch (err) {
    key = null;
    setConn('not connected');
    sessionStorage.removeItem(KEY_STORE);
    return notice(err instanceof AuthError ? 'The API key was refused: paste a valid key.' : `Could not reach the service: ${err.message}`);
  }
  sessionStorage.setItem(KEY_STORE, candidate);
  notice('');
  const back = takeOAuthResult();
  if (back) notice(`${provider(back.crm.toUpperCase())} ${back.result === 'created' ? 'connected' : 'reconnected'}.`, true);
  await renderConnectors(connectCtx)
    .then(() => loadIntegrations())
    .catch((err) => notice(`Could not load the CRMs to connect: ${err.message}`));
  $('key-form').hidden = true;
  $('forget').hidden = false;
  $('panels').hidden = false;
  live = startLive();
  refreshTimer = setInterval(refresh, REFRESH_MS);
  await loadFailed().catch((err) => notice(`Could not load failed sync events: ${err.message}`));
}

function forget(message) {
  live?.stop();
  live = null;
  clearInterval(refreshTimer);
  clearTimeout(soonTimer);
  soonTimer = 0;
  clearTimeout(leadTimer);
  leadTimer = 0;
  pendingLeads.clear();
  key = null;
  sessionStorage.removeItem(KEY_STORE);
  integrations.clear();
  leads.clear();
  failedRows.clear();
  closeMappings();
  for (const id of ['integrations', 'failed', 'feed']) $(id).replaceChildren();
  $('feed-note').hidden = false;
  $('panels').hidden = true;
  $('forget').hidden = true;
  $('key-form').hidden = false;
  setConn('not connected');
  notice(message);
}

$('key-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const value = $('key').value.trim();
  $('key').value = '';
  if (value) connect(value);
});
$('forget').addEventListener('click', () => forget(''));
wireMappings(mappingCtx);
$('show-skipped').addEventListener('change', (event) => $('feed').classList.toggle('hide-skipped', !event.currentTarget.checked));

const saved = sessionStorage.getItem(KEY_STORE);
if (saved) connect(saved);
