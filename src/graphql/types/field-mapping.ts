// Field mappings of an integration (src/engine/mappings.ts): which platform field goes to
// which CRM field, in which direction, who wins a conflict, and picklist value maps; and
// the resync job a changed mapping offers.
import { ADAPTERS } from '../../adapters.ts';
import type { FieldResyncJob } from '../../generated/prisma/client.ts';
import { mappingsOf, type FieldMapping } from '../../engine/mappings.ts';
import { builder } from '../builder.ts';
import { CrmFieldTypeEnum, FIELD_TYPES } from './crm-field.ts';
import { IntegrationType, integrationView } from './integration.ts';

const DirectionEnum = builder.enumType('MappingDirection', {
  description: 'Which way a mapped field is synced.',
  values: {
    BOTH: { value: 'both', description: 'Both ways (the default).' },
    TO_CRM: { value: 'to_crm', description: 'Platform -> CRM only: changes made in the CRM are not applied to the lead.' },
    FROM_CRM: { value: 'from_crm', description: 'CRM -> platform only: the platform value is never written to the CRM.' },
  } as const,
});

const ConflictEnum = builder.enumType('ConflictRule', {
  description: 'Who wins when both sides changed a field since they last agreed.',
  values: {
    NEWEST: { value: 'newest', description: 'The later change by each side\'s own change time (the default).' },
    CRM_WINS: { value: 'crm_wins', description: "The CRM's value is applied." },
    PLATFORM_WINS: { value: 'platform_wins', description: "The platform's value is kept and written back to the CRM." },
  } as const,
});

const ResyncSourceEnum = builder.enumType('ResyncSource', {
  description: 'Which side a resync takes the values from.',
  values: {
    CRM: { value: 'crm', description: "The CRM's values are applied to every linked lead." },
    PLATFORM: { value: 'platform', description: "The platform's values are written to every linked CRM record." },
  } as const,
});

type ValueMapEntry = FieldMapping['valueMap'][number];

const ValueMapEntryType = builder.objectRef<ValueMapEntry>('ValueMapEntry').implement({
  description: 'One picklist value: the platform value and the CRM option value it is written as.',
  fields: (t) => ({
    platform: t.exposeString('platform'),
    crm: t.exposeString('crm', { description: "The CRM option's API value (CrmField.options.value)." }),
  }),
});

const FieldMappingType = builder.objectRef<FieldMapping>('FieldMapping').implement({
  description: 'A platform field (a synced field or a lead attribute) mapped to a CRM field.',
  fields: (t) => ({
    platform: t.exposeString('platform', { description: 'firstName, lastName, phone, company, status, or attributes.<key>. Email is always synced and never mapped.' }),
    crm: t.exposeString('crm', { description: "The CRM field's API name (CrmField.name)." }),
    direction: t.field({ type: DirectionEnum, resolve: (m) => m.direction }),
    conflict: t.field({ type: ConflictEnum, resolve: (m) => m.conflict }),
    valueMap: t.field({ type: [ValueMapEntryType], resolve: (m) => m.valueMap }),
    crmType: t.field({ type: CrmFieldTypeEnum, nullable: true, description: "The CRM field's type when the mapping was set.", resolve: (m) => (m.crmType ? FIELD_TYPES[m.crmType] : null) }),
  }),
});

builder.objectField(IntegrationType, 'fieldMappings', (t) =>
  t.field({
    type: [FieldMappingType],
    description: 'The field mappings in force. Until setFieldMappings is called: the synced fields to the CRM fields they always used, both ways, newest change wins.',
    resolve: (i) => {
      const adapter = ADAPTERS.find((a) => a.provider === i.provider);
      return adapter ? mappingsOf(i.fieldMappings, adapter.fieldNames) : [];
    },
  }),
);

const ValueMapEntryInput = builder.inputType('ValueMapEntryInput', {
  fields: (t) => ({
    platform: t.string({ required: true }),
    crm: t.string({ required: true, description: "An option value of the CRM picklist (CrmField.options.value)." }),
  }),
});

const FieldMappingInput = builder.inputType('FieldMappingInput', {
  fields: (t) => ({
    platform: t.string({ required: true, description: 'firstName, lastName, phone, company, status, or attributes.<key>.' }),
    crm: t.string({ required: true, description: "The CRM field's API name, as crmFields lists it." }),
    direction: t.field({ type: DirectionEnum, defaultValue: 'both' }),
    conflict: t.field({ type: ConflictEnum, defaultValue: 'newest' }),
    valueMap: t.field({ type: [ValueMapEntryInput], description: 'Picklists only: platform value -> CRM option value. Several platform values may share an option; reading back gives the first.' }),
  }),
});

const SetFieldMappingsPayload = builder.objectRef<{ integration: Parameters<typeof integrationView>[0]; changed: string[]; manualSteps: string[] }>('SetFieldMappingsPayload').implement({
  fields: (t) => ({
    manualSteps: t.exposeStringList('manualSteps', {
      description: "What an administrator must do in the CRM so changes of the mapped fields are notified (HubSpot without the app's developer key: the property subscriptions). Empty: done.",
    }),
    integration: t.field({ type: IntegrationType, resolve: (p) => integrationView(p.integration) }),
    changed: t.exposeStringList('changed', { description: 'Platform fields whose mapping is new or changed: resyncFields brings them in line.' }),
  }),
});

type ResyncShape = Omit<FieldResyncJob, 'startedAt' | 'finishedAt'> & { startedAt: Date | string; finishedAt: Date | string | null };

const FieldResyncJobType = builder.objectRef<ResyncShape>('FieldResyncJob').implement({
  description: 'A resync of mapped fields after a mapping changed, and its progress.',
  fields: (t) => ({
    id: t.exposeID('id'),
    integrationId: t.exposeID('integrationId'),
    fields: t.exposeStringList('fields'),
    source: t.field({ type: ResyncSourceEnum, resolve: (j) => (j.source === 'platform' ? 'platform' : 'crm') }),
    status: t.exposeString('status', { description: 'running, completed or failed.' }),
    processed: t.exposeInt('processed', { description: 'CRM records read (source CRM) or linked leads queued for a write (source PLATFORM).' }),
    changed: t.exposeInt('changed', { description: 'Leads changed (source CRM) or queued (source PLATFORM).' }),
    total: t.exposeInt('total', { nullable: true, description: 'Source PLATFORM: the linked leads to write, known at start.' }),
    error: t.exposeString('error', { nullable: true }),
    startedAt: t.expose('startedAt', { type: 'DateTime' }),
    finishedAt: t.expose('finishedAt', { type: 'DateTime', nullable: true }),
  }),
});

builder.mutationFields((t) => ({
  setFieldMappings: t.field({
    type: SetFieldMappingsPayload,
    authScopes: { 'integrations:admin': true },
    description:
      'Replaces the field mappings of an integration (a synced field left out is no longer synced with this CRM). Each is checked against the ' +
      "CRM's fields: VALIDATION with a code per problem (MAPPING_UNKNOWN_CRM_FIELD, MAPPING_READ_ONLY_TARGET, MAPPING_TYPE_MISMATCH, " +
      'MAPPING_VALUE_MAP_UNKNOWN_OPTION, MAPPING_VALUE_MAP_NOT_PICKLIST, MAPPING_DUPLICATE_*, MAPPING_RESERVED_CRM_FIELD, ' +
      'MAPPING_PLATFORM_FIELD_INVALID) and nothing changes.',
    args: {
      integrationId: t.arg.id({ required: true }),
      mappings: t.arg({ type: [FieldMappingInput], required: true }),
    },
    resolve: (_root, args, ctx) =>
      ctx.services.sync.setFieldMappings(
        ctx.organizationId,
        String(args.integrationId),
        args.mappings.map((m) => ({ platform: m.platform, crm: m.crm, direction: m.direction, conflict: m.conflict, valueMap: m.valueMap })),
      ),
  }),
  resyncFields: t.field({
    type: FieldResyncJobType,
    authScopes: { 'integrations:admin': true },
    description:
      'Brings mapped fields in line on every linked lead: from the CRM (its values applied) or from the platform (its values written). ' +
      "Default source: the side the mapping's direction and rule favour. The job runs in the background; fieldResyncJob reads its progress.",
    args: {
      integrationId: t.arg.id({ required: true }),
      fields: t.arg.stringList({ required: true, description: 'Platform fields, as the mappings name them.' }),
      source: t.arg({ type: ResyncSourceEnum }),
    },
    resolve: (_root, args, ctx) => ctx.services.sync.resyncFields(ctx.organizationId, String(args.integrationId), args.fields, args.source ?? null),
  }),
}));

builder.queryFields((t) => ({
  fieldResyncJob: t.field({
    type: FieldResyncJobType,
    authScopes: { 'integrations:admin': true },
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.sync.fieldResyncJob(ctx.organizationId, String(args.id)),
  }),
}));
