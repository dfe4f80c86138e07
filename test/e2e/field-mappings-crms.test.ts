// The field-mapping acceptance list, per CRM against its sandbox (the scenarios are in
// flows/mapping-scenarios.ts, each CRM's seeded custom fields in flows/mapping-crms.ts).
import { describe } from 'vitest';
import { startHubSpotCrm, startSalesforceCrm, startZohoCrm } from './flows/mapping-crms.ts';
import { mappingScenarios } from './flows/mapping-scenarios.ts';

describe('field mappings: HubSpot', () => mappingScenarios(startHubSpotCrm));
describe('field mappings: Salesforce', () => mappingScenarios(startSalesforceCrm));
describe('field mappings: Zoho', () => mappingScenarios(startZohoCrm));
