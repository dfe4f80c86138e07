// CRM field discovery: the fields of an integration's CRM lead/contact object.
import type { CrmField, CrmFieldType } from '../../../adapters/contract.ts';
import { builder } from '../builder.ts';

export const FIELD_TYPES: Record<CrmFieldType, 'TEXT' | 'NUMBER' | 'BOOLEAN' | 'DATE' | 'DATETIME' | 'PICKLIST' | 'MULTIPICKLIST' | 'EMAIL' | 'PHONE'> = {
  text: 'TEXT',
  number: 'NUMBER',
  boolean: 'BOOLEAN',
  date: 'DATE',
  datetime: 'DATETIME',
  picklist: 'PICKLIST',
  multipicklist: 'MULTIPICKLIST',
  email: 'EMAIL',
  phone: 'PHONE',
};

export const CrmFieldTypeEnum = builder.enumType('CrmFieldType', {
  description: "A CRM field's kind, the same for every CRM.",
  values: {
    TEXT: {},
    NUMBER: {},
    BOOLEAN: {},
    DATE: { description: 'A calendar date (YYYY-MM-DD).' },
    DATETIME: { description: 'An instant (ISO 8601, UTC).' },
    PICKLIST: { description: 'One of `options`.' },
    MULTIPICKLIST: { description: 'Several of `options`.' },
    EMAIL: {},
    PHONE: {},
  } as const,
});

const SyncedFieldEnum = builder.enumType('SyncedField', {
  description: 'One of the six lead fields kept in sync with CRMs.',
  values: ['email', 'firstName', 'lastName', 'phone', 'company', 'status'] as const,
});

type Option = NonNullable<CrmField['options']>[number];

const CrmFieldOptionType = builder.objectRef<Option>('CrmFieldOption').implement({
  description: 'A value a picklist accepts.',
  fields: (t) => ({
    value: t.exposeString('value', { description: 'The value the API reads and writes.' }),
    label: t.exposeString('label', { description: 'What people see in the CRM.' }),
  }),
});

export const CrmFieldObject = builder.objectRef<CrmField>('CrmField').implement({
  description: "A field of the CRM's lead/contact object.",
  fields: (t) => ({
    name: t.exposeString('name', { description: 'API name: HubSpot property name, Salesforce field API name, Zoho api_name.' }),
    label: t.exposeString('label'),
    type: t.field({ type: CrmFieldTypeEnum, resolve: (f) => FIELD_TYPES[f.type] }),
    writable: t.exposeBoolean('writable', { description: 'The API may write it (not calculated, formula, read-only or system maintained).' }),
    custom: t.exposeBoolean('custom', { description: 'Created by the customer, not defined by the CRM.' }),
    options: t.field({
      type: [CrmFieldOptionType],
      description: 'Picklists: the values the CRM accepts; empty for other fields.',
      resolve: (f) => f.options ?? [],
    }),
    synced: t.field({
      type: SyncedFieldEnum,
      nullable: true,
      description: 'Which of the six synced lead fields it is, when it is one of them.',
      resolve: (f) => f.synced ?? null,
    }),
  }),
});

builder.queryFields((t) => ({
  crmFields: t.field({
    type: [CrmFieldObject],
    authScopes: { 'integrations:admin': true },
    description:
      "The fields of the integration's CRM lead/contact object, as the CRM lists them. Kept in memory for 10 minutes per " +
      'integration; `refresh: true` reads them from the CRM again. CONFLICT while the integration needs reconnecting; ' +
      "CRM_ERROR (with the CRM's code) when the CRM refuses.",
    args: {
      integrationId: t.arg.id({ required: true }),
      refresh: t.arg.boolean({ defaultValue: false, description: 'Read the fields from the CRM now, not from memory.' }),
    },
    resolve: (_root, args, ctx) =>
      ctx.services.sync.crmFields(ctx.organizationId, String(args.integrationId), { refresh: args.refresh ?? false }),
  }),
}));
