-- AlterTable
ALTER TABLE "Integration" ADD COLUMN     "channelId" TEXT,
ADD COLUMN     "webhookSecrets" TEXT;

-- CreateIndex
CREATE UNIQUE INDEX "Integration_channelId_key" ON "Integration"("channelId");

-- Backfill: Zoho channel ids move from settings to their own column (notifications are
-- routed by it from now on). A channel id held by more than one row is left out: such
-- rows get a new channel when their webhooks are enabled or renewed.
UPDATE "Integration" AS i
SET "channelId" = i."settings"->>'channelId'
WHERE i."provider" = 'ZOHO'
  AND i."settings" ? 'channelId'
  AND (i."settings"->>'channelId') ~ '^[0-9]{1,19}$'
  AND (SELECT count(*) FROM "Integration" AS o WHERE o."settings"->>'channelId' = i."settings"->>'channelId') = 1;
