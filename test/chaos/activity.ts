// Generated activity, one step at a time: people created and edited in HubSpot (as a
// user in its UI), leads created and updated on the platform over GraphQL, and HubSpot
// users editing a contact at the very moment one of our pushes reaches it. Every step
// is written into the model the oracle checks against.
import type { HubSpotSandbox } from '../../sandboxes/hubspot/server.ts';
import { FIELDS, HUBSPOT_PROP, type Field, type Model, type Person, type Values } from './model.ts';
import { pick, type Random } from './random.ts';

export type StepKind = 'crm_create' | 'crm_edit' | 'platform_create' | 'platform_update' | 'edit_during_push';

/** Share of each kind of step. */
const MIX: [StepKind, number][] = [
  ['crm_create', 0.2],
  ['crm_edit', 0.25],
  ['platform_create', 0.15],
  ['platform_update', 0.3],
  ['edit_during_push', 0.1],
];

export interface Platform {
  /** A GraphQL call that waits for the service across restarts; the answer's data and error codes. */
  call(query: string, variables: Record<string, unknown>): Promise<{ data: any; codes: string[] }>;
}

export class Activity {
  private seq = 0;
  readonly counts: Record<StepKind | 'skipped', number> = { crm_create: 0, crm_edit: 0, platform_create: 0, platform_update: 0, edit_during_push: 0, skipped: 0 };
  readonly pushEdits = { armed: 0, applied: 0 };

  constructor(
    private readonly r: Random,
    private readonly model: Model,
    private readonly hs: HubSpotSandbox,
    private readonly platform: Platform,
    private readonly tag: string,
    /** Draws made inside pushes (their timing varies): kept off the steps' own stream. */
    private readonly hookR: Random,
  ) {}

  async step(): Promise<void> {
    let x = this.r();
    let kind: StepKind = 'crm_create';
    for (const [k, w] of MIX) {
      if (x < w) {
        kind = k;
        break;
      }
      x -= w;
    }
    const done = await this[kind]();
    this.counts[done ? kind : 'skipped']++;
  }

  private value(field: Field): string {
    const n = ++this.seq;
    return field === 'phone' ? `+1555${String(n).padStart(7, '0')}` : `${field[0]!.toUpperCase()}${field.slice(1, 4)}-${this.tag}-${n}`;
  }

  private values(): Values {
    return Object.fromEntries(FIELDS.map((f) => [f, this.value(f)])) as Values;
  }

  private fieldsToChange(): Field[] {
    const n = this.r() < 0.7 ? 1 : 2;
    const out = new Set<Field>();
    while (out.size < n) out.add(pick(this.r, FIELDS));
    return [...out];
  }

  private async crm_create(): Promise<boolean> {
    const email = `crm-${this.tag}-${++this.seq}@chaos.example`;
    const v = this.values();
    const id = this.hs.createContactAsUser({ email, ...Object.fromEntries(FIELDS.map((f) => [HUBSPOT_PROP[f], v[f]])) });
    this.model.add('crm', email, v, id);
    return true;
  }

  private async crm_edit(): Promise<boolean> {
    const p = this.withContact();
    if (!p) return false;
    const patch: Record<string, string> = {};
    for (const f of this.fieldsToChange()) {
      const v = this.value(f);
      patch[HUBSPOT_PROP[f]] = v;
      // A write of ours to this field already sent and not yet applied (a held request,
      // maybe from a process since killed) lands after this edit: HubSpot applies writes
      // in the order it processes them, with no conditional update, so either value may
      // be the last one. The platform and HubSpot must then agree.
      this.model.write(p, f, v, 'crm_user', this.inFlightWrite(p, f, v));
    }
    this.hs.updateContactAsUser(p.contactId!, patch);
    return true;
  }

  /** The value a write of ours in flight puts into `field` of `p`'s contact, when it differs from `v`. */
  private inFlightWrite(p: Person, field: Field, v: string): string | undefined {
    for (const req of this.hs.inFlight()) {
      if (req.method !== 'POST' && req.method !== 'PATCH') continue;
      const one = /^\/crm\/v3\/objects\/contacts\/(\d+)$/.exec(req.path);
      const body = req.body as { properties?: Record<string, unknown>; inputs?: { id?: unknown; idProperty?: unknown; properties?: Record<string, unknown> }[] } | undefined;
      const inputs = one
        ? [{ id: one[1], properties: body?.properties }]
        : /^\/crm\/v3\/objects\/contacts\/batch\/(update|upsert)$/.test(req.path)
          ? (body?.inputs ?? [])
          : [];
      for (const i of inputs) {
        const target = i.idProperty === 'email' ? String(i.id ?? '').toLowerCase() === p.email : String(i.id ?? '') === p.contactId;
        const written = i.properties?.[HUBSPOT_PROP[field]];
        if (target && typeof written === 'string' && written !== v) return written;
      }
    }
    return undefined;
  }

  private async platform_create(): Promise<boolean> {
    const email = `pf-${this.tag}-${++this.seq}@chaos.example`;
    const v = this.values();
    const p = this.model.add('platform', email, v);
    const input = { email, ...v };
    const r = await this.platform.call(`mutation($i: CreateLeadInput!) { createLead(input: $i) { id } }`, { i: input });
    if (r.data?.createLead?.id) p.leadId = r.data.createLead.id;
    else if (r.codes.includes('CONFLICT')) p.leadId = await this.leadIdOf(email); // an earlier attempt went through before a kill
    else throw new Error(`createLead failed: ${r.codes.join(', ')}`);
    return true;
  }

  private async platform_update(): Promise<boolean> {
    const p = await this.withLead();
    if (!p) return false;
    const patch: Record<string, string> = {};
    for (const f of this.fieldsToChange()) patch[f] = this.value(f);
    const r = await this.platform.call(`mutation($i: UpdateLeadInput!) { updateLead(input: $i) { id } }`, { i: { id: p.leadId, ...patch } });
    if (!r.data?.updateLead?.id) throw new Error(`updateLead failed: ${r.codes.join(', ')}`);
    for (const [f, v] of Object.entries(patch)) this.model.write(p, f as Field, v, 'platform');
    return true;
  }

  /** A user edits a contact just as our next batch update of it arrives (before HubSpot applies it). */
  private async edit_during_push(): Promise<boolean> {
    this.pushEdits.armed++;
    this.hs.controls.beforeRequest({ method: 'POST', path: '/crm/v3/objects/contacts/batch/update' }, (body) => {
      const inputs = ((body as { inputs?: { id?: unknown; properties?: Record<string, unknown> }[] })?.inputs ?? []).filter(
        (i) => typeof i.id === 'string' && this.model.byContactId(i.id),
      );
      if (inputs.length === 0) return;
      const input = pick(this.hookR, inputs);
      const p = this.model.byContactId(String(input.id))!;
      const held = this.hs.getContact(p.contactId!);
      if (!held || held.archived) return;
      const f = pick(this.hookR, FIELDS);
      const pushed = input.properties?.[HUBSPOT_PROP[f]];
      const before = held.properties[HUBSPOT_PROP[f]] ?? '';
      const v = this.value(f);
      this.hs.updateContactAsUser(p.contactId!, { [HUBSPOT_PROP[f]]: v });
      // The push then overwrites the field only if it changes it: a field it merely repeats
      // must keep the user's edit.
      this.model.write(p, f, v, 'crm_user_during_push', typeof pushed === 'string' && pushed !== before ? pushed : undefined);
      this.pushEdits.applied++;
    });
    return true;
  }

  /** A person whose HubSpot contact exists (platform people once their push created it). */
  private withContact(): Person | undefined {
    for (let tries = 0; tries < 5; tries++) {
      const p = this.randomPerson();
      if (!p) return undefined;
      if (p.contactId) return p;
      const c = this.hs.findContactByEmail(p.email);
      if (c && !c.archived) {
        this.model.linkContact(p, c.id);
        return p;
      }
    }
    return undefined;
  }

  /** A person whose lead exists (HubSpot people once their webhook created it). */
  private async withLead(): Promise<Person | undefined> {
    for (let tries = 0; tries < 3; tries++) {
      const p = this.randomPerson();
      if (!p) return undefined;
      if (p.leadId) return p;
      const id = await this.leadIdOf(p.email);
      if (id) {
        p.leadId = id;
        return p;
      }
    }
    return undefined;
  }

  /** Mostly recent people: edits cluster on records still in flight, where races happen. */
  private randomPerson(): Person | undefined {
    const all = this.model.persons;
    if (all.length === 0) return undefined;
    const recent = this.r() < 0.6;
    const from = recent ? Math.max(0, all.length - 20) : 0;
    return all[from + Math.floor(this.r() * (all.length - from))];
  }

  private async leadIdOf(email: string): Promise<string | null> {
    const r = await this.platform.call(`query($e: String) { leads(first: 1, email: $e) { edges { node { id } } } }`, { e: email });
    return r.data?.leads?.edges?.[0]?.node?.id ?? null;
  }
}
