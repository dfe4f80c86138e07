// The Zoho sandbox's Leads write routes: insert (POST), update (PUT), delete (DELETE ?ids=)
// up to 100 records, upsert with duplicate_check_fields, and update or delete one record.
// Each record answers for itself; the status is 201/200 when all succeed, 400 when none
// does and 207 otherwise.
import { dataArray, fail, statusFor, workflowsOn, type ApiRoute } from './api.ts';
import { API_USER, type LeadsState } from './state.ts';

const LEADS = '/crm/v7/Leads';

export function leadWriteRoutes(state: LeadsState): ApiRoute[] {
  return [
    {
      method: ['POST', 'PUT'],
      pattern: LEADS,
      handler: ({ method, body }) => {
        const data = dataArray(body);
        if (!Array.isArray(data)) return data;
        const workflows = workflowsOn(body);
        const results = method === 'POST' ? state.insert(data, API_USER, workflows) : state.update(data, API_USER, workflows);
        return { status: statusFor(results, method === 'POST' ? 201 : 200), body: { data: results } };
      },
    },
    {
      method: 'DELETE',
      pattern: LEADS,
      handler: ({ query }) => {
        const ids = (query.get('ids') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
        if (ids.length === 0) return fail(400, 'REQUIRED_PARAM_MISSING', 'One of the expected parameter is missing', { param: 'ids' });
        if (ids.length > 100) return fail(400, 'LIMIT_EXCEEDED', 'ids limit exceeded', { limit: 100 });
        const results = state.delete(ids, API_USER);
        return { status: statusFor(results, 200), body: { data: results } };
      },
    },
    {
      method: 'POST',
      pattern: `${LEADS}/upsert`,
      handler: ({ body }) => {
        const data = dataArray(body);
        if (!Array.isArray(data)) return data;
        const dcf = (body as { duplicate_check_fields?: unknown }).duplicate_check_fields;
        if (dcf !== undefined && (!Array.isArray(dcf) || !dcf.every((f) => typeof f === 'string'))) {
          return fail(400, 'INVALID_DATA', 'invalid data', { api_name: 'duplicate_check_fields' });
        }
        const results = state.upsert(data, (dcf as string[] | undefined) ?? [], API_USER, workflowsOn(body));
        const allInserts = results.every((r) => r.action === 'insert');
        return { status: statusFor(results, allInserts ? 201 : 200), body: { data: results } };
      },
    },
    {
      method: 'PUT',
      pattern: `${LEADS}/:id(\\d+)`,
      handler: ({ params, body }) => {
        const data = dataArray(body);
        if (!Array.isArray(data)) return data;
        const results = state.update(data.slice(0, 1), API_USER, workflowsOn(body), params.id!);
        return { status: statusFor(results, 200), body: { data: results } };
      },
    },
    {
      method: 'DELETE',
      pattern: `${LEADS}/:id(\\d+)`,
      handler: ({ params }) => {
        const results = state.delete([params.id!], API_USER);
        return { status: statusFor(results, 200), body: { data: results } };
      },
    },
  ];
}
