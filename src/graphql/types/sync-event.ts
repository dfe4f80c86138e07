// Sync history: SyncEvent (a Relay node), Lead.syncHistory, the syncEvents connection,
// retries of failed events, and the live syncActivity subscription.
import { decodeGlobalID, encodeGlobalID } from '@pothos/plugin-relay';
import { filter, pipe } from 'graphql-yoga';
import { notFound } from '../../errors.ts';
import type { Prisma, SyncEvent } from '../../generated/prisma/client.ts';
import { builder } from '../builder.ts';
import { CrmProviderEnum } from './scalars.ts';

/** A sync event as it may arrive: from Prisma, or through Redis with ISO-string dates. */
type SyncEventShape = Omit<SyncEvent, 'createdAt' | 'retriedAt'> & { createdAt: Date | string; retriedAt: Date | string | null };

export const SyncEventDirectionEnum = builder.enumType('SyncEventDirection', {
  description: 'Which way a sync event went.',
  values: {
    INBOUND: { value: 'inbound', description: 'A CRM change applied to the platform (webhook, import, poll).' },
    OUTBOUND: { value: 'outbound', description: 'A platform change pushed to a CRM.' },
  } as const,
});

export const SyncEventStatusEnum = builder.enumType('SyncEventStatus', {
  description: 'How a sync event ended.',
  values: {
    SUCCEEDED: { value: 'succeeded', description: 'Something changed (a lead, or the CRM record).' },
    SKIPPED: { value: 'skipped', description: 'Nothing to do (own origin, echo, no email, unchanged, ...); see reason.' },
    FAILED: { value: 'failed', description: 'Given up after retries; see errorCode and error. retrySyncEvent replays it.' },
    WARNING: { value: 'warning', description: 'A value a field mapping could not carry (errorCode VALUE_NOT_MAPPED; error says which and why): the rest of the change went through.' },
  } as const,
});

/** SyncEvent ids are Relay global ids; a malformed one names no event. */
export function parseSyncEventId(globalId: string): string {
  try {
    const { typename, id } = decodeGlobalID(globalId);
    if (typename === 'SyncEvent' && id) return id;
  } catch {
    // Not a global id: answered like an id that does not exist.
  }
  throw notFound('Sync event');
}

export const SyncEventType = builder.prismaNode('SyncEvent', {
  id: { field: 'id' },
  description: 'One step of sync history: an inbound change applied, or an outbound push.',
  findUnique: (id, ctx) => ({ id, organizationId: ctx.organizationId }),
  nullable: true,
  fields: (t) => ({
    integrationId: t.exposeID('integrationId'),
    provider: t.expose('provider', { type: CrmProviderEnum }),
    leadId: t.id({
      nullable: true,
      description: 'The Lead (global id) concerned, when there is one. The lead may have been merged away since.',
      resolve: (e) => (e.leadId ? encodeGlobalID('Lead', e.leadId) : null),
    }),
    direction: t.expose('direction', { type: SyncEventDirectionEnum }),
    kind: t.exposeString('kind', {
      description: 'What happened: created, updated, linked, deleted, merged, skipped or failed.',
    }),
    status: t.expose('status', { type: SyncEventStatusEnum }),
    reason: t.exposeString('reason', {
      nullable: true,
      description: 'Why: the skip reason (skipped_own_origin, skipped_echo, skipped_no_email, unchanged, ...) or the failure code.',
    }),
    errorCode: t.exposeString('errorCode', { nullable: true, description: 'Stable error code of a failure (RATE_LIMITED, VALIDATION, ...).' }),
    error: t.exposeString('error', { nullable: true, description: 'Error message of a failure.' }),
    externalId: t.exposeString('externalId', { nullable: true, description: 'The CRM record id.' }),
    via: t.exposeString('via', { description: 'webhook, import, poll or push.' }),
    retryable: t.boolean({
      description: 'A failed event whose work can be put back in its queue with retrySyncEvent.',
      resolve: (e) => e.status === 'failed' && !e.retriedAt && Boolean(e.inboxEventId || e.outboxItemId),
    }),
    retriedAt: t.expose('retriedAt', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const SyncEventFilter = builder.inputType('SyncEventFilter', {
  fields: (t) => ({
    status: t.field({ type: SyncEventStatusEnum }),
    provider: t.field({ type: CrmProviderEnum }),
    integrationId: t.id(),
    direction: t.field({ type: SyncEventDirectionEnum }),
    since: t.field({ type: 'DateTime', description: 'At or after this instant.' }),
    until: t.field({ type: 'DateTime', description: 'Strictly before this instant.' }),
  }),
});

type SyncEventFilterArgs = typeof SyncEventFilter.$inferInput;

function syncEventWhere(organizationId: string, f: SyncEventFilterArgs | null | undefined): Prisma.SyncEventWhereInput {
  const where: Prisma.SyncEventWhereInput = { organizationId };
  if (!f) return where;
  if (f.status != null) where.status = f.status;
  if (f.provider != null) where.provider = f.provider;
  if (f.integrationId != null) where.integrationId = String(f.integrationId);
  if (f.direction != null) where.direction = f.direction;
  if (f.since != null || f.until != null) {
    where.createdAt = { ...(f.since != null ? { gte: f.since } : {}), ...(f.until != null ? { lt: f.until } : {}) };
  }
  return where;
}

const NEWEST_FIRST = [{ createdAt: 'desc' as const }, { id: 'desc' as const }];

builder.prismaObjectField('Lead', 'syncHistory', (t) =>
  t.field({
    type: [SyncEventType],
    authScopes: { 'leads:read': true },
    description: "This lead's sync history, newest first (at most 100).",
    args: { first: t.arg.int({ defaultValue: 20 }) },
    select: { id: true },
    resolve: (lead, args, ctx) =>
      ctx.services.prisma.syncEvent.findMany({
        where: { organizationId: ctx.organizationId, leadId: lead.id },
        orderBy: NEWEST_FIRST,
        take: Math.max(0, Math.min(args.first ?? 20, 100)),
      }),
  }),
);

builder.queryFields((t) => ({
  syncEvents: t.prismaConnection(
    {
      type: 'SyncEvent',
      cursor: 'id',
      maxSize: 100,
      defaultSize: 20,
      authScopes: { 'leads:read': true },
      description: "The organization's sync history, newest first. Pages hold at most 100 events.",
      args: { filter: t.arg({ type: SyncEventFilter }) },
      totalCount: (_connection, args, ctx) => ctx.services.prisma.syncEvent.count({ where: syncEventWhere(ctx.organizationId, args.filter) }),
      resolve: (query, _root, args, ctx) =>
        ctx.services.prisma.syncEvent.findMany({
          ...query,
          where: syncEventWhere(ctx.organizationId, args.filter),
          orderBy: NEWEST_FIRST,
        }),
    },
    { name: 'SyncEventConnection' },
    { name: 'SyncEventEdge' },
  ),
}));

builder.mutationFields((t) => ({
  retrySyncEvent: t.field({
    type: SyncEventType,
    authScopes: { 'integrations:admin': true },
    description:
      'Replays a failed sync event: its webhook event or push goes back to the queue (the outcome appears as a new sync event). NOT_FOUND for an unknown id; CONFLICT when it did not fail or was already retried.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.sync.retrySyncEvent(ctx.organizationId, parseSyncEventId(String(args.id))),
  }),
  retryFailed: t.int({
    authScopes: { 'integrations:admin': true },
    description: 'Puts every failed webhook event and push of the organization (or of one integration) back in the queue; returns how many.',
    args: { integrationId: t.arg.id() },
    resolve: (_root, args, ctx) => ctx.services.sync.retryFailed(ctx.organizationId, args.integrationId == null ? null : String(args.integrationId)),
  }),
}));

builder.subscriptionFields((t) => ({
  syncActivity: t.field({
    type: SyncEventType,
    authScopes: { 'leads:read': true },
    description: "Each new sync event of the caller's organization, as it is recorded.",
    subscribe: (_root, _args, ctx) =>
      pipe(
        ctx.services.pubsub.subscribe('sync.activity'),
        filter((event: SyncEventShape) => event.organizationId === ctx.organizationId),
      ),
    resolve: (event: SyncEventShape) => event as SyncEvent,
  }),
}));
