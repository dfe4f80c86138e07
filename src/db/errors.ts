import { Prisma } from '../generated/prisma/client.ts';

/** SQLSTATE of a unique violation. */
const UNIQUE_VIOLATION = '23505';

/**
 * A unique constraint refused the write: someone else wrote that key first. Prisma says
 * P2002 for its own queries; a raw statement fails as P2010 carrying the driver's error,
 * whose kind is UniqueConstraintViolation (SQLSTATE 23505). A statement sent straight to
 * the driver (direct-sql.ts) fails with the driver's own error (PGlite's and node-postgres's
 * DatabaseError), which carries the SQLSTATE as `code`.
 */
export function isUniqueViolation(e: unknown): boolean {
  if (!(e instanceof Prisma.PrismaClientKnownRequestError)) return e instanceof Error && (e as { code?: unknown }).code === UNIQUE_VIOLATION;
  if (e.code === 'P2002') return true;
  if (e.code !== 'P2010') return false;
  const cause = (e.meta as { driverAdapterError?: { cause?: { kind?: unknown; originalCode?: unknown } } } | undefined)?.driverAdapterError?.cause;
  return cause?.kind === 'UniqueConstraintViolation' || cause?.originalCode === UNIQUE_VIOLATION;
}
