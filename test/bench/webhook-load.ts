// The signed webhook load the intake benches send (run.ts section 0, intake.ts): HubSpot
// creation events, `perRequest` per request, `inFlight` requests at a time.
import type { HubSpotSandbox } from '../../sandboxes/hubspot/server.ts';

export interface LoadResult {
  eventsPerS: number;
  requestsPerS: number;
  /** Each request's answer time, ms. */
  lat: number[];
}

/** A load sender whose events get ids unique across its calls (redeliveries are not what is measured). */
export function webhookLoad(hs: Pick<HubSpotSandbox, 'makeEvent' | 'signedWebhook'>) {
  let nextId = 1;
  return async (target: string, requests: number, perRequest: number, inFlight: number): Promise<LoadResult> => {
    const lat: number[] = [];
    let sent = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (sent < requests) {
          sent++;
          const batch = Array.from({ length: perRequest }, () => {
            const id = nextId++;
            return hs.makeEvent('contact.creation', String(5_000_000 + id), { eventId: id });
          });
          const req = hs.signedWebhook(batch, { url: target });
          const t = performance.now();
          const res = await fetch(target, { method: 'POST', headers: req.headers, body: req.body });
          await res.arrayBuffer();
          if (res.status !== 200) throw new Error(`${target} answered ${res.status}`);
          lat.push(performance.now() - t);
        }
      }),
    );
    const s = (performance.now() - t0) / 1000;
    return { eventsPerS: (requests * perRequest) / s, requestsPerS: requests / s, lat };
  };
}
