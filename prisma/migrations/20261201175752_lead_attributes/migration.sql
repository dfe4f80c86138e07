-- AlterTable
ALTER TABLE "Lead" ADD COLUMN     "attributes" JSONB NOT NULL DEFAULT '{}';
