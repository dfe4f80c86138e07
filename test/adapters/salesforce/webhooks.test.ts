import { describe, expect, it } from 'vitest';
import { isCrmError, type CrmError, type WebhookRequest } from '../../../adapters/contract.ts';
import { salesforceAdapter } from '../../../adapters/salesforce/index.ts';
import { outboundMessageRecords } from '../../../adapters/salesforce/webhooks.ts';
import { isAck } from '../../../sandboxes/salesforce/index.ts';

const codec = salesforceAdapter.codec;
const ORG = '00D5g000004ABCDEAZ';

// Laid out the way Salesforce sends it: prefixed soapenv envelope, default-namespace
// notifications, sf:-prefixed enterprise fields, nil SessionId, omitted null fields.
const CAPTURED = `<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>${ORG}</OrganizationId>
   <ActionId>04k5g000000XyZaAAK</ActionId>
   <SessionId xsi:nil="true"/>
   <EnterpriseUrl>https://acme.my.salesforce.com/services/Soap/c/62.0/00D5g000004ABCD</EnterpriseUrl>
   <PartnerUrl>https://acme.my.salesforce.com/services/Soap/u/62.0/00D5g000004ABCD</PartnerUrl>
   <Notification>
    <Id>04l5g00000AbCdEAAV</Id>
    <sObject xsi:type="sf:Lead" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>00Q5g00000XyZ12EAB</sf:Id>
     <sf:Company>Acme &amp; Sons</sf:Company>
     <sf:CreatedDate>2024-05-01T10:00:00.000Z</sf:CreatedDate>
     <sf:Email>Jane.Doe@Example.com</sf:Email>
     <sf:FirstName>Jane</sf:FirstName>
     <sf:LastModifiedDate>2024-05-01T10:00:00.000Z</sf:LastModifiedDate>
     <sf:LastName>Doe</sf:LastName>
     <sf:Lead_Source_System__c>jazzaam</sf:Lead_Source_System__c>
     <sf:Phone>0044 20 7946 0000</sf:Phone>
     <sf:Status>Open - Not Contacted</sf:Status>
     <sf:SystemModstamp>2024-05-01T10:00:00.000Z</sf:SystemModstamp>
    </sObject>
   </Notification>
   <Notification>
    <Id>04l5g00000AbCdFAAV</Id>
    <sObject xsi:type="sf:Lead" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>00Q5g00000XyZ13EAB</sf:Id>
     <sf:Company>Globex</sf:Company>
     <sf:CreatedDate>2024-04-01T08:00:00.000Z</sf:CreatedDate>
     <sf:LastModifiedDate>2024-05-01T10:05:00.000Z</sf:LastModifiedDate>
     <sf:LastName>Smith</sf:LastName>
     <sf:SystemModstamp>2024-05-01T10:05:00.000Z</sf:SystemModstamp>
    </sObject>
   </Notification>
   <Notification>
    <Id>04l5g00000AbCdGAAV</Id>
    <sObject xsi:type="sf:Lead" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>00Q5g00000XyZ14EAB</sf:Id>
     <sf:Email>partial@example.com</sf:Email>
     <sf:LastModifiedDate>2024-05-01T10:06:00.000Z</sf:LastModifiedDate>
    </sObject>
   </Notification>
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>`;

const SECRET = 'Zq3v0c7fS1m2k9XbW4yTn8pLr6dHe5aJ';

function request(body: string, endpointSecret: string | null = SECRET): WebhookRequest {
  return {
    method: 'POST',
    url: `https://sync.example.com/api/v1/webhooks/salesforce/${endpointSecret ?? ''}`,
    headers: { 'content-type': 'text/xml; charset=utf-8', soapaction: '""' },
    rawBody: Buffer.from(body),
    now: new Date('2024-05-01T11:00:00Z'),
    endpointSecret,
  };
}

/** The Lead the message carried for a notification (what the sender claims; the engine never applies it). */
const carried = (body: string, notificationId: string) => outboundMessageRecords(Buffer.from(body)).find((m) => m.notificationId === notificationId)?.record;

function thrown(fn: () => unknown): CrmError {
  try {
    fn();
  } catch (e) {
    if (isCrmError(e)) return e;
    throw e;
  }
  throw new Error('expected a CrmError');
}

describe('Salesforce outbound message codec', () => {
  it('parses a batch of notifications into change events keyed by notification id', () => {
    const parsed = codec.parse(request(CAPTURED));
    expect(parsed.accountIds).toEqual([ORG]);
    expect(parsed.events.map((e) => e.dedupeKey)).toEqual(['04l5g00000AbCdEAAV', '04l5g00000AbCdFAAV', '04l5g00000AbCdGAAV']);
    expect(parsed.events.map((e) => e.externalId)).toEqual(['00Q5g00000XyZ12EAB', '00Q5g00000XyZ13EAB', '00Q5g00000XyZ14EAB']);
    expect(parsed.events.every((e) => e.accountId === ORG)).toBe(true);
  });

  it('tells a creation (never edited) from an update; events carry ids only, never the field values', () => {
    const [created, updated] = codec.parse(request(CAPTURED)).events;
    expect(created.kind).toBe('created');
    expect(created.occurredAt.toISOString()).toBe('2024-05-01T10:00:00.000Z');
    // Anyone can send a message: its values are not part of the event (the engine reads the Lead back).
    expect(created).not.toHaveProperty('record');
    expect(JSON.stringify(created)).not.toContain('Jane');
    const createdRecord = carried(CAPTURED, created.dedupeKey);
    expect(createdRecord?.originTag).toBe('jazzaam');
    expect(createdRecord?.fields).toEqual({
      email: 'jane.doe@example.com',
      firstName: 'Jane',
      lastName: 'Doe',
      phone: '0044 20 7946 0000',
      company: 'Acme & Sons',
      status: 'Open - Not Contacted',
    });
    expect(updated.kind).toBe('updated');
    expect(updated.occurredAt.toISOString()).toBe('2024-05-01T10:05:00.000Z');
    expect(carried(CAPTURED, updated.dedupeKey)?.fields.email).toBeNull(); // omitted field = null on a whole Lead
    expect(carried(CAPTURED, updated.dedupeKey)?.originTag).toBeNull();
  });

  it('does not present a partial message (no LastName/Company) as the record', () => {
    const partial = codec.parse(request(CAPTURED)).events[2];
    expect(partial.kind).toBe('updated');
    expect(carried(CAPTURED, partial.dedupeKey)).toBeNull();
  });

  it('keeps the same dedupe keys when the same message is delivered again', () => {
    const a = codec.parse(request(CAPTURED)).events.map((e) => e.dedupeKey);
    const b = codec.parse(request(CAPTURED)).events.map((e) => e.dedupeKey);
    expect(b).toEqual(a);
  });

  it('ignores notifications about other objects (acknowledged, no event)', () => {
    const contact = CAPTURED.replace('xsi:type="sf:Lead"', 'xsi:type="sf:Contact"');
    const parsed = codec.parse(request(contact));
    expect(parsed.events.map((e) => e.dedupeKey)).toEqual(['04l5g00000AbCdFAAV', '04l5g00000AbCdGAAV']);
  });

  it.each([
    ['truncated XML', CAPTURED.slice(0, CAPTURED.length - 40)],
    ['JSON', '{"not":"a notification"}'],
    ['empty body', '   '],
    ['a DTD with entities', `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]>${CAPTURED.replace(/^<\?xml[^>]*>/, '')}`],
    ['the wrong namespace', CAPTURED.replace('http://soap.sforce.com/2005/09/outbound', 'urn:something-else')],
    ['no notifications', CAPTURED.replace(/<Notification>[\s\S]*<\/Notification>/, '')],
    ['a notification without Id', CAPTURED.replace('<Id>04l5g00000AbCdEAAV</Id>', '')],
  ])('rejects %s with VALIDATION', (_label, body) => {
    expect(thrown(() => codec.parse(request(body))).code).toBe('VALIDATION');
  });

  it('verifies the endpoint secret and the organization id, 15 or 18 characters', () => {
    expect(() => codec.verify(request(CAPTURED), { accountId: ORG, endpointSecrets: [SECRET] })).not.toThrow();
    expect(() => codec.verify(request(CAPTURED), { accountId: ORG.slice(0, 15), endpointSecrets: [SECRET] })).not.toThrow();
    // During a rotation's grace period both the new and the previous secret are accepted.
    expect(() => codec.verify(request(CAPTURED), { accountId: ORG, endpointSecrets: ['N'.repeat(43), SECRET] })).not.toThrow();
  });

  it('rejects a message without the endpoint secret or with a wrong one, even from the right organization', () => {
    expect(thrown(() => codec.verify(request(CAPTURED, null), { accountId: ORG, endpointSecrets: [SECRET] })).code).toBe('SIGNATURE_INVALID');
    expect(thrown(() => codec.verify(request(CAPTURED, `${SECRET}x`), { accountId: ORG, endpointSecrets: [SECRET] })).code).toBe('SIGNATURE_INVALID');
    expect(thrown(() => codec.verify(request(CAPTURED, SECRET.slice(0, -1)), { accountId: ORG, endpointSecrets: [SECRET] })).code).toBe('SIGNATURE_INVALID');
    // No secret configured accepts nothing, not even an empty one.
    expect(thrown(() => codec.verify(request(CAPTURED, ''), { accountId: ORG, endpointSecrets: [] })).code).toBe('SIGNATURE_INVALID');
    expect(thrown(() => codec.verify(request(CAPTURED, ''), { accountId: ORG, endpointSecrets: [''] })).code).toBe('SIGNATURE_INVALID');
  });

  it('rejects another organization, a case-changed id, or no configured id with SIGNATURE_INVALID, at the right endpoint URL too', () => {
    expect(thrown(() => codec.verify(request(CAPTURED), { accountId: '00D5g000004ZZZZEAZ', endpointSecrets: [SECRET] })).code).toBe('SIGNATURE_INVALID');
    expect(thrown(() => codec.verify(request(CAPTURED), { accountId: ORG.toLowerCase(), endpointSecrets: [SECRET] })).code).toBe('SIGNATURE_INVALID');
    expect(thrown(() => codec.verify(request(CAPTURED), { accountId: null, endpointSecrets: [SECRET] })).code).toBe('SIGNATURE_INVALID');
    const forged = CAPTURED.replace(`<OrganizationId>${ORG}</OrganizationId>`, '<OrganizationId>00D000000000001AAA</OrganizationId>');
    expect(thrown(() => codec.verify(request(forged), { accountId: ORG, endpointSecrets: [SECRET] })).code).toBe('SIGNATURE_INVALID');
  });

  it('acknowledges with the SOAP notificationsResponse Salesforce expects', () => {
    const ack = codec.acknowledge();
    expect(ack.status).toBe(200);
    expect(ack.contentType).toMatch(/^text\/xml/);
    expect(isAck(ack.status, ack.body)).toBe(true);
    expect(ack.body).toContain('<Ack>true</Ack>');
  });
});
