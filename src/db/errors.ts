import { Prisma } from '../generated/prisma/client.ts';

/** A unique constraint refused the write (Prisma P2002): someone else wrote that key first. */
export function isUniqueViolation(e: unknown): boolean {
  return e instanceof Prisma.PrismaClientKnownRequestError && e.code === 'P2002';
}
