// The field-mapping editor of an integration: one row per mapping (platform field, CRM
// field chosen from the fields the CRM lists, direction, conflict rule, and for picklists
// a value map), saved whole with setFieldMappings. Refusals are shown next to the row
// they concern; a saved change offers a resync of the changed fields, with its progress.
// Text nodes only: field labels and option labels come from the CRM.

const SYNCED = ['firstName', 'lastName', 'phone', 'company', 'status'];
const DIRECTIONS = [['BOTH', 'both ways'], ['TO_CRM', 'to CRM only'], ['FROM_CRM', 'from CRM only']];
const CONFLICTS = [['NEWEST', 'newest change wins'], ['CRM_WINS', 'CRM wins'], ['PLATFORM_WINS', 'platform wins']];
const PICKLISTS = new Set(['PICKLIST', 'MULTIPICKLIST']);
const POLL_MS = 500;

const FIELDS = 'name label type writable custom synced options { value label }';
const MAPPING = 'platform crm direction conflict valueMap { platform crm }';
const JOB = 'id status processed changed total error fields source';

let ctx = null;
let state = null; // { integration, fields: Map(name -> field), rows: [] }
const $ = (id) => document.getElementById(id);

/** Replaces the row groups of the table (its head stays). */
function setRows(...bodies) {
  for (const b of $('mapping-rows').querySelectorAll(':scope > tbody')) b.remove();
  $('mapping-rows').append(...bodies);
}

/** Opens the editor of an integration (closing any other). */
export async function openMappings(context, integration) {
  ctx = context;
  const { h } = ctx;
  const section = $('mappings');
  section.hidden = false;
  $('mappings-title').replaceChildren('Field mappings · ', h('span', null, integration.name));
  $('mapping-result').replaceChildren();
  setRows(h('tbody', null, h('tr', null, h('td', { colspan: 6, class: 'muted' }, 'Loading the CRM\u2019s fields…'))));
  state = { integration, fields: new Map(), rows: [] };
  try {
    await load(false);
  } catch (err) {
    if (state?.integration !== integration) return;
    setRows(h('tbody', null, h('tr', null, h('td', { colspan: 6, class: 'bad' }, `Could not load the fields: ${err.message}`))));
  }
  section.scrollIntoView({ block: 'nearest' });
}

export function closeMappings() {
  state = null;
  $('mappings').hidden = true;
  setRows();
  $('mapping-result').replaceChildren();
}

/** The rows as setFieldMappings takes them. */
function collect() {
  return state.rows.map((row) => {
    const field = state.fields.get(row.crm.value);
    const out = { platform: row.platform.value.trim(), crm: row.crm.value, direction: row.direction.value, conflict: row.conflict.value };
    if (field && PICKLISTS.has(field.type)) out.valueMap = row.valueRows.map((v) => ({ platform: v.platform.value.trim(), crm: v.crm.value }));
    return out;
  });
}

/** The CRM's fields and the stored mappings; `refresh` reads the fields from the CRM again and keeps the rows as edited. */
async function load(refresh) {
  const mine = state;
  const id = mine.integration.id;
  const edited = refresh ? collect() : null;
  const data = await ctx.gqlOk(
    `query($id: ID!, $r: Boolean) { crmFields(integrationId: $id, refresh: $r) { ${FIELDS} } integration(id: $id) { id fieldMappings { ${MAPPING} } } }`,
    { id, r: refresh },
  );
  if (state !== mine) return; // closed (or another integration opened) meanwhile
  state.fields = new Map(data.crmFields.map((f) => [f.name, f]));
  renderRows(edited ?? data.integration?.fieldMappings ?? []);
}

function renderRows(mappings) {
  state.rows = [];
  setRows();
  for (const m of mappings) addRow(m);
  if (!mappings.length) addRow(null);
}

/** "Lead grade (lead_grade) · picklist", with "read-only" for fields the API cannot write. */
function fieldText(f) {
  return `${f.label} (${f.name}) · ${f.type.toLowerCase()}${f.writable ? '' : ' · read-only'}`;
}

function select(label, choices, value) {
  const el = ctx.h('select', { 'aria-label': label }, ...choices.map(([v, text]) => ctx.h('option', { value: v }, text)));
  if (value != null) el.value = value;
  return el;
}

function addRow(mapping) {
  const { h } = ctx;
  const row = { mapping, valueRows: [] };
  const n = () => state.rows.indexOf(row) + 1;
  row.platform = h('input', { type: 'text', list: 'platform-fields', spellcheck: 'false', placeholder: 'firstName or attributes.<key>', class: 'platform' });
  row.platform.value = mapping?.platform ?? '';
  const sorted = [...state.fields.values()].sort((a, b) => a.label.localeCompare(b.label));
  row.crm = select('', [['', 'choose a CRM field…'], ...sorted.map((f) => [f.name, fieldText(f)])], null);
  if (mapping?.crm && !state.fields.has(mapping.crm)) row.crm.append(h('option', { value: mapping.crm }, `${mapping.crm} · not found in the CRM`));
  row.crm.value = mapping?.crm ?? '';
  row.direction = select('', DIRECTIONS, mapping?.direction ?? 'BOTH');
  row.conflict = select('', CONFLICTS, mapping?.conflict ?? 'NEWEST');
  row.valueCell = h('td', { class: 'value-map' });
  row.problems = h('ul', { class: 'problems', role: 'alert' });
  const remove = h('button', { type: 'button', class: 'small', onclick: () => removeRow(row) }, 'Remove');
  row.remove = remove;
  row.body = h(
    'tbody',
    { class: 'mapping' },
    h('tr', null, h('td', null, row.platform), h('td', null, row.crm), h('td', null, row.direction), h('td', null, row.conflict), row.valueCell, h('td', null, remove)),
    h('tr', { class: 'problems-row' }, h('td', { colspan: 6 }, row.problems)),
  );
  row.crm.addEventListener('change', () => crmChanged(row, null));
  row.relabel = () => {
    const i = n();
    row.platform.setAttribute('aria-label', `Platform field, row ${i}`);
    row.crm.setAttribute('aria-label', `CRM field, row ${i}`);
    row.direction.setAttribute('aria-label', `Direction, row ${i}`);
    row.conflict.setAttribute('aria-label', `Conflict rule, row ${i}`);
    remove.setAttribute('aria-label', `Remove row ${i}`);
    row.valueRows.forEach((v, j) => v.relabel(i, j + 1));
    if (row.addValue) row.addValue.setAttribute('aria-label', `Add a value, row ${i}`);
  };
  state.rows.push(row);
  $('mapping-rows').append(row.body);
  crmChanged(row, mapping?.valueMap ?? []);
  relabelAll();
  return row;
}

function removeRow(row) {
  state.rows.splice(state.rows.indexOf(row), 1);
  row.body.remove();
  relabelAll();
}

const relabelAll = () => state.rows.forEach((r) => r.relabel());

/** A CRM field chosen: read-only fields only from the CRM; picklists get a value map. */
function crmChanged(row, valueMap) {
  const field = state.fields.get(row.crm.value);
  const readOnly = field ? !field.writable : false;
  for (const o of row.direction.options) o.disabled = readOnly && o.value !== 'FROM_CRM';
  if (readOnly) row.direction.value = 'FROM_CRM';
  row.valueRows = [];
  row.addValue = null;
  if (!field || !PICKLISTS.has(field.type)) {
    row.valueCell.replaceChildren(field ? ctx.h('span', { class: 'muted' }, '—') : '');
    return row.relabel?.();
  }
  const list = ctx.h('ul', { class: 'values' });
  row.addValue = ctx.h('button', { type: 'button', class: 'small', onclick: () => (addValue(row, list, field, null), row.relabel()) }, 'Add value');
  row.valueCell.replaceChildren(ctx.h('div', { class: 'muted' }, `Options: ${field.options.map((o) => o.label).join(', ') || 'none'}`), list, row.addValue);
  for (const e of valueMap ?? []) addValue(row, list, field, e);
  row.relabel?.();
}

function addValue(row, list, field, entry) {
  const { h } = ctx;
  const v = {};
  v.platform = h('input', { type: 'text', class: 'value', spellcheck: 'false', placeholder: 'platform value' });
  v.platform.value = entry?.platform ?? '';
  v.crm = select('', [['', 'choose…'], ...field.options.map((o) => [o.value, o.label === o.value ? o.label : `${o.label} (${o.value})`])], null);
  if (entry?.crm && !field.options.some((o) => o.value === entry.crm)) v.crm.append(h('option', { value: entry.crm }, `${entry.crm} · not an option`));
  v.crm.value = entry?.crm ?? '';
  v.remove = h('button', { type: 'button', class: 'small' }, '×');
  v.li = h('li', null, v.platform, ' \u2192 ', v.crm, ' ', v.remove);
  v.remove.addEventListener('click', () => {
    row.valueRows.splice(row.valueRows.indexOf(v), 1);
    v.li.remove();
    row.relabel();
  });
  v.relabel = (i, j) => {
    v.platform.setAttribute('aria-label', `Platform value ${j}, row ${i}`);
    v.crm.setAttribute('aria-label', `CRM option for value ${j}, row ${i}`);
    v.remove.setAttribute('aria-label', `Remove value ${j}, row ${i}`);
  };
  row.valueRows.push(v);
  list.append(v.li);
}

function clearProblems() {
  for (const row of state.rows) {
    row.problems.replaceChildren();
    for (const el of row.body.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  }
}

/** extensions.fields[].field is "mappings.<i>.<part>" or "mappings.<i>.valueMap.<j>.<part>". */
function showProblems(problems) {
  const general = [];
  for (const p of problems) {
    const m = /^mappings\.(\d+)(?:\.(platform|crm|direction|conflict|valueMap)(?:\.(\d+)\.(platform|crm))?)?$/.exec(p.field ?? '');
    const row = m ? state.rows[Number(m[1])] : null;
    if (!row) {
      general.push(p);
      continue;
    }
    const target = m[3] != null ? row.valueRows[Number(m[3])]?.[m[4]] : m[2] === 'valueMap' ? null : row[m[2] ?? 'platform'];
    target?.setAttribute('aria-invalid', 'true');
    row.problems.append(ctx.h('li', { 'data-code': p.code }, ctx.h('code', null, p.code), ' ', p.message));
  }
  return general;
}

async function save(button) {
  const { h } = ctx;
  const mine = state;
  const mappings = collect();
  clearProblems();
  const result = $('mapping-result');
  result.replaceChildren(h('p', { class: 'note' }, 'Saving…'));
  button.disabled = true;
  try {
    const body = await ctx.gql(
      `mutation($id: ID!, $m: [FieldMappingInput!]!) { setFieldMappings(integrationId: $id, mappings: $m) { changed manualSteps integration { id fieldMappings { ${MAPPING} } } } }`,
      { id: state.integration.id, m: mappings },
    );
    if (state !== mine) return; // closed meanwhile
    const error = body.errors?.[0];
    if (error) {
      const problems = Array.isArray(error.extensions?.fields) ? error.extensions.fields : [];
      const general = showProblems(problems);
      const n = problems.length - general.length;
      result.replaceChildren(
        h('p', { class: 'bad', role: 'alert' }, n ? `Not saved: ${n} problem${n === 1 ? '' : 's'} shown beside the rows. Nothing was changed.` : `Not saved: ${error.message}`),
        ...(general.length ? [h('ul', { class: 'problems' }, ...general.map((p) => h('li', null, h('code', null, p.code), ' ', p.message)))] : []),
      );
      return;
    }
    const r = body.data.setFieldMappings;
    renderRows(r.integration.fieldMappings);
    showSaved(r);
  } catch (err) {
    result.replaceChildren(h('p', { class: 'bad', role: 'alert' }, `Not saved: ${err.message}`));
  } finally {
    button.disabled = false;
  }
}

function showSaved({ changed, manualSteps }) {
  const { h } = ctx;
  const parts = [h('p', { class: 'ok', role: 'status' }, changed.length ? 'Saved.' : 'Saved: no mapping changed.')];
  if (manualSteps.length) {
    parts.push(h('div', { class: 'steps' }, h('b', null, 'To do in the CRM:'), h('ul', null, ...manualSteps.map((s) => h('li', null, s)))));
  }
  if (changed.length) {
    const source = select('Take the values from', [['', 'the side that wins'], ['CRM', 'the CRM'], ['PLATFORM', 'the platform']], '');
    const progress = h('p', { class: 'resync-progress', role: 'status', 'aria-live': 'polite' });
    const buttons = [];
    const run = (fields) => resync(fields, source.value || null, progress, buttons);
    const items = changed.map((f) => {
      const b = h('button', { type: 'button', class: 'small', 'aria-label': `Resync ${f}`, onclick: () => run([f]) }, 'Resync');
      buttons.push(b);
      return h('li', null, h('code', null, f), ' ', b);
    });
    const all = h('button', { type: 'button', onclick: () => run(changed) }, 'Resync all changed fields');
    buttons.push(all);
    parts.push(
      h('div', { class: 'changed' }, h('b', null, 'Changed mappings: '), 'bring the leads already linked in line.', h('ul', null, ...items), h('label', null, 'Take the values from ', source), ' ', all, progress),
    );
  }
  $('mapping-result').replaceChildren(...parts);
}

const jobText = (j) =>
  `${j.status}: ${j.processed} processed · ${j.changed} changed${j.total != null ? ` · ${j.total} total` : ''} (${j.fields.join(', ')} from the ${j.source === 'PLATFORM' ? 'platform' : 'CRM'})${j.error ? ` · ${j.error}` : ''}`;

async function resync(fields, source, progress, buttons) {
  const mine = state;
  for (const b of buttons) b.disabled = true;
  progress.className = 'resync-progress';
  progress.textContent = 'Starting the resync…';
  try {
    const body = await ctx.gql(`mutation($id: ID!, $f: [String!]!, $s: ResyncSource) { resyncFields(integrationId: $id, fields: $f, source: $s) { ${JOB} } }`, {
      id: mine.integration.id,
      f: fields,
      s: source,
    });
    const error = body.errors?.[0];
    // A refusal names each problem (extensions.fields); other errors carry their message.
    if (error) throw new Error(Array.isArray(error.extensions?.fields) ? error.extensions.fields.map((p) => p.message).join('; ') : error.message);
    let job = body.data.resyncFields;
    progress.dataset.job = job.id;
    progress.textContent = jobText(job);
    while (job.status === 'running' && state === mine) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      const d = await ctx.gqlOk(`query($id: ID!) { fieldResyncJob(id: $id) { ${JOB} } }`, { id: job.id });
      if (!d.fieldResyncJob) throw new Error('the job is gone');
      job = d.fieldResyncJob;
      progress.textContent = jobText(job);
    }
    progress.className = `resync-progress ${job.status === 'completed' ? 'ok' : job.status === 'failed' ? 'bad' : ''}`;
  } catch (err) {
    progress.className = 'resync-progress bad';
    progress.textContent = `Resync not started: ${err.message}`;
  } finally {
    for (const b of buttons) b.disabled = false;
  }
}

/** The buttons of the editor (present in the page, wired once). */
export function wireMappings(context) {
  ctx = context;
  $('platform-fields').replaceChildren(...SYNCED.map((f) => ctx.h('option', { value: f })), ctx.h('option', { value: 'attributes.' }));
  $('mapping-add').addEventListener('click', () => state && addRow(null).platform.focus());
  $('mapping-save').addEventListener('click', (e) => state && save(e.currentTarget));
  $('mapping-refresh').addEventListener('click', async (e) => {
    if (!state) return;
    e.currentTarget.disabled = true;
    try {
      await load(true);
      $('mapping-result').replaceChildren();
    } catch (err) {
      $('mapping-result').replaceChildren(ctx.h('p', { class: 'bad', role: 'alert' }, `Could not read the fields: ${err.message}`));
    } finally {
      e.currentTarget.disabled = false;
    }
  });
  $('mapping-close').addEventListener('click', closeMappings);
}
