// Prisma's own schema engine, compiled to WebAssembly (@prisma/schema-engine-wasm).
// The package's ESM entry imports a .wasm file, which Node 20 cannot import, so the
// module is instantiated here by hand from its JS glue and its .wasm file.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { bindMigrationAwareSqlAdapterFactory } from '@prisma/driver-adapter-utils';
import type { SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';

const require = createRequire(import.meta.url);

export interface SchemaEngine {
  diff(params: unknown): Promise<{ exitCode: number; stdout?: string }>;
  applyMigrations(input: unknown): Promise<{ appliedMigrationNames: string[] }>;
  free(): void;
}

type Glue = Record<string, unknown> & {
  __wbg_set_wasm(exports: WebAssembly.Exports): void;
  SchemaEngine: { new: (options: unknown, log: (msg: string) => void, adapter: object) => Promise<SchemaEngine> };
};

let gluePromise: Promise<Glue> | undefined;

async function loadGlue(): Promise<Glue> {
  const gluePath = require.resolve('@prisma/schema-engine-wasm/schema_engine_bg');
  const dir = path.dirname(gluePath);
  const glue = (await import(pathToFileURL(gluePath).href)) as Glue;
  const module = await WebAssembly.compile(await readFile(path.join(dir, 'schema_engine_bg.wasm')));
  const imports: Record<string, Record<string, unknown>> = {};
  for (const imp of WebAssembly.Module.imports(module)) {
    (imports[imp.module] ??= {})[imp.name] = glue[imp.name];
  }
  const instance = await WebAssembly.instantiate(module, imports as WebAssembly.Imports);
  glue.__wbg_set_wasm(instance.exports);
  (instance.exports.__wbindgen_start as () => void)();
  return glue;
}

export async function openSchemaEngine(
  schemaPath: string,
  schemaText: string,
  adapterFactory: SqlMigrationAwareDriverAdapterFactory | undefined,
  log: (message: string) => void = () => {},
): Promise<SchemaEngine> {
  gluePromise ??= loadGlue();
  const glue = await gluePromise;
  const adapter = adapterFactory ? bindMigrationAwareSqlAdapterFactory(adapterFactory) : {};
  return glue.SchemaEngine.new({ datamodels: [[schemaPath, schemaText]] }, log, adapter);
}
