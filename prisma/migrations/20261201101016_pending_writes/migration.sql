-- AlterTable
ALTER TABLE "CrmLink" ADD COLUMN     "pendingWrites" JSONB;
