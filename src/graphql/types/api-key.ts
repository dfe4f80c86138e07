// API keys of the caller's organization: list, create (the plaintext key is answered
// once), revoke. Needs the `keys:admin` scope; a key never grants scopes it lacks.
import { SCOPES, createApiKey, type Scope } from '../../auth.ts';
import { AppError, notFound, validationError } from '../../errors.ts';
import type { Prisma } from '../../generated/prisma/client.ts';
import { builder } from '../builder.ts';

/** The only columns the API reads from an API key: never its hash. */
const API_KEY_PUBLIC_SELECT = {
  id: true,
  name: true,
  prefix: true,
  scopes: true,
  createdAt: true,
  lastUsedAt: true,
  revokedAt: true,
} as const satisfies Prisma.ApiKeySelect;

type ApiKeyView = Prisma.ApiKeyGetPayload<{ select: typeof API_KEY_PUBLIC_SELECT }>;

/** Keys an organization may hold; listing answers at most this many. */
const MAX_KEYS_LISTED = 500;

const scopeValues = Object.fromEntries(
  SCOPES.map((scope) => [scope.replace(/[^a-z]+/gi, '_').toUpperCase(), { value: scope, description: `The ${scope} scope.` }]),
) as Record<string, { value: Scope; description: string }>;

export const ApiKeyScopeEnum = builder.enumType('ApiKeyScope', {
  description:
    'What an API key may do: LEADS_READ (leads, lead, node, lead subscriptions), LEADS_WRITE (createLead, updateLead), INTEGRATIONS_ADMIN (integrations, webhooks, imports), KEYS_ADMIN (API keys).',
  values: scopeValues,
});

export const ApiKeyType = builder.objectRef<ApiKeyView>('ApiKey').implement({
  description: 'An API key of the organization. The key itself is shown once, when created, and never again.',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    prefix: t.exposeString('prefix', { description: 'The first characters of the key: enough to recognise it, never to use it.' }),
    scopes: t.field({
      type: [ApiKeyScopeEnum],
      resolve: (k) => k.scopes.filter((s): s is Scope => (SCOPES as readonly string[]).includes(s)),
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    lastUsedAt: t.expose('lastUsedAt', { type: 'DateTime', nullable: true, description: 'Approximate (written at most once a minute).' }),
    revokedAt: t.expose('revokedAt', { type: 'DateTime', nullable: true }),
  }),
});

const CreatedApiKeyType = builder
  .objectRef<{ apiKey: ApiKeyView; key: string }>('CreatedApiKey')
  .implement({
    fields: (t) => ({
      apiKey: t.expose('apiKey', { type: ApiKeyType }),
      key: t.exposeString('key', { description: 'The plaintext key: store it now, it cannot be read again.' }),
    }),
  });

const CreateApiKeyInput = builder.inputType('CreateApiKeyInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    scopes: t.field({
      type: [ApiKeyScopeEnum],
      required: true,
      description: 'At least one; only scopes the calling key holds itself.',
    }),
  }),
});

builder.queryFields((t) => ({
  apiKeys: t.field({
    type: [ApiKeyType],
    authScopes: { 'keys:admin': true },
    description: "The organization's API keys (revoked ones too), oldest first.",
    resolve: (_root, _args, ctx) =>
      ctx.services.prisma.apiKey.findMany({
        where: { organizationId: ctx.organizationId },
        select: API_KEY_PUBLIC_SELECT,
        orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
        take: MAX_KEYS_LISTED,
      }),
  }),
}));

builder.mutationFields((t) => ({
  createApiKey: t.field({
    type: CreatedApiKeyType,
    authScopes: { 'keys:admin': true },
    description: 'Creates an API key of the organization; the answer holds the plaintext key, once.',
    args: { input: t.arg({ type: CreateApiKeyInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const name = input.name.trim();
      const problems = [];
      if (!name || name.length > 100) problems.push({ field: 'name', message: 'must be 1 to 100 characters' });
      if (!input.scopes.length) problems.push({ field: 'scopes', message: 'must name at least one scope' });
      if (problems.length) throw validationError(problems);
      const beyond = input.scopes.filter((s) => !ctx.scopes.includes(s));
      if (beyond.length) {
        throw new AppError('FORBIDDEN', `A key cannot grant scopes it does not hold: ${[...new Set(beyond)].join(', ')}.`);
      }
      const created = await createApiKey(ctx.services.prisma, ctx.organizationId, name, input.scopes);
      const apiKey = await ctx.services.prisma.apiKey.findUniqueOrThrow({ where: { id: created.id }, select: API_KEY_PUBLIC_SELECT });
      ctx.logger.info({ createdApiKeyId: created.id, scopes: created.scopes }, 'API key created');
      return { apiKey, key: created.key };
    },
  }),
  revokeApiKey: t.field({
    type: ApiKeyType,
    authScopes: { 'keys:admin': true },
    description: 'Revokes a key at once (it may be the calling key). Revoking a revoked key changes nothing.',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => {
      const id = String(args.id);
      const where = { id, organizationId: ctx.organizationId };
      await ctx.services.prisma.apiKey.updateMany({ where: { ...where, revokedAt: null }, data: { revokedAt: new Date() } });
      const row = await ctx.services.prisma.apiKey.findFirst({ where, select: API_KEY_PUBLIC_SELECT });
      if (!row) throw notFound('API key');
      ctx.logger.info({ revokedApiKeyId: id }, 'API key revoked');
      // Open subscriptions of the key end on every instance (src/http/revocations.ts).
      ctx.services.pubsub.publish('apikey.revoked', { apiKeyId: id });
      return row;
    },
  }),
}));
