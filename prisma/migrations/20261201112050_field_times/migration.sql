-- AlterTable
ALTER TABLE "Lead" ADD COLUMN     "fieldsChangedAt" JSONB;
