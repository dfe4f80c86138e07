// The three CRMs as the field-mapping suite drives them: the seeded custom fields of each
// sandbox org, how a person edits a record, how its notifications are held back, how a
// write of ours is made to fail once, and which requests are record writes.
//
// Multi-select values, as each CRM's API carries them (normalised here to a sorted list):
//   HubSpot checkbox (enumeration): one string, options separated by ";" (HubSpot, "How
//     do I set multiple values for checkbox properties": "the property value should be a
//     single string with all of the values separated by semicolons").
//   Salesforce multipicklist: one string, values separated by ";" (SOQL and SOSL
//     reference, "Query Multi-Select Picklists": "';' specifies AND for two or more strings").
//   Zoho multiselectpicklist: a JSON array of the chosen values (v7 records API, json_type
//     jsonarray in the fields metadata).
import type { HubSpotSandbox } from '../../../sandboxes/hubspot/server.ts';
import type { SalesforceSandbox } from '../../../sandboxes/salesforce/index.ts';
import type { ZohoSandbox } from '../../../sandboxes/zoho/index.ts';
import {
  connectHubSpot,
  connectSalesforce,
  connectZoho,
  hubspotMoves,
  salesforceMoves,
  startHubSpotFor,
  startSalesforceFor,
  startZohoFor,
  zohoMoves,
  type Moving,
  type Stack,
} from '../../helpers/stack.ts';

export interface CustomFields {
  /** A writable text field. */
  text: string;
  /** A writable number field. */
  number: string;
  /** A single-select picklist, and its option values for grades A, B, C. */
  grade: string;
  gradeOptions: [string, string, string];
  /** A multi-select picklist with the options sports, music, travel (in the CRM's spelling). */
  interests: string;
  interestOptions: [string, string, string];
  /** A field computed by the CRM (read-only through the API). */
  readOnly: string;
}

export interface MappingCrm {
  name: string;
  integrationId: string;
  moves: Moving;
  fields: CustomFields;
  /** The record's value of a field as the CRM's API holds it (undefined: no record). */
  value(email: string, field: string): unknown;
  /** A multi-select field's options, sorted. */
  list(email: string, field: string): string[];
  /** A person creates a record in the CRM's UI. */
  createAsUser(values: Record<string, unknown>): void;
  /** A person edits the record in the CRM's UI. */
  editAsUser(email: string, values: Record<string, unknown>): void;
  /** Keeps the CRM's change notifications back until the next flush. */
  hold(): void;
  /** The next write of a record fails with a server error (retryable). */
  failNextWrite(): void;
  /** Record writes (create/update calls) the CRM received so far. */
  writes(): number;
  /** Every change in the CRM from now on carries this time (null: real time). */
  setClock(at: Date | null): void;
  close(): Promise<void>;
}

const asList = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : typeof v === 'string' && v !== '' ? v.split(';') : []).sort();
const isWrite = (method: string) => method === 'POST' || method === 'PATCH' || method === 'PUT';

export async function startHubSpotCrm(stack: Stack): Promise<MappingCrm> {
  const hs: HubSpotSandbox = await startHubSpotFor(stack);
  // With the app's developer key the service subscribes the mapped properties itself.
  const integrationId = await connectHubSpot(stack, hs, { app: true });
  const contact = (email: string) => hs.findContactByEmail(email);
  return {
    name: 'HubSpot',
    integrationId,
    moves: hubspotMoves(hs),
    fields: {
      text: 'industry_notes',
      number: 'employee_count',
      grade: 'lead_grade',
      gradeOptions: ['a', 'b', 'c'],
      interests: 'interests',
      interestOptions: ['sports', 'music', 'travel'],
      readOnly: 'engagement_score',
    },
    value: (email, field) => contact(email)?.properties[field] ?? undefined,
    list: (email, field) => asList(contact(email)?.properties[field]),
    createAsUser: (values) => void hs.createContactAsUser(stringify(values)),
    editAsUser: (email, values) => hs.updateContactAsUser(contact(email)!.id, stringify(values)),
    hold: () => hs.holdWebhooks(),
    failNextWrite: () => hs.controls.injectFault({ kind: 'server_error', status: 503 }, 1, { method: 'POST', path: '/crm/v3/objects/contacts/batch/update' }),
    writes: () => hs.controls.requests.filter((r) => isWrite(r.method) && /^\/crm\/v3\/objects\/contacts(\/batch\/(create|update|upsert))?(\/\d+)?$/.test(r.path)).length,
    setClock: (at) => hs.controls.setClock(at),
    close: () => hs.close(),
  };
}

/** HubSpot property values are strings (checkboxes joined by ";"). */
function stringify(values: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, Array.isArray(v) ? v.join(';') : String(v)]));
}

export async function startSalesforceCrm(stack: Stack): Promise<MappingCrm> {
  const sf: SalesforceSandbox = await startSalesforceFor(stack);
  const { integrationId } = await connectSalesforce(stack, sf);
  const lead = (email: string) => sf.controls.listLeads().find((l) => !l.deleted && String(l.values.Email).toLowerCase() === email);
  return {
    name: 'Salesforce',
    integrationId,
    moves: salesforceMoves(sf),
    fields: {
      text: 'Industry_Notes__c',
      number: 'Employee_Count__c',
      grade: 'Lead_Grade__c',
      gradeOptions: ['A', 'B', 'C'],
      interests: 'Interests__c',
      interestOptions: ['Sports', 'Music', 'Travel'],
      readOnly: 'Engagement_Score__c',
    },
    value: (email, field) => lead(email)?.values[field] ?? undefined,
    list: (email, field) => asList(lead(email)?.values[field]),
    createAsUser: (values) => void sf.controls.createLeadAsUser(Object.fromEntries(Object.entries(values).map(([k, v]) => [k, Array.isArray(v) ? v.join(';') : v])) as never),
    editAsUser: (email, values) =>
      sf.controls.updateLeadAsUser(lead(email)!.values.Id as string, Object.fromEntries(Object.entries(values).map(([k, v]) => [k, Array.isArray(v) ? v.join(';') : v])) as never),
    // The Outbound Message queues its notifications and sends them only on flush.
    hold: () => void sf.controls.outbound.configure({ auto: false }),
    failNextWrite: () => sf.controls.injectFault('server_error', 1, { method: 'PATCH' }),
    writes: () => sf.controls.requests.filter((r) => isWrite(r.method) && /\/(sobjects|composite)\b/.test(r.path) && !r.path.endsWith('/describe')).length,
    setClock: (at) => sf.controls.setClock(at),
    close: () => sf.close(),
  };
}

export async function startZohoCrm(stack: Stack): Promise<MappingCrm> {
  const zs: ZohoSandbox = await startZohoFor(stack);
  const { integrationId } = await connectZoho(stack, zs);
  const lead = (email: string) => zs.controls.listLeads().find((l) => String(l.Email).toLowerCase() === email);
  return {
    name: 'Zoho',
    integrationId,
    moves: zohoMoves(zs),
    fields: {
      text: 'Industry_Notes',
      number: 'Employee_Count',
      // Records carry a picklist option by its display_value ("Use the display_value in API
      // requests during create, update, and upsert operations").
      grade: 'Lead_Grade',
      gradeOptions: ['A', 'B', 'C'],
      interests: 'Interests',
      interestOptions: ['Sports', 'Music', 'Travel'],
      readOnly: 'Engagement_Score',
    },
    value: (email, field) => lead(email)?.[field] ?? undefined,
    list: (email, field) => asList(lead(email)?.[field]),
    createAsUser: (values) => void zs.controls.createLeadAsUser(values),
    editAsUser: (email, values) => zs.controls.updateLeadAsUser(String(lead(email)!.id), values),
    hold: () => zs.controls.holdNotifications(),
    failNextWrite: () => zs.controls.injectFault('server_error', 1),
    writes: () => zs.controls.requests.filter((r) => isWrite(r.method) && /^\/crm\/v\d+\/Leads(\/upsert|\/\d+)?$/.test(r.path)).length,
    setClock: (at) => zs.controls.setClock(at),
    close: () => zs.close(),
  };
}
