// The Salesforce sandbox's sObject routes for Lead: the sObject list, describe, create,
// one row by Id (read, update, delete) and one row by an External ID field (read, upsert).
import { checkType, HttpError, json, notFound, rejectUnknown, restError, sfErrors, type ApiRoute, type Out } from './api.ts';
import { isIdShaped } from './ids.ts';
import { toJson, type Actor, type LeadStore, type StoredLead } from './store.ts';

function describe(store: LeadStore, version: string): Record<string, unknown> {
  return {
    name: 'Lead',
    label: 'Lead',
    labelPlural: 'Leads',
    keyPrefix: '00Q',
    custom: false,
    createable: true,
    updateable: true,
    deletable: true,
    queryable: true,
    fields: store.allFields().map((f) => ({
      name: f.name,
      label: f.label,
      type: f.type,
      length: f.length ?? 0,
      custom: Boolean(f.custom),
      nillable: !f.required && f.type !== 'boolean' && f.name !== 'Id',
      createable: f.createable,
      updateable: f.updateable,
      calculated: Boolean(f.calculated),
      defaultedOnCreate: Boolean(f.defaultValue) || !f.createable,
      externalId: Boolean(f.externalId),
      unique: Boolean(f.unique),
      caseSensitive: false,
      restrictedPicklist: Boolean(f.restrictedPicklist),
      picklistValues: (f.picklistValues ?? []).map((v) => ({ value: v, label: v, active: true, defaultValue: v === f.defaultValue })),
    })),
    urls: {
      sobject: `/services/data/v${version}/sobjects/Lead`,
      describe: `/services/data/v${version}/sobjects/Lead/describe`,
      rowTemplate: `/services/data/v${version}/sobjects/Lead/{ID}`,
    },
  };
}

export function sobjectRoutes(store: LeadStore): ApiRoute[] {
  const leadOr404 = (id: string): StoredLead => {
    const lead = isIdShaped(id) ? store.get(id) : undefined;
    if (lead) return lead;
    if (isIdShaped(id) && store.isDeleted(id)) throw sfErrors(404, 'ENTITY_IS_DELETED', 'entity is deleted');
    throw notFound();
  };

  const upsertOne = (field: string, value: string, body: Record<string, unknown>, actor: Actor, version: string): Out => {
    rejectUnknown(store, body);
    const r = store.upsert(field, value, body, actor);
    if (r.ok === 'multiple') return { status: 300, body: r.ids.map((id) => `/services/data/v${version}/sobjects/Lead/${id}`) };
    if (!r.ok) throw new HttpError(400, r.errors.map(restError));
    if (r.created) return { status: 201, body: { id: r.id, success: true, errors: [], created: true } };
    // API 46.0+ answers an update through upsert with 200 and a body; older versions 204.
    return Number(version) >= 46 ? { status: 200, body: { id: r.id, success: true, errors: [], created: false } } : { status: 204 };
  };

  /** The External ID field a path names (or Id), else Salesforce's 404. */
  const externalIdField = (name: string) => {
    const f = store.field(name);
    if (!f || !(f.externalId || f.name === 'Id')) throw sfErrors(404, 'NOT_FOUND', `Provided external ID field does not exist or is not accessible: ${name}`);
    return f;
  };

  return [
    { method: 'GET', pattern: '/sobjects', handler: () => ({ status: 200, body: { sobjects: [{ name: 'Lead', keyPrefix: '00Q', queryable: true, createable: true }] } }) },
    {
      method: 'POST',
      pattern: '/sobjects/:type',
      handler: ({ params, rawBody, actor }) => {
        checkType(params.type);
        const rec = json(rawBody) as Record<string, unknown>;
        rejectUnknown(store, rec);
        const r = store.create(rec, actor);
        if (!r.ok) throw new HttpError(400, r.errors.map(restError));
        return { status: 201, body: { id: r.id, success: true, errors: [] } };
      },
    },
    {
      method: 'GET',
      pattern: '/sobjects/:type/describe',
      handler: ({ params, version }) => {
        checkType(params.type);
        return { status: 200, body: describe(store, version) };
      },
    },
    {
      method: 'GET',
      pattern: '/sobjects/:type/:id',
      handler: ({ params, url, version }) => {
        checkType(params.type);
        const lead = leadOr404(params.id!);
        const fields = url.searchParams.get('fields')?.split(',').map((f) => store.resolve(f.trim()) ?? f.trim());
        for (const f of fields ?? []) if (!store.field(f)) throw sfErrors(400, 'INVALID_FIELD', `No such column '${f}' on sobject of type Lead`);
        return { status: 200, body: toJson(lead.values, version, fields ? ['Id', ...fields.filter((f) => f !== 'Id')] : undefined) };
      },
    },
    {
      method: 'PATCH',
      pattern: '/sobjects/:type/:id',
      handler: ({ params, rawBody, actor }) => {
        checkType(params.type);
        leadOr404(params.id!);
        const body = json(rawBody) as Record<string, unknown>;
        rejectUnknown(store, body);
        const r = store.update(params.id!, body, actor);
        if (!r.ok) throw new HttpError(400, r.errors.map(restError));
        return { status: 204 };
      },
    },
    {
      method: 'DELETE',
      pattern: '/sobjects/:type/:id',
      handler: ({ params, actor }) => {
        checkType(params.type);
        leadOr404(params.id!);
        const r = store.delete(params.id!, actor);
        if (!r.ok) throw new HttpError(400, r.errors.map(restError));
        return { status: 204 };
      },
    },
    {
      method: 'GET',
      pattern: '/sobjects/:type/:field/:value',
      handler: ({ params, version }) => {
        checkType(params.type);
        const f = externalIdField(params.field!);
        const matches = store.findByField(f.name, params.value!);
        if (matches.length === 0) throw notFound();
        if (matches.length > 1) return { status: 300, body: matches.map((x) => `/services/data/v${version}/sobjects/Lead/${String(x.values.Id)}`) };
        return { status: 200, body: toJson(matches[0]!.values, version) };
      },
    },
    {
      method: 'PATCH',
      pattern: '/sobjects/:type/:field/:value',
      handler: ({ params, rawBody, actor, version }) => {
        checkType(params.type);
        const f = externalIdField(params.field!);
        return upsertOne(f.name, params.value!, json(rawBody) as Record<string, unknown>, actor, version);
      },
    },
  ];
}
