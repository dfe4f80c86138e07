// The one Pothos builder. Plugins: scope-auth first (so it runs before resolvers other
// plugins wrap), then prisma and relay (failures are GraphQL errors with a stable
// extensions.code: src/graphql/errors.ts). Types register themselves in their own
// files (src/graphql/types/*.ts); schema.ts imports them and builds the schema.
import SchemaBuilder from '@pothos/core';
import PrismaPlugin from '@pothos/plugin-prisma';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import { SCOPES, type Scope } from '../auth.ts';
import type { SyncService } from '../engine/types.ts';
import { AppError } from '../errors.ts';
import type { PrismaClient } from '../generated/prisma/client.ts';
import PrismaTypes, { getDatamodel } from '../generated/pothos-types.ts';
import type { Logger } from '../logger.ts';
import type { PubSub } from '../pubsub.ts';

export interface GraphQLServices {
  sync: SyncService;
  prisma: PrismaClient;
  pubsub: PubSub;
}

/** Built once per operation, only for an authenticated caller. */
export interface GraphQLContext {
  organizationId: string;
  apiKeyId: string;
  scopes: Scope[];
  services: GraphQLServices;
  /** Child logger carrying requestId and organizationId. */
  logger: Logger;
  requestId: string;
}

export const builder = new SchemaBuilder<{
  Context: GraphQLContext;
  PrismaTypes: PrismaTypes;
  // `authenticated` plus one entry per API key scope: fields say
  // `authScopes: { 'leads:read': true }`.
  AuthScopes: { authenticated: boolean } & Record<Scope, boolean>;
  Scalars: {
    // Output accepts strings too: rows that travelled through Redis carry ISO strings.
    DateTime: { Input: Date; Output: Date | string };
    // Lead attributes: checked by the engine (src/engine/attributes.ts), not by the scalar.
    JSON: { Input: unknown; Output: unknown };
  };
  // Fields are non-null unless they say otherwise.
  DefaultFieldNullability: false;
  DefaultEdgesNullability: { list: false; items: false };
  DefaultNodeNullability: false;
}>({
  plugins: [ScopeAuthPlugin, PrismaPlugin, RelayPlugin],
  defaultFieldNullability: false,
  scopeAuth: {
    // Every root field names the scope it needs (see README "Scopes"); the security
    // suite fails for a root field a key without scopes can use.
    authScopes: (ctx) => {
      const granted = { authenticated: Boolean(ctx.organizationId) } as { authenticated: boolean } & Record<Scope, boolean>;
      for (const scope of SCOPES) granted[scope] = ctx.scopes.includes(scope);
      return granted;
    },
    // Subscriptions are authorised once, when subscribing.
    authorizeOnSubscribe: true,
    unauthorizedError: (_parent, _context, info) =>
      new AppError('FORBIDDEN', `This API key is not allowed to use ${info.parentType.name}.${info.fieldName}: it lacks the scope it needs.`),
  },
  prisma: {
    // The client comes from the request context: the schema is static, the database is not.
    client: (ctx) => ctx.services.prisma,
    dmmf: getDatamodel(),
    exposeDescriptions: false,
    filterConnectionTotalCount: true,
    onUnusedQuery: null,
    maxConnectionSize: 100,
    defaultConnectionSize: 20,
  },
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
    edgesFieldOptions: { nullable: { list: false, items: false } },
    nodeFieldOptions: { nullable: false },
    // Only leads are nodes a key reads through node/nodes today; more node types must
    // keep to read scopes a leads:read key may have.
    nodeQueryOptions: { authScopes: { 'leads:read': true } },
    nodesQueryOptions: { authScopes: { 'leads:read': true } },
  },
});

builder.queryType({ authScopes: { authenticated: true } });
builder.mutationType({ authScopes: { authenticated: true } });
builder.subscriptionType({ authScopes: { authenticated: true } });
