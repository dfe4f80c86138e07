import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // graphql 16 ships CommonJS and ESM builds; the server libraries load the CommonJS
    // one, so the tests must too, or two copies of graphql meet ("instanceof" fails).
    alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Two cores here: two test files at a time keeps PGlite start-up from starving.
    maxWorkers: 2,
  },
});
