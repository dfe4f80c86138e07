// Integration: a connection to one CRM account. Credentials are write-only: they are
// never selected from the database for the API, never part of this type.
import { accountIdNames, ADAPTERS, apiBaseUrlNote } from '../../adapters.ts';
import { notFound } from '../../errors.ts';
import type { Integration, Prisma } from '../../generated/prisma/client.ts';
import { builder } from '../builder.ts';
import { connectionStateView } from '../../engine/connection-state.ts';
import { ConnectedViaEnum, ConnectionStateEnum, CrmProviderEnum } from './scalars.ts';

/** The only columns the API reads from an integration. */
export const INTEGRATION_PUBLIC_SELECT = {
  id: true,
  provider: true,
  name: true,
  accountId: true,
  apiBaseUrl: true,
  autoSync: true,
  webhooksEnabled: true,
  connectionState: true,
  connectedVia: true,
  fieldMappings: true,
  createdAt: true,
} as const satisfies Prisma.IntegrationSelect;

export type IntegrationView = Prisma.IntegrationGetPayload<{ select: typeof INTEGRATION_PUBLIC_SELECT }>;

/** Drops everything but the public columns (for rows the service returns whole). */
export function integrationView(row: Integration | IntegrationView): IntegrationView {
  return {
    id: row.id,
    provider: row.provider,
    name: row.name,
    accountId: row.accountId,
    apiBaseUrl: row.apiBaseUrl,
    autoSync: row.autoSync,
    webhooksEnabled: row.webhooksEnabled,
    connectionState: row.connectionState,
    connectedVia: row.connectedVia,
    fieldMappings: row.fieldMappings,
    createdAt: row.createdAt,
  };
}

export const IntegrationType = builder.objectRef<IntegrationView>('Integration').implement({
  description: 'A connection to one CRM account.',
  fields: (t) => ({
    id: t.exposeID('id'),
    provider: t.expose('provider', { type: CrmProviderEnum }),
    name: t.exposeString('name'),
    accountId: t.exposeString('accountId', {
      description: `${accountIdNames()}.`,
    }),
    apiBaseUrl: t.exposeString('apiBaseUrl'),
    autoSync: t.exposeBoolean('autoSync'),
    webhooksEnabled: t.exposeBoolean('webhooksEnabled'),
    connectionState: t.field({ type: ConnectionStateEnum, resolve: (i) => connectionStateView(i.connectionState) }),
    connectedVia: t.field({ type: ConnectedViaEnum, resolve: (i) => (i.connectedVia === 'oauth' ? 'OAUTH' : 'TOKEN') }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

builder.queryFields((t) => ({
  integrations: t.field({
    type: [IntegrationType],
    authScopes: { 'integrations:admin': true },
    description: "The organization's integrations, oldest first.",
    resolve: (_root, _args, ctx) =>
      ctx.services.prisma.integration.findMany({
        where: { organizationId: ctx.organizationId },
        select: INTEGRATION_PUBLIC_SELECT,
        orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      }),
  }),
  integration: t.field({
    type: IntegrationType,
    authScopes: { 'integrations:admin': true },
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => {
      const row = await ctx.services.prisma.integration.findFirst({
        where: { id: String(args.id), organizationId: ctx.organizationId },
        select: INTEGRATION_PUBLIC_SELECT,
      });
      if (!row) throw notFound('Integration');
      return row;
    },
  }),
}));

/**
 * The credential fields of createIntegration: every field some adapter's credentials
 * schema takes (CrmAdapter.credentials), required when every adapter requires it, described
 * with each adapter's note ("HubSpot: ..."). The engine checks them with the provider's schema.
 */
function credentialFields(): { name: string; required: boolean; description?: string }[] {
  const fields = new Map<string, { takenBy: number; required: boolean; notes: string[] }>();
  for (const adapter of ADAPTERS) {
    for (const [name, schema] of Object.entries(adapter.credentials.shape)) {
      const f = fields.get(name) ?? { takenBy: 0, required: true, notes: [] };
      f.takenBy++;
      f.required &&= !schema.safeParse(undefined).success;
      if (schema.description) f.notes.push(`${adapter.label}: ${schema.description}`);
      fields.set(name, f);
    }
  }
  return [...fields].map(([name, f]) => ({
    name,
    required: f.required && f.takenBy === ADAPTERS.length,
    ...(f.notes.length ? { description: f.notes.join(' ') } : {}),
  }));
}

const CreateIntegrationInput = builder.inputType('CreateIntegrationInput', {
  fields: (t) => ({
    provider: t.field({ type: CrmProviderEnum, required: true }),
    name: t.string({ required: true }),
    accountId: t.string({
      description:
        `${accountIdNames()}. Optional: the CRM is asked whose token this is ` +
        '(the integration gets that account); when given, it must be that account.',
    }),
    apiBaseUrl: t.string({
      description: `API base URL: ${apiBaseUrlNote()}.`,
    }),
    // Every CRM takes an access token (the contract's baseCredentials); the rest are the adapters'.
    accessToken: t.string({ required: true }),
    ...Object.fromEntries(credentialFields().filter((f) => f.name !== 'accessToken').map((f) => [f.name, t.string({ required: f.required, description: f.description })])),
    autoSync: t.boolean({ description: 'Push platform leads to this CRM (default true).' }),
  }),
});

builder.mutationFields((t) => ({
  createIntegration: t.field({
    type: IntegrationType,
    authScopes: { 'integrations:admin': true },
    args: { input: t.arg({ type: CreateIntegrationInput, required: true }) },
    resolve: async (_root, { input }, ctx) =>
      integrationView(await ctx.services.sync.createIntegration(ctx.organizationId, input)),
  }),
}));
