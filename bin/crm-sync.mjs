#!/usr/bin/env node
// Launcher of the `crm-sync` CLI: registers tsx (TypeScript with explicit .ts imports)
// in this process, then runs src/cli/index.ts.
import { register } from 'tsx/esm/api';

register();
await import(new URL('../src/cli/index.ts', import.meta.url).href);
