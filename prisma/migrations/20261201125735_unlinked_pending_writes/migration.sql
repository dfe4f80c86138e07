-- AlterTable
ALTER TABLE "OutboxItem" ADD COLUMN     "pendingWrites" JSONB;
