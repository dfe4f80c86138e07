// The oracle's model: every person the generated activity created, where, and the value
// each synced field must end with. Activity runs one step at a time, so the last write
// to a field (platform or CRM) is the last writer by time as well; a person edited in
// the CRM while a push that changes the same field is being applied may end with either
// value (HubSpot applies writes in the order they arrive and has no conditional update),
// but the platform and the CRM must then agree.

export const FIELDS = ['firstName', 'lastName', 'phone', 'company'] as const;
export type Field = (typeof FIELDS)[number];
export type Values = Record<Field, string>;

/** Lead field -> HubSpot contact property. */
export const HUBSPOT_PROP: Record<Field, string> = { firstName: 'firstname', lastName: 'lastname', phone: 'phone', company: 'company' };

export interface Person {
  n: number;
  email: string;
  origin: 'crm' | 'platform';
  contactId: string | null;
  leadId: string | null;
  values: Values;
  /** Fields that may end with one of these values instead (a same-field race with a push). */
  contested: Partial<Record<Field, string[]>>;
  /** Count of writes, for the report. */
  writes: number;
  /** Who wrote each field last (for the report). */
  lastBy: Partial<Record<Field, Writer>>;
}

export type Writer = 'crm_user' | 'platform' | 'crm_user_during_push';

export class Model {
  readonly persons: Person[] = [];
  private readonly byEmail = new Map<string, Person>();
  private readonly byContact = new Map<string, Person>();

  add(origin: Person['origin'], email: string, values: Values, contactId: string | null = null): Person {
    const p: Person = { n: this.persons.length, email, origin, contactId, leadId: null, values: { ...values }, contested: {}, writes: 1, lastBy: {} };
    this.persons.push(p);
    this.byEmail.set(email, p);
    if (contactId) this.byContact.set(contactId, p);
    return p;
  }

  person(email: string): Person | undefined {
    return this.byEmail.get(email);
  }

  byContactId(id: string): Person | undefined {
    return this.byContact.get(id);
  }

  linkContact(p: Person, contactId: string): void {
    p.contactId = contactId;
    this.byContact.set(contactId, p);
  }

  /** A write of `field` (the newest one); `raceWith` is the value of a push racing it on the same field. */
  write(p: Person, field: Field, value: string, by: Writer, raceWith?: string): void {
    p.values[field] = value;
    p.lastBy[field] = by;
    p.writes++;
    if (raceWith !== undefined && raceWith !== value) p.contested[field] = [value, raceWith];
    else delete p.contested[field];
  }
}
