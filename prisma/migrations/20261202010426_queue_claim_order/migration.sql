-- DropIndex
DROP INDEX "InboxEvent_status_nextAttemptAt_idx";

-- DropIndex
DROP INDEX "OutboxItem_status_nextAttemptAt_idx";

-- CreateIndex
CREATE INDEX "InboxEvent_status_occurredAt_idx" ON "InboxEvent"("status", "occurredAt");

-- CreateIndex
CREATE INDEX "OutboxItem_status_createdAt_idx" ON "OutboxItem"("status", "createdAt");
