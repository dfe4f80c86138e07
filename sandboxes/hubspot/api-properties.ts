// The HubSpot sandbox's contact properties API (CRM v3 properties: list, create, read,
// update) and the account information API.
import { HttpError, asObject, errorBody, validation, type ApiRoute } from './api.ts';
import type { ContactStore, PropertyDef } from './store.ts';

function propertyJson(p: PropertyDef): Record<string, unknown> {
  return {
    name: p.name,
    label: p.label,
    type: p.type,
    fieldType: p.fieldType,
    groupName: p.groupName,
    description: p.description,
    options: p.options,
    displayOrder: -1,
    calculated: p.calculated ?? false,
    externalOptions: false,
    hasUniqueValue: p.name === 'email',
    hidden: false,
    hubspotDefined: p.hubspotDefined,
    formField: !p.readOnlyValue,
    createdAt: new Date(p.createdAt).toISOString(),
    updatedAt: new Date(p.updatedAt).toISOString(),
    modificationMetadata: { archivable: !p.hubspotDefined, readOnlyDefinition: p.hubspotDefined, readOnlyValue: p.readOnlyValue },
  };
}

function parseOptions(raw: unknown): PropertyDef['options'] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) throw validation('options must be an array');
  return raw.map((o, i) => {
    const oo = asObject(o, 'option objects');
    if (typeof oo.value !== 'string' || typeof oo.label !== 'string') throw validation('each option needs a string label and value');
    return { label: oo.label, value: oo.value, displayOrder: typeof oo.displayOrder === 'number' ? oo.displayOrder : i, hidden: oo.hidden === true };
  });
}

// Contacts are object type 0-1: the properties API accepts either name.
const PROPERTIES = '/crm/v3/properties/:object(contacts|0-1)';

export function propertyRoutes(store: ContactStore): ApiRoute[] {
  const existing = (name: string): PropertyDef => {
    const def = store.properties.get(name);
    if (!def) throw new HttpError(404, errorBody(`Unable to find property ${name}`, 'OBJECT_NOT_FOUND'));
    return def;
  };
  return [
    { method: 'GET', pattern: PROPERTIES, handler: () => ({ status: 200, body: { results: [...store.properties.values()].map(propertyJson) } }) },
    {
      method: 'POST',
      pattern: PROPERTIES,
      handler: ({ body }) => {
        const b = asObject(body, 'a property');
        if (typeof b.name !== 'string' || !/^[a-z][a-z0-9_]*$/.test(b.name)) throw validation('name must be lower-case letters, digits and _');
        if (typeof b.label !== 'string' || typeof b.type !== 'string' || typeof b.fieldType !== 'string' || typeof b.groupName !== 'string') {
          throw validation('label, type, fieldType and groupName are required');
        }
        if (store.properties.has(b.name)) {
          throw new HttpError(409, errorBody(`Property named '${b.name}' already exists.`, 'OBJECT_ALREADY_EXISTS', { subCategory: 'PropertyValidationError.PROPERTY_EXISTS' }));
        }
        if (!['string', 'enumeration', 'datetime', 'date', 'number', 'bool', 'phone_number'].includes(b.type)) throw validation(`type ${b.type} is not supported`);
        const t = Date.now();
        const def: PropertyDef = {
          name: b.name,
          label: b.label,
          type: b.type as PropertyDef['type'],
          fieldType: b.fieldType,
          groupName: b.groupName,
          description: typeof b.description === 'string' ? b.description : '',
          options: parseOptions(b.options),
          readOnlyValue: b.fieldType === 'calculation_equation',
          hubspotDefined: false,
          calculated: b.fieldType === 'calculation_equation',
          createdAt: t,
          updatedAt: t,
        };
        store.properties.set(def.name, def);
        return { status: 201, body: propertyJson(def) };
      },
    },
    { method: 'GET', pattern: `${PROPERTIES}/:name`, handler: ({ params }) => ({ status: 200, body: propertyJson(existing(params.name!)) }) },
    {
      method: 'PATCH',
      pattern: `${PROPERTIES}/:name`,
      handler: ({ params, body }) => {
        const name = params.name!;
        const def = existing(name);
        if (def.hubspotDefined) throw validation(`${name} is a HubSpot-defined property and cannot be changed`);
        const b = asObject(body, 'a property update');
        if (b.options !== undefined) def.options = parseOptions(b.options); // PATCH replaces the whole option list
        if (typeof b.label === 'string') def.label = b.label;
        if (typeof b.description === 'string') def.description = b.description;
        def.updatedAt = Date.now();
        return { status: 200, body: propertyJson(def) };
      },
    },
  ];
}

/**
 * The account information API: "GET /account-info/v3/details" answers the account of the
 * token; portalId is "the unique identifier for the HubSpot account".
 */
export function accountRoutes(portalId: number): ApiRoute[] {
  return [
    {
      method: 'GET',
      pattern: '/account-info/v3/details',
      handler: () => ({
        status: 200,
        body: {
          portalId,
          accountType: 'STANDARD',
          timeZone: 'US/Eastern',
          companyCurrency: 'USD',
          additionalCurrencies: [],
          utcOffset: '-05:00',
          utcOffsetMilliseconds: -18_000_000,
          uiDomain: 'app.hubspot.com',
          dataHostingLocation: 'na1',
        },
      }),
    },
  ];
}
