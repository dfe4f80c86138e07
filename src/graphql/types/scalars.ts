// Scalars and enums shared by several types.
import { GraphQLError, Kind, type ValueNode } from 'graphql';
import { CrmProvider, SyncDirection } from '../../generated/prisma/enums.ts';
import { builder } from '../builder.ts';

const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;

function parseDateTime(value: unknown): Date {
  if (typeof value === 'string' && ISO_DATE_TIME.test(value)) {
    const date = new Date(value);
    if (!Number.isNaN(date.getTime())) return date;
  }
  throw new GraphQLError('DateTime must be an ISO-8601 date-time string, e.g. 2026-01-31T12:00:00Z.', {
    extensions: { code: 'VALIDATION' },
  });
}

builder.scalarType('DateTime', {
  description: 'An ISO-8601 date-time in UTC, e.g. 2026-01-31T12:00:00.000Z.',
  serialize: (value) => {
    // Rows published through Redis arrive with their dates as ISO strings.
    const date = value instanceof Date ? value : new Date(value);
    if (Number.isNaN(date.getTime())) throw new Error(`DateTime cannot represent ${String(value)}`);
    return date.toISOString();
  },
  parseValue: parseDateTime,
  parseLiteral: (ast) => parseDateTime(ast.kind === Kind.STRING ? ast.value : undefined),
});

/** A literal as the JSON value it spells (variables inside it are resolved). */
function jsonLiteral(ast: ValueNode, variables: Record<string, unknown> | null | undefined): unknown {
  switch (ast.kind) {
    case Kind.STRING:
    case Kind.BOOLEAN:
      return ast.value;
    case Kind.INT:
    case Kind.FLOAT:
      return Number(ast.value);
    case Kind.NULL:
      return null;
    case Kind.LIST:
      return ast.values.map((v) => jsonLiteral(v, variables));
    case Kind.OBJECT:
      return Object.fromEntries(ast.fields.map((f) => [f.name.value, jsonLiteral(f.value, variables)]));
    case Kind.VARIABLE:
      return variables?.[ast.name.value] ?? null;
    default:
      throw new GraphQLError('JSON cannot represent an enum value.', { extensions: { code: 'VALIDATION' } });
  }
}

builder.scalarType('JSON', {
  description: 'A JSON value. Lead attributes: an object of texts, numbers, booleans, dates (YYYY-MM-DD) and lists of texts.',
  serialize: (value) => value,
  parseValue: (value) => value,
  parseLiteral: (ast, variables) => jsonLiteral(ast, variables),
});

export const CrmProviderEnum = builder.enumType(CrmProvider, {
  name: 'CrmProvider',
  description: 'A CRM the service syncs with.',
});

export const SyncDirectionEnum = builder.enumType('SyncDirection', {
  description: 'Which way the last sync of a lead went.',
  values: {
    TO_CRM: { value: SyncDirection.to_crm, description: 'The platform wrote the lead to a CRM.' },
    FROM_CRM: { value: SyncDirection.from_crm, description: 'A CRM change was applied to the lead.' },
  } as const,
});

export const ConnectionStateEnum = builder.enumType('ConnectionState', {
  description: "An integration's connection to its CRM.",
  values: {
    CONNECTED: { description: 'Calls to the CRM go.' },
    NEEDS_RECONNECT: {
      description:
        'The CRM refused the grant (consent revoked, user deactivated, token expired): pushes and applies wait, none lost, until the customer connects the same account again (connectCrm).',
    },
    DISCONNECTED: { description: 'Disconnected (disconnectCrm): credentials deleted, webhooks refused; leads and history kept.' },
  } as const,
});

export const ConnectedViaEnum = builder.enumType('ConnectedVia', {
  description: 'How an integration was connected.',
  values: {
    OAUTH: { description: "The CRM's consent screen (connectCrm)." },
    TOKEN: { description: 'Pasted credentials (createIntegration).' },
  } as const,
});
