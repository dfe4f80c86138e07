-- AlterEnum
ALTER TYPE "SyncEventStatus" ADD VALUE 'warning';

-- AlterTable
ALTER TABLE "Integration" ADD COLUMN     "fieldMappings" JSONB;

-- AlterTable
ALTER TABLE "CrmLink" ADD COLUMN     "remoteExtra" JSONB;

-- CreateTable
CREATE TABLE "FieldResyncJob" (
    "id" TEXT NOT NULL,
    "organizationId" TEXT NOT NULL,
    "integrationId" TEXT NOT NULL,
    "fields" TEXT[],
    "source" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'running',
    "processed" INTEGER NOT NULL DEFAULT 0,
    "changed" INTEGER NOT NULL DEFAULT 0,
    "total" INTEGER,
    "cursor" TEXT,
    "error" TEXT,
    "lockedBy" TEXT,
    "lockedUntil" TIMESTAMP(3),
    "startedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    "finishedAt" TIMESTAMP(3),

    CONSTRAINT "FieldResyncJob_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "FieldResyncJob_integrationId_idx" ON "FieldResyncJob"("integrationId");

-- AddForeignKey
ALTER TABLE "FieldResyncJob" ADD CONSTRAINT "FieldResyncJob_integrationId_fkey" FOREIGN KEY ("integrationId") REFERENCES "Integration"("id") ON DELETE CASCADE ON UPDATE CASCADE;
