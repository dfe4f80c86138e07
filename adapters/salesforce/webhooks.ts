// Salesforce Outbound Messages: a SOAP `notifications` call (namespace
// http://soap.sforce.com/2005/09/outbound) carrying up to 100 Notification elements,
// each with its own Id (stable across redeliveries) and the sObject's configured fields.
// There is no signature, and the OrganizationId is no secret (it shows in every message and
// in many URLs): a message is authentic when it arrives at the integration's endpoint URL,
// whose last path segment is a per-integration secret (>= 128 random bits) compared in
// constant time, AND names the integration's organization. Even then its field values are
// never applied: the engine reads each Lead back through the API (a notification only says
// "this Lead changed"). Salesforce retries until it receives a `notificationsResponse`
// with <Ack>true</Ack>.
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import {
  CrmError,
  type ChangeEvent,
  type CrmRecord,
  type ParsedWebhook,
  type WebhookCodec,
  type WebhookRequest,
} from '../contract.ts';
import { safeEqual } from '../kit/compare.ts';
import { carriesWholeLead, crmRecordFromSalesforce, DEFAULT_ORIGIN_FIELD, parseSalesforceDate } from './mappers.ts';

/** What verifies an outbound message (built by the adapter's webhookSecrets from what the service holds for the integration). */
export interface SalesforceWebhookSecrets {
  /** The organization the integration is connected to: the message must name it. */
  accountId: string | null;
  /** The endpoint secrets accepted now: the current one, and the previous one during its grace period. */
  endpointSecrets: string[];
}

export const OUTBOUND_NS = 'http://soap.sforce.com/2005/09/outbound';
const SOAP_ENV_NS = 'http://schemas.xmlsoap.org/soap/envelope/';
/** Salesforce caps one message at 100 notifications; refuse anything wildly larger. */
const MAX_NOTIFICATIONS = 100;

export const ACK_BODY =
  '<?xml version="1.0" encoding="UTF-8"?>\n' +
  `<soapenv:Envelope xmlns:soapenv="${SOAP_ENV_NS}">` +
  '<soapenv:Body>' +
  `<notificationsResponse xmlns="${OUTBOUND_NS}"><Ack>true</Ack></notificationsResponse>` +
  '</soapenv:Body>' +
  '</soapenv:Envelope>';

type XmlNode = Record<string, unknown>;

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  processEntities: true,
  htmlEntities: false,
  isArray: (name) => localName(name) === 'Notification',
});

function invalid(message: string, cause?: unknown): CrmError {
  return new CrmError('VALIDATION', `Salesforce outbound message: ${message}`, { provider: 'SALESFORCE', cause });
}

function localName(qname: string): string {
  const i = qname.indexOf(':');
  return i === -1 ? qname : qname.slice(i + 1);
}

function prefixOf(qname: string): string | null {
  const i = qname.indexOf(':');
  return i === -1 ? null : qname.slice(0, i);
}

function isNode(v: unknown): v is XmlNode {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Namespace declarations in scope: prefix ('' = default) -> URI. */
type Scope = Map<string, string>;

function enterScope(parent: Scope, node: XmlNode): Scope {
  let scope = parent;
  for (const [k, v] of Object.entries(node)) {
    if (k === '@xmlns' || k.startsWith('@xmlns:')) {
      if (scope === parent) scope = new Map(parent);
      scope.set(k === '@xmlns' ? '' : k.slice('@xmlns:'.length), String(v));
    }
  }
  return scope;
}

/** The single child element with this local name and namespace. */
function child(node: XmlNode, scope: Scope, name: string, ns: string): { node: unknown; scope: Scope } | null {
  for (const [k, v] of Object.entries(node)) {
    if (k.startsWith('@') || k.startsWith('#') || localName(k) !== name) continue;
    const childScope = isNode(v) ? enterScope(scope, v) : scope;
    const uri = childScope.get(prefixOf(k) ?? '') ?? '';
    if (uri === ns) return { node: v, scope: childScope };
  }
  return null;
}

/** Text content of a leaf element; null for xsi:nil or empty elements. */
function text(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string') return v === '' ? null : v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (isNode(v)) {
    for (const [k, val] of Object.entries(v)) if (localName(k) === 'nil' && String(val) === 'true') return null;
    const t = v['#text'];
    return t === undefined ? null : text(t);
  }
  return null;
}

interface ParsedEnvelope {
  organizationId: string;
  actionId: string | null;
  notifications: { id: string; type: string; sObject: Record<string, string | null> }[];
}

function decodeBody(rawBody: Buffer): string {
  const body = rawBody.toString('utf8');
  if (body.trim() === '') throw invalid('empty body');
  // Salesforce never sends a DTD; refusing one rules out entity-expansion tricks.
  if (/<!DOCTYPE/i.test(body)) throw invalid('DOCTYPE is not allowed');
  return body;
}

function parseEnvelope(rawBody: Buffer): ParsedEnvelope {
  const body = decodeBody(rawBody);
  const valid = XMLValidator.validate(body);
  if (valid !== true) throw invalid(`malformed XML: ${valid.err.msg} (line ${valid.err.line})`);
  let doc: XmlNode;
  try {
    doc = parser.parse(body) as XmlNode;
  } catch (e) {
    throw invalid('malformed XML', e);
  }
  const root = new Map<string, string>();
  const env = child(doc, root, 'Envelope', SOAP_ENV_NS);
  if (!env || !isNode(env.node)) throw invalid('not a SOAP envelope');
  const bodyEl = child(env.node, env.scope, 'Body', SOAP_ENV_NS);
  if (!bodyEl || !isNode(bodyEl.node)) throw invalid('SOAP envelope without Body');
  const notif = child(bodyEl.node, bodyEl.scope, 'notifications', OUTBOUND_NS);
  if (!notif || !isNode(notif.node)) throw invalid(`no notifications element in namespace ${OUTBOUND_NS}`);
  const n = notif.node;
  const ns = notif.scope;

  const orgEl = child(n, ns, 'OrganizationId', OUTBOUND_NS);
  const organizationId = orgEl ? text(orgEl.node) : null;
  if (!organizationId) throw invalid('OrganizationId missing');
  const actionEl = child(n, ns, 'ActionId', OUTBOUND_NS);

  const list = child(n, ns, 'Notification', OUTBOUND_NS);
  const items = list && Array.isArray(list.node) ? (list.node as unknown[]) : [];
  if (items.length === 0) throw invalid('no Notification elements');
  if (items.length > MAX_NOTIFICATIONS) throw invalid(`${items.length} notifications in one message (max ${MAX_NOTIFICATIONS})`);

  const notifications = items.map((item, i) => {
    if (!isNode(item)) throw invalid(`Notification #${i + 1} is empty`);
    const itemScope = enterScope(list!.scope, item);
    const idEl = child(item, itemScope, 'Id', OUTBOUND_NS);
    const id = idEl ? text(idEl.node) : null;
    if (!id) throw invalid(`Notification #${i + 1} without Id`);
    const so = child(item, itemScope, 'sObject', OUTBOUND_NS);
    if (!so || !isNode(so.node)) throw invalid(`Notification ${id} without sObject`);
    let type = '';
    const sObject: Record<string, string | null> = {};
    for (const [k, v] of Object.entries(so.node)) {
      if (k.startsWith('@')) {
        if (localName(k.slice(1)) === 'type') type = localName(String(v));
        continue;
      }
      if (k.startsWith('#')) continue;
      if (Array.isArray(v)) throw invalid(`Notification ${id}: field ${localName(k)} repeated`);
      sObject[localName(k)] = text(v);
    }
    if (!sObject.Id) throw invalid(`Notification ${id}: sObject without Id`);
    return { id, type, sObject };
  });

  return { organizationId, actionId: actionEl ? text(actionEl.node) : null, notifications };
}

function toEvent(
  org: string,
  n: ParsedEnvelope['notifications'][number],
  now: Date,
): ChangeEvent {
  const so = n.sObject;
  const created = parseSalesforceDate(so.CreatedDate);
  const modified = parseSalesforceDate(so.LastModifiedDate);
  // Outbound messages do not say create vs update; a Lead whose modification time is its
  // creation time has not been edited since it was created.
  const kind = created && modified && created.getTime() === modified.getTime() ? 'created' : 'updated';
  return {
    dedupeKey: n.id,
    accountId: org,
    kind,
    externalId: so.Id as string,
    occurredAt: modified ?? parseSalesforceDate(so.SystemModstamp) ?? now,
    property: null,
    changeSource: 'OUTBOUND_MESSAGE',
  };
}

/**
 * The Leads as a message carries them, by notification id (null when the message does not
 * carry the whole Lead). For inspecting what a sender sent: the engine never applies these
 * values, it reads each Lead back from the API.
 */
export function outboundMessageRecords(rawBody: Buffer): { notificationId: string; record: CrmRecord | null }[] {
  return parseEnvelope(rawBody).notifications.map((n) => ({
    notificationId: n.id,
    record: carriesWholeLead(n.sObject) ? crmRecordFromSalesforce(n.sObject, DEFAULT_ORIGIN_FIELD) : null,
  }));
}

/** Compares two org ids on their case-sensitive 15-character prefix in constant time. */
export function sameOrganization(a: string, b: string): boolean {
  const ok = /^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$/;
  const ax = Buffer.from(a.trim().slice(0, 15).padEnd(15, '\0'));
  const bx = Buffer.from(b.trim().slice(0, 15).padEnd(15, '\0'));
  const equal = safeEqual(ax, bx);
  return equal && ok.test(a.trim()) && ok.test(b.trim());
}

export const salesforceCodec: WebhookCodec<SalesforceWebhookSecrets> = {
  provider: 'SALESFORCE',

  parse(req: WebhookRequest): ParsedWebhook {
    const env = parseEnvelope(req.rawBody);
    const now = req.now ?? new Date();
    const events = env.notifications
      // An outbound message configured on another object is not ours to sync: it is
      // acknowledged (so Salesforce stops retrying) but yields no event.
      .filter((n) => n.type === '' || n.type === 'Lead')
      .map((n) => toEvent(env.organizationId, n, now));
    return { events, accountIds: [env.organizationId] };
  },

  verify(req: WebhookRequest, secrets: SalesforceWebhookSecrets): void {
    // The endpoint secret first: every accepted secret is compared (constant time each),
    // so the time taken says nothing about which one, if any, matched.
    const given = req.endpointSecret ?? '';
    let secretOk = false;
    for (const s of secrets.endpointSecrets) if (s !== '' && safeEqual(given, s)) secretOk = true;
    if (!secretOk || given === '') {
      throw new CrmError('SIGNATURE_INVALID', 'Salesforce outbound message: endpoint secret missing or wrong', { provider: 'SALESFORCE' });
    }
    const expected = secrets.accountId ?? '';
    if (expected === '') {
      throw new CrmError('SIGNATURE_INVALID', 'Salesforce outbound message: no organization id to verify against', {
        provider: 'SALESFORCE',
      });
    }
    const env = parseEnvelope(req.rawBody);
    if (!sameOrganization(env.organizationId, expected)) {
      throw new CrmError('SIGNATURE_INVALID', 'Salesforce outbound message from an unexpected organization', {
        provider: 'SALESFORCE',
      });
    }
  },

  acknowledge() {
    return { status: 200, contentType: 'text/xml; charset=utf-8', body: ACK_BODY };
  },

  fault(_status: number, code: string, message: string) {
    // A SOAP 1.1 fault: the sender's (Client) fault for a request we refuse. SOAP 1.1
    // (section 6.2, SOAP HTTP binding): "In case of a SOAP error while processing the
    // request, the SOAP HTTP server MUST issue an HTTP 500 'Internal Server Error'
    // response and include a SOAP message in the response containing a SOAP Fault
    // element". Salesforce treats anything but an Ack as a failed delivery and retries.
    const body =
      '<?xml version="1.0" encoding="UTF-8"?>' +
      '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><soapenv:Fault>' +
      `<faultcode>soapenv:Client</faultcode><faultstring>${xmlEscape(`${code}: ${message}`)}</faultstring>` +
      '</soapenv:Fault></soapenv:Body></soapenv:Envelope>';
    return { status: 500, contentType: 'text/xml; charset=utf-8', body };
  },
};

function xmlEscape(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}
