// The GraphQL schema: every type file registers itself on the builder when imported.
import { lexicographicSortSchema, printSchema } from 'graphql';
import { builder } from './builder.ts';
import './types/scalars.ts';
import './types/lead.ts';
import './types/integration.ts';
import './types/connection.ts';
import './types/webhook.ts';
import './types/import-job.ts';
import './types/crm-field.ts';
import './types/field-mapping.ts';
import './types/request-budget.ts';
import './types/api-key.ts';
import './types/sync-event.ts';

export const schema = builder.toSchema({ sortSchema: true });

/** The schema as committed in schema.graphql. */
export function printSchemaSDL(): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
