// Connecting CRMs from the dashboard: a Connect button per CRM that connects through
// OAuth here (crmConnectors), each integration's connection state with Reconnect and
// Disconnect, and the result the service's OAuth callback sends the browser back with.
// Text nodes only; the consent screen is the CRM's own page (a full navigation).

/** Where connectCrm sends the browser: the CRM's consent screen. Kept apart so it can be replaced. */
const navigate = (url) => window.location.assign(url);

/** The "Connect a CRM" buttons. */
export async function renderConnectors(ctx) {
  const data = await ctx.gqlOk('query { crmConnectors { provider label oauth } }');
  const usable = data.crmConnectors.filter((c) => c.oauth);
  ctx.connectors.clear();
  for (const c of usable) ctx.connectors.set(c.provider, c);
  const el = document.getElementById('connectors');
  el.replaceChildren(
    ...(usable.length
      ? usable.map((c) => ctx.h('button', { type: 'button', 'data-connect': c.provider, onclick: (e) => start(ctx, c.provider, c.label, e.currentTarget) }, `Connect ${c.label}`))
      : [ctx.h('span', { class: 'muted' }, 'No CRM connects through OAuth on this service (its client id and secret are not configured).')]),
  );
}

/** Starts a connection (or a reconnection: the callback finds the account's integration). */
async function start(ctx, provider, label, button) {
  if (button) button.disabled = true;
  try {
    const r = await ctx.gqlOk('mutation($p: CrmProvider!, $n: String!) { connectCrm(provider: $p, name: $n) { authorizeUrl } }', { p: provider, n: label });
    navigate(r.connectCrm.authorizeUrl);
  } catch (err) {
    ctx.notice(`Could not start the connection: ${err.message}`);
    if (button) button.disabled = false;
  }
}

const STATE = { CONNECTED: ['connected', 'ok'], NEEDS_RECONNECT: ['needs reconnect', 'bad'], DISCONNECTED: ['disconnected', 'muted'] };

/** The connection cell of an integration row: its state, Reconnect and Disconnect. */
export function connectionCell(ctx, it, s) {
  const state = s?.connection?.state ?? it.connectionState ?? 'CONNECTED';
  const [text, cls] = STATE[state] ?? [state, ''];
  const why = state === 'NEEDS_RECONNECT' && s?.connection?.errorCode ? ` (${s.connection.errorCode})` : '';
  const connector = ctx.connectors.get(it.provider);
  const buttons = [];
  if (state !== 'CONNECTED' && connector) {
    buttons.push(ctx.h('button', { type: 'button', class: 'small', 'data-reconnect': it.id, onclick: (e) => start(ctx, it.provider, it.name, e.currentTarget) }, 'Reconnect'));
  }
  if (state !== 'DISCONNECTED') {
    buttons.push(ctx.h('button', { type: 'button', class: 'small', 'data-disconnect': it.id, onclick: (e) => disconnect(ctx, it, e.currentTarget) }, 'Disconnect'));
  }
  return ctx.h('td', { class: 'connection' }, ctx.h('b', { class: `conn-state ${cls}` }, text + why), ...buttons.flatMap((b) => [ctx.h('br'), b]));
}

/** Disconnect asks once more on the button itself (no dialog), then disconnects. */
async function disconnect(ctx, it, button) {
  if (button.dataset.confirm !== 'yes') {
    button.dataset.confirm = 'yes';
    button.textContent = 'Confirm disconnect';
    return;
  }
  button.disabled = true;
  try {
    await ctx.gqlOk('mutation($id: ID!) { disconnectCrm(integrationId: $id) { id connectionState } }', { id: it.id });
    ctx.notice('');
    await ctx.reload();
  } catch (err) {
    ctx.notice(`Could not disconnect: ${err.message}`);
    button.disabled = false;
  }
}

/** The result the OAuth callback sent the browser back with (shown once, then removed from the URL). */
export function takeOAuthResult() {
  const url = new URL(window.location.href);
  const result = url.searchParams.get('result');
  const crm = url.searchParams.get('connected');
  if (!result || !crm) return null;
  for (const k of ['result', 'connected', 'integrationId']) url.searchParams.delete(k);
  window.history.replaceState(null, '', url.pathname + url.search);
  return { crm, result };
}
