// What the Zoho sandbox's API routes share: Zoho's error body and reply, the request a
// route handler gets, and the checks of a records request (module, `data`, triggers).
import type http from 'node:http';
import type { Params, Route } from '../kit/routes.ts';
import type { RecordResult } from './state.ts';

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface ApiRequest {
  method: string;
  params: Params;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: unknown;
}

export type Handler = (r: ApiRequest) => Reply;
export type ApiRoute = Route<Handler>;

/** Zoho's error body: `{ code, details, message, status: "error" }`. */
export function errorBody(code: string, message: string, details: Record<string, unknown> = {}) {
  return { code, details, message, status: 'error' };
}

export const fail = (status: number, code: string, message: string, details: Record<string, unknown> = {}): Reply => ({ status, body: errorBody(code, message, details) });

/** All succeeded: `allOk`; none: 400; some: 207 (Multi-Status). */
export function statusFor(results: RecordResult[], allOk: number): number {
  const okCount = results.filter((r) => r.status === 'success').length;
  if (okCount === results.length) return allOk;
  if (okCount === 0) return 400;
  return 207;
}

/** The settings APIs name their module in `?module=`; the sandbox has Leads only. */
export function requireLeads(query: URLSearchParams): Reply | null {
  const module = query.get('module');
  if (module !== 'Leads') {
    return module
      ? fail(400, 'INVALID_MODULE', 'the module name given seems to be invalid', { resource_path_index: 0 })
      : fail(400, 'REQUIRED_PARAM_MISSING', 'One of the expected parameter is missing', { param: 'module' });
  }
  return null;
}

/** The `data` array of a records request (1 to 100 objects), or the error reply. */
export function dataArray(body: unknown): Record<string, unknown>[] | Reply {
  if (!body || typeof body !== 'object' || !Array.isArray((body as { data?: unknown }).data)) {
    return fail(400, 'MANDATORY_NOT_FOUND', 'required field not found', { api_name: 'data', json_path: '$.data' });
  }
  const data = (body as { data: unknown[] }).data;
  if (data.length === 0) return fail(400, 'INVALID_DATA', 'invalid data', { api_name: 'data', json_path: '$.data' });
  if (data.length > 100) return fail(400, 'LIMIT_EXCEEDED', 'the number of records exceeds the limit', { limit: 100 });
  if (!data.every((d) => d && typeof d === 'object' && !Array.isArray(d))) return fail(400, 'INVALID_DATA', 'invalid data', { json_path: '$.data' });
  return data as Record<string, unknown>[];
}

/** Workflows run unless the request says `"trigger": []` (or a list without "workflow"). */
export function workflowsOn(body: unknown): boolean {
  const trigger = (body as { trigger?: unknown }).trigger;
  if (trigger === undefined) return true;
  return Array.isArray(trigger) && trigger.includes('workflow');
}
