// Provisioning a Salesforce org: checks the Lead fields our writes need (origin tag,
// external id) and lists what an administrator must still do. Salesforce's API cannot
// create Outbound Messages or Flows for us: provision() describes them as manual steps.
import { z } from 'zod';
import type { PrepareReport, ProvisionOptions, ProvisionReport } from '../contract.ts';
import type { SalesforceConnection } from './connection.ts';

/** Fields the Outbound Message must carry (documented in provision's manual steps). */
export function outboundFields(originField: string): string[] {
  return ['Id', 'Email', 'FirstName', 'LastName', 'Phone', 'Company', 'Status', originField, 'CreatedDate', 'LastModifiedDate', 'SystemModstamp'];
}

const describeResult = z.looseObject({
  fields: z.array(
    z.looseObject({
      name: z.string(),
      type: z.string().optional(),
      externalId: z.boolean().optional(),
      unique: z.boolean().optional(),
      restrictedPicklist: z.boolean().optional(),
      picklistValues: z.array(z.looseObject({ value: z.string(), active: z.boolean().optional() })).optional(),
    }),
  ),
});

/** Checks the Lead fields our writes need (origin tag, external id); steps for what is missing. */
async function checkFields(sf: SalesforceConnection, tagValues: string[]): Promise<{ originOk: boolean; extOk: boolean; manualSteps: string[] }> {
  const describe = sf.parse(describeResult, await sf.get<unknown>('describe Lead', '/sobjects/Lead/describe'), 'describe Lead');
  const find = (name: string) => describe.fields.find((f) => f.name.toLowerCase() === name.toLowerCase());
  const origin = find(sf.originField);
  const ext = find(sf.externalIdField);
  const manualSteps: string[] = [];

  let originOk = Boolean(origin);
  if (!origin) {
    manualSteps.push(
      `Create the custom field Lead.${sf.originField} (Setup > Object Manager > Lead > Fields & Relationships > New): ` +
        `Text(255), or a Picklist with the values ${tagValues.join(', ')}. It marks the Leads this integration created.`,
    );
  } else if (origin.type === 'picklist' && origin.restrictedPicklist) {
    const values = new Set((origin.picklistValues ?? []).filter((p) => p.active !== false).map((p) => p.value));
    const missing = tagValues.filter((v) => !values.has(v));
    if (missing.length > 0) {
      originOk = false;
      manualSteps.push(`Add the values ${missing.join(', ')} to the restricted picklist Lead.${sf.originField}.`);
    }
  }
  let extOk = Boolean(ext?.externalId);
  if (!ext) {
    manualSteps.push(
      `Create the custom field Lead.${sf.externalIdField}: Text(255), with "External ID" and "Unique" (case-insensitive) checked. ` +
        'It holds the platform lead id and makes every write idempotent.',
    );
  } else if (!ext.externalId) {
    extOk = false;
    manualSteps.push(`Mark Lead.${sf.externalIdField} as "External ID" and "Unique" (edit the field in Object Manager > Lead).`);
  }
  return { originOk, extOk, manualSteps };
}

export async function prepare(sf: SalesforceConnection, tagValues: string[]): Promise<PrepareReport> {
  const { originOk, extOk, manualSteps } = await checkFields(sf, tagValues);
  return {
    originFieldReady: originOk && extOk,
    originFieldCreated: false,
    manualSteps,
    settings: { originField: sf.originField, externalIdField: sf.externalIdField, callOptionsClient: sf.callOptionsClient },
  };
}

export async function provision(sf: SalesforceConnection, opts: ProvisionOptions): Promise<ProvisionReport> {
  const { originOk, extOk, manualSteps } = await checkFields(sf, opts.tagValues);
  const fields = outboundFields(sf.originField);
  manualSteps.push(
    `Create an Outbound Message on Lead (Setup > Process Automation > Outbound Messages > New): Endpoint URL ${opts.webhookUrl}, ` +
      `fields ${fields.join(', ')}; leave "Send Session ID" unchecked.`,
    'Make it fire on every Lead change: a record-triggered Flow on Lead ("A record is created or updated", ' +
      'run "Actions and Related Records", no entry conditions) whose action is that Outbound Message ' +
      '(or a Workflow Rule "created, and every time it\'s edited" with criteria formula TRUE).',
    'Deliveries are checked against this integration\'s Salesforce Organization ID (Setup > Company Information): ' +
      'it must be the account id the integration was created with.',
  );
  return {
    originFieldReady: originOk && extOk,
    originFieldCreated: false,
    subscriptionId: null,
    events: ['Lead.created', 'Lead.updated'],
    expiresAt: null,
    manualSteps,
    settings: {
      originField: sf.originField,
      externalIdField: sf.externalIdField,
      callOptionsClient: sf.callOptionsClient,
      outboundFields: fields,
    },
  };
}
