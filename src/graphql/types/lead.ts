// Lead: a Relay node backed by the Lead model, its queries, mutations and subscriptions.
import { decodeGlobalID } from '@pothos/plugin-relay';
import { filter, pipe } from 'graphql-yoga';
import { parseAttributeFilter, readAttributes } from '../../engine/attributes.ts';
import { normaliseEmail } from '../../engine/fields.ts';
import { notFound, validationError } from '../../errors.ts';
import type { CrmProvider, Lead, Prisma } from '../../generated/prisma/client.ts';
import type { LeadEvent, PubSubTopics } from '../../pubsub.ts';
import { builder, type GraphQLContext } from '../builder.ts';
import { CrmProviderEnum, SyncDirectionEnum } from './scalars.ts';

/** Lead ids are Relay global ids; a malformed id, or one of another type, names no lead. */
export function parseLeadId(globalId: string): string {
  try {
    const { typename, id } = decodeGlobalID(globalId);
    if (typename === 'Lead' && id) return id;
  } catch {
    // Not a global id at all: answered like an id that does not exist.
  }
  throw notFound('Lead');
}

const CrmMetadata = builder.objectRef<Lead>('CrmMetadata').implement({
  description: 'Where a lead came from and how it was last synced.',
  fields: (t) => ({
    sourceSystem: t.exposeString('sourceSystem', {
      description: 'Where the lead was first created: the platform tag, or the CRM name.',
    }),
    lastSyncDirection: t.expose('lastSyncDirection', { type: SyncDirectionEnum, nullable: true }),
    lastSyncedAt: t.expose('lastSyncedAt', { type: 'DateTime', nullable: true }),
    syncVersion: t.exposeInt('syncVersion', {
      description: 'Incremented on every change of the synced fields, local or from a CRM.',
    }),
    crmProvider: t.expose('crmProvider', { type: CrmProviderEnum, nullable: true }),
  }),
});

interface CrmLinkView {
  integrationId: string;
  provider: CrmProvider;
  externalId: string;
  lastPushedAt: Date | string | null;
}

const CrmLinkType = builder.objectRef<CrmLinkView>('CrmLink').implement({
  description: 'The CRM record a lead is linked to, per integration.',
  fields: (t) => ({
    integrationId: t.exposeID('integrationId'),
    provider: t.expose('provider', { type: CrmProviderEnum }),
    externalId: t.exposeString('externalId', { description: 'The record id in the CRM.' }),
    lastPushedAt: t.expose('lastPushedAt', { type: 'DateTime', nullable: true }),
  }),
});

const ATTRIBUTES_NOTE =
  'Custom values by key (`^[a-z][a-z0-9_]{0,62}$`, at most 50): text (at most 1000 characters), number, boolean, ' +
  'date as YYYY-MM-DD (a text of that shape must be a real date), or a list of at most 50 texts of at most 255 characters. ' +
  'Refusals are VALIDATION with a code per problem in extensions.fields. An attribute goes to a CRM only where the integration maps it ' +
  '(Integration.fieldMappings): a change of attributes alone queues a push to those CRMs (and increments syncVersion), to none otherwise.';

export const LeadType = builder.prismaNode('Lead', {
  id: { field: 'id' },
  // Node lookups and fallback loads only ever see the caller's organization.
  findUnique: (id, ctx) => ({ id, organizationId: ctx.organizationId }),
  nullable: true,
  fields: (t) => ({
    email: t.exposeString('email'),
    firstName: t.exposeString('firstName', { nullable: true }),
    lastName: t.exposeString('lastName', { nullable: true }),
    phone: t.exposeString('phone', { nullable: true }),
    company: t.exposeString('company', { nullable: true }),
    status: t.exposeString('status', { nullable: true }),
    attributes: t.field({
      type: 'JSON',
      description: ATTRIBUTES_NOTE,
      resolve: (lead) => readAttributes(lead.attributes),
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    crmMetadata: t.field({ type: CrmMetadata, resolve: (lead) => lead }),
    crmLinks: t.field({
      type: [CrmLinkType],
      select: {
        links: {
          select: { integrationId: true, externalId: true, lastPushedAt: true, integration: { select: { provider: true } } },
          orderBy: { createdAt: 'asc' },
        },
      },
      resolve: (lead) =>
        lead.links.map((l) => ({
          integrationId: l.integrationId,
          provider: l.integration.provider,
          externalId: l.externalId,
          lastPushedAt: l.lastPushedAt,
        })),
    }),
  }),
});

interface LeadFilterArgs {
  email?: string | null;
  sourceSystem?: string | null;
  provider?: CrmProvider | null;
  createdAfter?: Date | null;
  createdBefore?: Date | null;
  attributes?: readonly { key: string; equals?: unknown }[] | null;
}

function leadWhere(organizationId: string, args: LeadFilterArgs): Prisma.LeadWhereInput {
  const where: Prisma.LeadWhereInput = { organizationId };
  if (args.email != null) {
    const email = normaliseEmail(args.email);
    if (!email) throw validationError([{ field: 'email', message: 'must not be empty' }]);
    where.email = email;
  }
  if (args.sourceSystem != null) where.sourceSystem = args.sourceSystem;
  if (args.provider != null) {
    where.OR = [{ crmProvider: args.provider }, { links: { some: { integration: { provider: args.provider } } } }];
  }
  if (args.createdAfter != null || args.createdBefore != null) {
    where.createdAt = {
      ...(args.createdAfter != null ? { gte: args.createdAfter } : {}),
      ...(args.createdBefore != null ? { lt: args.createdBefore } : {}),
    };
  }
  if (args.attributes?.length) {
    where.AND = args.attributes.map((f, i) => {
      const { key, equals } = parseAttributeFilter(f.key, f.equals, `attributes.${i}`);
      return { attributes: { path: [key], equals: equals as Prisma.InputJsonValue } };
    });
  }
  return where;
}

const LeadAttributeFilter = builder.inputType('LeadAttributeFilter', {
  description: 'Leads whose attribute `key` holds exactly `equals` (a list matches the same list, in order).',
  fields: (t) => ({
    key: t.string({ required: true }),
    equals: t.field({ type: 'JSON', required: true }),
  }),
});

builder.queryFields((t) => ({
  leads: t.prismaConnection(
    {
      type: 'Lead',
      authScopes: { 'leads:read': true },
      cursor: 'id',
      maxSize: 100,
      defaultSize: 20,
      description: "The organization's leads, newest first. Pages hold at most 100 leads.",
      args: {
        email: t.arg.string({ description: 'Exact email; compared trimmed and lower-cased.' }),
        sourceSystem: t.arg.string({ description: 'Where the lead was first created (platform tag or CRM name).' }),
        provider: t.arg({
          type: CrmProviderEnum,
          description: 'Leads that came from, or are linked to, this CRM.',
        }),
        createdAfter: t.arg({ type: 'DateTime', description: 'Created at or after this instant.' }),
        createdBefore: t.arg({ type: 'DateTime', description: 'Created strictly before this instant.' }),
        attributes: t.arg({
          type: [LeadAttributeFilter],
          description: 'Leads matching every one of these attribute filters.',
        }),
      },
      totalCount: (_connection, args, ctx) => ctx.services.prisma.lead.count({ where: leadWhere(ctx.organizationId, args) }),
      resolve: (query, _root, args, ctx) =>
        ctx.services.prisma.lead.findMany({
          ...query,
          where: leadWhere(ctx.organizationId, args),
          orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        }),
    },
    { name: 'LeadConnection' },
    { name: 'LeadEdge' },
  ),
  lead: t.prismaField({
    type: 'Lead',
    authScopes: { 'leads:read': true },
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _root, args, ctx) => {
      const lead = await ctx.services.prisma.lead.findFirst({
        ...query,
        where: { id: parseLeadId(String(args.id)), organizationId: ctx.organizationId },
      });
      if (!lead) throw notFound('Lead');
      return lead;
    },
  }),
}));

const CreateLeadInput = builder.inputType('CreateLeadInput', {
  fields: (t) => ({
    email: t.string({ required: true }),
    firstName: t.string(),
    lastName: t.string(),
    phone: t.string(),
    company: t.string(),
    status: t.string(),
    attributes: t.field({ type: 'JSON', description: `${ATTRIBUTES_NOTE} Keys set to null are left out.` }),
  }),
});

const UpdateLeadInput = builder.inputType('UpdateLeadInput', {
  description: 'Fields left out are unchanged; fields set to null are cleared.',
  fields: (t) => ({
    id: t.id({ required: true }),
    email: t.string(),
    firstName: t.string(),
    lastName: t.string(),
    phone: t.string(),
    company: t.string(),
    status: t.string(),
    attributes: t.field({
      type: 'JSON',
      description: `Keys given are set, keys set to null removed, other keys kept. ${ATTRIBUTES_NOTE}`,
    }),
  }),
});

builder.mutationFields((t) => ({
  createLead: t.field({
    type: LeadType,
    authScopes: { 'leads:write': true },
    args: { input: t.arg({ type: CreateLeadInput, required: true }) },
    resolve: (_root, { input }, ctx) => ctx.services.sync.createLead(ctx.organizationId, input),
  }),
  updateLead: t.field({
    type: LeadType,
    authScopes: { 'leads:write': true },
    args: { input: t.arg({ type: UpdateLeadInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      ctx.services.sync.updateLead(ctx.organizationId, { ...input, id: parseLeadId(String(input.id)) }),
  }),
}));

function leadEvents(ctx: GraphQLContext, topic: keyof Pick<PubSubTopics, 'lead.created' | 'lead.updated'>) {
  return pipe(
    ctx.services.pubsub.subscribe(topic),
    filter((event: LeadEvent) => event.organizationId === ctx.organizationId),
  );
}

builder.subscriptionFields((t) => ({
  leadCreated: t.field({
    type: LeadType,
    authScopes: { 'leads:read': true },
    description: "A lead was created in the caller's organization (locally or from a CRM).",
    subscribe: (_root, _args, ctx) => leadEvents(ctx, 'lead.created'),
    resolve: (event: LeadEvent) => event.lead,
  }),
  leadUpdated: t.field({
    type: LeadType,
    authScopes: { 'leads:read': true },
    description: "A lead of the caller's organization changed.",
    subscribe: (_root, _args, ctx) => leadEvents(ctx, 'lead.updated'),
    resolve: (event: LeadEvent) => event.lead,
  }),
}));
