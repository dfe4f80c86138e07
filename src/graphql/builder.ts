// The one Pothos builder. Plugins: scope-auth first (so it runs before resolvers other
// plugins wrap), then errors, prisma and relay. Types register themselves in their own
// files (src/graphql/types/*.ts); schema.ts imports them and builds the schema.
import SchemaBuilder from '@pothos/core';
import ErrorsPlugin from '@pothos/plugin-errors';
import PrismaPlugin from '@pothos/plugin-prisma';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import type { Scope } from '../auth.ts';
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
  AuthScopes: {
    authenticated: boolean;
    'leads:read': boolean;
    'leads:write': boolean;
    'integrations:admin': boolean;
  };
  Scalars: {
    // Output accepts strings too: rows that travelled through Redis carry ISO strings.
    DateTime: { Input: Date; Output: Date | string };
  };
  // Fields are non-null unless they say otherwise.
  DefaultFieldNullability: false;
  DefaultEdgesNullability: { list: false; items: false };
  DefaultNodeNullability: false;
}>({
  plugins: [ScopeAuthPlugin, ErrorsPlugin, PrismaPlugin, RelayPlugin],
  defaultFieldNullability: false,
  scopeAuth: {
    // Scopes are stored on every key and known here; fields start requiring them in a
    // later change. `authenticated` guards the root types today.
    authScopes: (ctx) => ({
      authenticated: Boolean(ctx.organizationId),
      'leads:read': ctx.scopes.includes('leads:read'),
      'leads:write': ctx.scopes.includes('leads:write'),
      'integrations:admin': ctx.scopes.includes('integrations:admin'),
    }),
    authorizeOnSubscribe: true,
    unauthorizedError: () => new AppError('FORBIDDEN', 'Not allowed.'),
  },
  errors: {
    // Failures are GraphQL errors with a stable extensions.code (see src/graphql/errors.ts);
    // no field declares typed error results yet.
    defaultTypes: [],
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
  },
});

builder.queryType({ authScopes: { authenticated: true } });
builder.mutationType({ authScopes: { authenticated: true } });
builder.subscriptionType({ authScopes: { authenticated: true } });
