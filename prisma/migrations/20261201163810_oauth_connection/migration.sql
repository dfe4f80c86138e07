-- DropIndex
DROP INDEX "Integration_provider_accountId_key";

-- AlterTable
ALTER TABLE "Integration" ADD COLUMN     "connectedVia" TEXT NOT NULL DEFAULT 'token',
ADD COLUMN     "connectionChangedAt" TIMESTAMP(3),
ADD COLUMN     "connectionError" TEXT,
ADD COLUMN     "connectionState" TEXT NOT NULL DEFAULT 'connected',
ADD COLUMN     "refreshLeaseBy" TEXT,
ADD COLUMN     "refreshLeaseUntil" TIMESTAMP(3);

-- CreateTable
CREATE TABLE "OAuthState" (
    "id" TEXT NOT NULL,
    "organizationId" TEXT NOT NULL,
    "apiKeyId" TEXT,
    "provider" "CrmProvider" NOT NULL,
    "name" TEXT NOT NULL,
    "options" JSONB NOT NULL DEFAULT '{}',
    "codeVerifier" TEXT,
    "expiresAt" TIMESTAMP(3) NOT NULL,
    "usedAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "OAuthState_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "OAuthState_expiresAt_idx" ON "OAuthState"("expiresAt");

-- CreateIndex
CREATE INDEX "Integration_provider_accountId_idx" ON "Integration"("provider", "accountId");

-- AddForeignKey
ALTER TABLE "OAuthState" ADD CONSTRAINT "OAuthState_organizationId_fkey" FOREIGN KEY ("organizationId") REFERENCES "Organization"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- One live integration per CRM account (not expressible in the Prisma schema): a
-- disconnected integration keeps its account id for the history but frees the account.
CREATE UNIQUE INDEX "Integration_live_account_key" ON "Integration"("provider", "accountId") WHERE "connectionState" <> 'disconnected';
