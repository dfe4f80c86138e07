// Compares the final state (leads and links in the service's database, contacts in the
// HubSpot sandbox) with the model, and counts what a user would notice: people lost,
// people duplicated, wrong values, and echo writes (API writes that changed nothing and
// that no lost or timed-out answer explains).
import { FIELDS, HUBSPOT_PROP, type Model, type Person } from './model.ts';

export interface FinalLead {
  id: string;
  email: string;
  firstName: string | null;
  lastName: string | null;
  phone: string | null;
  company: string | null;
  links: { integrationId: string; externalId: string; remoteDeletedAt: Date | null }[];
}

export interface FinalContact {
  id: string;
  archived: boolean;
  properties: Record<string, string | null>;
}

export interface WriteCall {
  path: string;
  body: unknown;
  fault?: string;
  /** When it was answered (ms). */
  at: number;
}

/** A write answered this long before a SIGKILL may have been applied without the service recording it. */
const KILL_WINDOW_MS = 10_000;

export interface Findings {
  lost: string[];
  duplicated: string[];
  wrong: string[];
  echoWrites: string[];
}

const WRITE_PATH = /^\/crm\/v3\/objects\/contacts(\/batch\/(create|update|upsert)|\/[^/]+)?$/;

export function compare(
  model: Model,
  final: { leads: FinalLead[]; contacts: FinalContact[]; integrationId: string; noopWrites: { id: string; at: number }[]; calls: readonly WriteCall[]; kills: number[] },
): Findings {
  const f: Findings = { lost: [], duplicated: [], wrong: [], echoWrites: [] };
  const live = final.contacts.filter((c) => !c.archived);
  const contactsByEmail = groupBy(live, (c) => (c.properties.email ?? '').toLowerCase());
  const leadsByEmail = groupBy(final.leads, (l) => l.email.toLowerCase());
  const linksToContact = new Map<string, FinalLead[]>();
  for (const l of final.leads) {
    for (const k of l.links) if (k.integrationId === final.integrationId) linksToContact.set(k.externalId, [...(linksToContact.get(k.externalId) ?? []), l]);
  }

  for (const p of model.persons) {
    const leads = leadsByEmail.get(p.email) ?? [];
    const contacts = contactsByEmail.get(p.email) ?? [];
    if (leads.length === 0) f.lost.push(`${p.email} (${p.origin}): no lead`);
    if (contacts.length === 0) f.lost.push(`${p.email} (${p.origin}): no HubSpot contact`);
    if (leads.length > 1) f.duplicated.push(`${p.email}: ${leads.length} leads`);
    if (contacts.length > 1) f.duplicated.push(`${p.email}: ${contacts.length} HubSpot contacts (${contacts.map((c) => c.id).join(', ')})`);
    const lead = leads[0];
    const contact = contacts[0];
    if (lead && contact) {
      const link = lead.links.find((k) => k.integrationId === final.integrationId);
      if (!link) f.lost.push(`${p.email}: lead ${lead.id} not linked to contact ${contact.id}`);
      else if (link.externalId !== contact.id) f.wrong.push(`${p.email}: lead ${lead.id} linked to ${link.externalId}, the contact is ${contact.id}`);
      else if (link.remoteDeletedAt) f.wrong.push(`${p.email}: link to ${contact.id} marked deleted`);
    }
    for (const field of FIELDS) checkField(f, p, field, lead?.[field] ?? null, contact?.properties[HUBSPOT_PROP[field]] ?? null);
  }

  // Records nobody asked for.
  for (const [email, leads] of leadsByEmail) if (!model.person(email)) f.duplicated.push(`unexpected lead(s) for ${email}: ${leads.map((l) => l.id).join(', ')}`);
  for (const [email, cs] of contactsByEmail) if (!model.person(email)) f.duplicated.push(`unexpected contact(s) for "${email}": ${cs.map((c) => c.id).join(', ')}`);
  for (const [contactId, leads] of linksToContact) if (leads.length > 1) f.duplicated.push(`contact ${contactId} linked from ${leads.length} leads`);

  f.echoWrites = echoWrites(final.noopWrites, final.calls, live, final.kills);
  return f;
}

function checkField(f: Findings, p: Person, field: (typeof FIELDS)[number], leadValue: string | null, crmValue: string | null): void {
  const allowed = p.contested[field] ?? [p.values[field]];
  const shown = (v: string | null) => (v === null ? 'null' : JSON.stringify(v));
  if (p.contested[field]) {
    if (leadValue !== crmValue || !allowed.includes(leadValue ?? '')) {
      f.wrong.push(`${p.email} ${field}: lead ${shown(leadValue)}, HubSpot ${shown(crmValue)}, expected equal and one of ${allowed.map(shown).join(' / ')}`);
    }
    return;
  }
  const want = p.values[field];
  const by = ` [last write: ${p.lastBy[field] ?? 'creation'} on ${p.origin} person]`;
  if (leadValue !== want) f.wrong.push(`${p.email} ${field}: lead ${shown(leadValue)}, expected ${shown(want)} (HubSpot ${shown(crmValue)})${by}`);
  if (crmValue !== want) f.wrong.push(`${p.email} ${field}: HubSpot ${shown(crmValue)}, expected ${shown(want)} (lead ${shown(leadValue)})${by}`);
}

/**
 * Writes that changed nothing, less those a lost or late answer explains: a write applied
 * whose answer never came (dropped connection, held past the client timeout, or answered
 * just before the service was killed) is rightly sent again, and the repeat finds every
 * value already there.
 */
function echoWrites(noops: { id: string; at: number }[], calls: readonly WriteCall[], contacts: FinalContact[], kills: number[]): string[] {
  const idOfEmail = new Map(contacts.map((c) => [(c.properties.email ?? '').toLowerCase(), c.id]));
  const credit = new Map<string, number>();
  for (const c of calls) {
    const unanswered = c.fault === 'lost_response' || c.fault === 'latency';
    const beforeKill = kills.some((k) => c.at <= k && c.at > k - KILL_WINDOW_MS);
    if (!(unanswered || beforeKill) || !WRITE_PATH.test(c.path)) continue;
    for (const id of writtenIds(c, idOfEmail)) credit.set(id, (credit.get(id) ?? 0) + 1);
  }
  const out: string[] = [];
  for (const n of noops) {
    const left = credit.get(n.id) ?? 0;
    if (left > 0) credit.set(n.id, left - 1);
    else out.push(`contact ${n.id} written with the values it held at ${new Date(n.at).toISOString()}`);
  }
  return out;
}

function writtenIds(c: WriteCall, idOfEmail: Map<string, string>): string[] {
  const one = /^\/crm\/v3\/objects\/contacts\/([^/]+)$/.exec(c.path);
  if (one && one[1] !== 'search') return [decodeURIComponent(one[1]!)];
  const inputs = (c.body as { inputs?: { id?: unknown; idProperty?: unknown; properties?: Record<string, unknown> }[] } | undefined)?.inputs ?? [];
  return inputs
    .map((i) => {
      if (i.idProperty === 'email' || (i.id === undefined && typeof i.properties?.email === 'string')) {
        return idOfEmail.get(String(i.id ?? i.properties?.email ?? '').toLowerCase());
      }
      return i.id === undefined ? undefined : String(i.id);
    })
    .filter((x): x is string => Boolean(x));
}

function groupBy<T>(list: T[], key: (t: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const t of list) m.set(key(t), [...(m.get(key(t)) ?? []), t]);
  return m;
}
