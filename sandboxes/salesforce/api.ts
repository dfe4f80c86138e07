// What the Salesforce sandbox's REST routes share: Salesforce's error arrays, the request
// a route handler gets (paths relative to /services/data/vXX.X) and input checks.
import type http from 'node:http';
import type { Params, Route } from '../kit/routes.ts';
import type { Actor, LeadStore, SfError } from './store.ts';

/** An answer in Salesforce's error format, thrown by a route and rendered by the server. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(`HTTP ${status}`);
  }
}

/** Salesforce's REST error answer: an array of `{ message, errorCode, fields? }`. */
export function sfErrors(status: number, errorCode: string, message: string, fields?: string[]): HttpError {
  return new HttpError(status, [{ message, errorCode, ...(fields ? { fields } : {}) }]);
}

export const notFound = (): HttpError => sfErrors(404, 'NOT_FOUND', 'The requested resource does not exist');

/** A REST error array entry (errorCode) from a store error. */
export function restError(e: SfError): Record<string, unknown> {
  return e.duplicateResult
    ? { duplicateResult: e.duplicateResult, errorCode: e.errorCode, message: e.message, fields: e.fields }
    : { message: e.message, errorCode: e.errorCode, fields: e.fields };
}

export type Out = { status: number; body?: unknown; headers?: Record<string, string> };

export interface ApiRequest {
  method: string;
  params: Params;
  url: URL;
  /** The request body as sent (read for POST, PATCH and PUT). */
  rawBody: string;
  /** The API version of the path (e.g. "62.0"). */
  version: string;
  /** Who writes: the integration user, with the `client` of its Sforce-Call-Options. */
  actor: Actor;
  req: http.IncomingMessage;
}

export type Handler = (r: ApiRequest) => Out;
export type ApiRoute = Route<Handler>;

export function json(body: string): unknown {
  if (body.trim() === '') return {};
  try {
    return JSON.parse(body);
  } catch (e) {
    throw sfErrors(400, 'JSON_PARSER_ERROR', `Unexpected character: ${(e as Error).message}`);
  }
}

/** The sandbox org has one sObject: Lead. */
export function checkType(type: unknown): void {
  if (type !== 'Lead') throw sfErrors(400, 'INVALID_TYPE', `sObject type '${String(type)}' is not supported.`);
}

export function rejectUnknown(store: LeadStore, body: Record<string, unknown>): void {
  const unknown = store.unknownFields(body);
  if (unknown.length > 0) throw sfErrors(400, 'INVALID_FIELD', `No such column '${unknown[0]}' on sobject of type Lead`);
}
