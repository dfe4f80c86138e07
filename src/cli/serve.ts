// `crm-sync serve`: the service itself, exactly what `npm start` runs (src/main.ts).
import type { Command } from './common.ts';

export const serveCommand: Command = {
  path: ['serve'],
  summary: 'run the service (GraphQL, REST, workers), like npm start',
  usage: `Usage: crm-sync serve [--data-dir DIR] [--database-url URL]

Runs the service: migrates the database, starts the sync workers and the HTTP server
(PORT, HOST and every other setting from the environment). Stops on SIGTERM/SIGINT.`,
  options: {},
  async run(ctx) {
    // The service logs at its configured level (LOG_LEVEL, default info), not the CLI's.
    const { serve } = await import('../main.ts');
    await serve(ctx.config({ LOG_LEVEL: process.env.LOG_LEVEL || 'info' }));
    // Keep running: serve() installed the signal handlers that end the process.
    return new Promise<never>(() => {});
  },
};
