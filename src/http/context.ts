// What every HTTP handler can read from the Hono context.
import type { Principal } from '../auth.ts';
import type { Logger } from '../logger.ts';

export type HttpEnv = {
  Variables: {
    requestId: string;
    /** Child logger carrying the request id (and the organization once authenticated). */
    log: Logger;
    /** Set by requireApiKey on authenticated routes. */
    principal: Principal;
  };
};

/** Every request body is limited to this size, on every route. */
export const MAX_BODY_BYTES = 1024 * 1024;
