// Prints the GraphQL schema from the code into schema.graphql (committed, so every API
// change shows up as a schema diff). `--check` only compares, exiting 1 when stale.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { printSchemaSDL } from '../src/graphql/schema.ts';

const target = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'schema.graphql');
const printed = printSchemaSDL();

if (process.argv.includes('--check')) {
  const committed = await readFile(target, 'utf8').catch(() => '');
  if (committed !== printed) {
    console.error('schema.graphql is stale: run `npm run schema:print` and commit the result.');
    process.exit(1);
  }
  console.log('schema.graphql is up to date.');
} else {
  await writeFile(target, printed);
  console.log(`wrote ${path.relative(process.cwd(), target)}`);
}
