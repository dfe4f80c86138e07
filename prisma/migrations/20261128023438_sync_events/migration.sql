-- CreateEnum
CREATE TYPE "SyncEventDirection" AS ENUM ('inbound', 'outbound');

-- CreateEnum
CREATE TYPE "SyncEventStatus" AS ENUM ('succeeded', 'skipped', 'failed');

-- CreateTable
CREATE TABLE "SyncEvent" (
    "id" TEXT NOT NULL,
    "organizationId" TEXT NOT NULL,
    "integrationId" TEXT NOT NULL,
    "provider" "CrmProvider" NOT NULL,
    "leadId" TEXT,
    "direction" "SyncEventDirection" NOT NULL,
    "kind" TEXT NOT NULL,
    "status" "SyncEventStatus" NOT NULL,
    "reason" TEXT,
    "errorCode" TEXT,
    "error" TEXT,
    "externalId" TEXT,
    "via" TEXT NOT NULL,
    "inboxEventId" TEXT,
    "outboxItemId" TEXT,
    "retriedAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "SyncEvent_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "SyncEvent_organizationId_createdAt_idx" ON "SyncEvent"("organizationId", "createdAt");

-- CreateIndex
CREATE INDEX "SyncEvent_organizationId_status_createdAt_idx" ON "SyncEvent"("organizationId", "status", "createdAt");

-- CreateIndex
CREATE INDEX "SyncEvent_organizationId_integrationId_createdAt_idx" ON "SyncEvent"("organizationId", "integrationId", "createdAt");

-- CreateIndex
CREATE INDEX "SyncEvent_leadId_createdAt_idx" ON "SyncEvent"("leadId", "createdAt");
