// What the HubSpot sandbox's API routes share: HubSpot's error body, the request a route
// handler gets, and the input helpers (JSON objects, batch inputs, properties, ids).
import { randomUUID } from 'node:crypto';
import type { Params, Route } from '../kit/routes.ts';
import { StoreError, type ContactStore, type StoredContact } from './store.ts';

/** An answer in HubSpot's error format, thrown by a route and rendered by the server. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
    readonly headers: Record<string, string> = {},
  ) {
    super(String(body.message ?? status));
  }
}

/** HubSpot's error body: status "error", a message, a correlationId and a category. */
export function errorBody(message: string, category: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { status: 'error', message, correlationId: randomUUID(), category, ...extra };
}

export const validation = (message: string, extra: Record<string, unknown> = {}) => new HttpError(400, errorBody(message, 'VALIDATION_ERROR', extra));

export interface ApiRequest {
  method: string;
  path: string;
  params: Params;
  query: URLSearchParams;
  body: unknown;
}

export type Result = { status: number; body?: unknown };
export type Handler = (r: ApiRequest) => Result | Promise<Result>;
export type ApiRoute = Route<Handler>;

export const CONTACTS = '/crm/v3/objects/contacts';

export function asObject(body: unknown, what: string): Record<string, unknown> {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw validation(`Invalid input JSON: expected ${what}`);
  return body as Record<string, unknown>;
}

/** The `inputs` of a batch request (at most 100, HubSpot's batch limit). */
export function inputs(body: unknown): Record<string, unknown>[] {
  const b = asObject(body, 'an object with inputs');
  if (!Array.isArray(b.inputs)) throw validation('Invalid input JSON: "inputs" is required');
  if (b.inputs.length > 100) throw validation(`Too many inputs: ${b.inputs.length}; the limit is 100.`);
  return b.inputs.map((i) => asObject(i, 'input objects'));
}

export function propsOf(input: Record<string, unknown>): Record<string, unknown> {
  const p = input.properties;
  if (p === undefined) return {};
  return asObject(p, 'properties');
}

/** A comma-separated (or repeated) query parameter as a list, or null when absent. */
export function propsParam(q: URLSearchParams, name = 'properties'): string[] | null {
  const all = q.getAll(name).flatMap((p) => p.split(',')).map((s) => s.trim()).filter(Boolean);
  return all.length > 0 ? all : null;
}

/** Rethrows a store error as HubSpot's answer. */
export function storeError(e: unknown): never {
  if (e instanceof StoreError) {
    const extra: Record<string, unknown> = {};
    if (e.extra.errors) extra.errors = e.extra.errors;
    throw new HttpError(e.status, errorBody(e.message, e.category, extra));
  }
  throw e;
}

/** The contact an id names: its record id, or its email with `idProperty=email`. */
export function resolveId(store: ContactStore, id: string, idProperty: string | null): StoredContact | undefined {
  if (idProperty === 'email') return store.getByEmail(id);
  if (idProperty && idProperty !== 'hs_object_id') throw validation(`${idProperty} is not a unique property`);
  return store.get(id);
}
