#!/usr/bin/env node
// `npm run build`: compiles the service to build/ (tsconfig.build.json), so that it runs
// on plain Node without a TypeScript loader (the loader's own thread holds some 60 MB
// resident in every process that uses it). Then puts beside the compiled files what they
// read at run time by paths relative to their own: the dashboard's static files
// (src/dashboard) and the Prisma folder (schema and migrations, linked, not copied).
// Incremental: a build with nothing changed takes a moment.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const out = path.join(root, 'build');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const compiled = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
if (compiled.status !== 0) {
  process.stderr.write('build: the TypeScript compiler reported errors (above); nothing to start\n');
  process.exit(compiled.status ?? 1);
}

const dashboard = path.join(root, 'src', 'dashboard');
mkdirSync(path.join(out, 'src', 'dashboard'), { recursive: true });
for (const file of readdirSync(dashboard)) {
  if (!file.endsWith('.ts')) copyFileSync(path.join(dashboard, file), path.join(out, 'src', 'dashboard', file));
}
if (!existsSync(path.join(out, 'prisma'))) symlinkSync('../prisma', path.join(out, 'prisma'));
