// Typed application errors with stable codes. Clients see `code` and `message` of an
// AppError; anything else is masked as INTERNAL and logged with context.

export type AppErrorCode =
  | 'BAD_REQUEST'
  | 'VALIDATION'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'PAYLOAD_TOO_LARGE'
  | 'RATE_LIMITED'
  | 'UNSUPPORTED'
  | 'CRM_ERROR'
  /** The CRM did not confirm that the credentials belong to the account (or the account cannot be connected here). */
  | 'ACCOUNT_NOT_VERIFIED'
  /** A feature this deployment has not been configured for (an OAuth app without client id/secret). */
  | 'NOT_CONFIGURED'
  | 'INTERNAL';

const HTTP_STATUS: Record<AppErrorCode, number> = {
  BAD_REQUEST: 400,
  VALIDATION: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  UNSUPPORTED: 422,
  CRM_ERROR: 502,
  ACCOUNT_NOT_VERIFIED: 422,
  NOT_CONFIGURED: 422,
  INTERNAL: 500,
};

export interface FieldProblem {
  field: string;
  message: string;
  /** A stable code of the problem's kind, where the field has several (lead attributes). */
  code?: string;
}

export class AppError extends Error {
  readonly code: AppErrorCode;
  readonly fields: FieldProblem[];
  readonly details?: Record<string, unknown>;

  constructor(code: AppErrorCode, message: string, opts: { fields?: FieldProblem[]; details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'AppError';
    this.code = code;
    this.fields = opts.fields ?? [];
    this.details = opts.details;
  }

  get httpStatus(): number {
    return HTTP_STATUS[this.code];
  }

  toJSON() {
    return { code: this.code, message: this.message, ...(this.fields.length ? { fields: this.fields } : {}), ...(this.details ?? {}) };
  }
}

export const isAppError = (e: unknown): e is AppError => e instanceof AppError;

export function validationError(fields: FieldProblem[]): AppError {
  return new AppError('VALIDATION', `Invalid input: ${fields.map((f) => `${f.field} ${f.message}`).join('; ')}`, { fields });
}

/** Not found, and also the answer for another organization's record: existence is never revealed. */
export function notFound(what: string): AppError {
  return new AppError('NOT_FOUND', `${what} not found`);
}
