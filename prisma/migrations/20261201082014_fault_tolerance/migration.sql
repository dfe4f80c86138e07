-- AlterTable
ALTER TABLE "Integration" ADD COLUMN     "breakerFailures" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "breakerLastError" TEXT,
ADD COLUMN     "breakerOpenedAt" TIMESTAMP(3),
ADD COLUMN     "breakerState" TEXT NOT NULL DEFAULT 'closed',
ADD COLUMN     "breakerUntil" TIMESTAMP(3);

-- AlterTable
ALTER TABLE "InboxEvent" ADD COLUMN     "firstFailedAt" TIMESTAMP(3);

-- AlterTable
ALTER TABLE "OutboxItem" ADD COLUMN     "firstFailedAt" TIMESTAMP(3);
