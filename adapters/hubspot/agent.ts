// Makes the HubSpot SDK (13.5) send every request through our http(s) Agent.
//
// The SDK takes `httpAgent`, but applies it through its configuration middleware, and
// its generated API classes run configuration middleware only when a call passes
// per-call options: a plain `basicApi.getPage(...)` goes out on node-fetch's default
// agent. So the agent is pinned one level lower, on each API group's `httpApi` (the
// object whose `send(request)` runs node-fetch with `request.getAgent()`). The same hook
// sets the Authorization header from the connection's current access token: the SDK copies
// the token into each API object when it is built, and OAuth tokens are renewed in place.
import type { Agent } from 'node:http';

interface RequestContextLike {
  setAgent(agent: Agent): void;
  setHeaderParam(key: string, value: string): void;
}
interface HttpLibraryLike {
  send(request: RequestContextLike): unknown;
}
interface ConfigurationLike {
  httpApi: HttpLibraryLike;
}

const PINNED = Symbol('crm-sync.pinnedAgent');

/**
 * Pins `agent` on the configuration of each SDK API object (a decorated PromiseAPI,
 * whose `.api.configuration` the Observable API reads on every call). Throws when the
 * SDK's layout is not the expected one: better no client than one that bypasses the guard.
 */
export function pinAgent(apis: unknown[], agent: Agent, bearer?: () => string | undefined): void {
  for (const api of apis) {
    const cfg = (api as { api?: { configuration?: ConfigurationLike } } | null)?.api?.configuration;
    if (!cfg || typeof cfg.httpApi?.send !== 'function') {
      throw new Error('HubSpot SDK layout changed: cannot route its requests through the network guard');
    }
    if ((cfg as unknown as Record<symbol, unknown>)[PINNED] === agent) continue;
    const inner = cfg.httpApi;
    cfg.httpApi = {
      send(request: RequestContextLike) {
        request.setAgent(agent);
        // The access token in force when the request leaves (it is renewed in place).
        const token = bearer?.();
        if (token) request.setHeaderParam('Authorization', `Bearer ${token}`);
        return inner.send(request);
      },
    };
    (cfg as unknown as Record<symbol, unknown>)[PINNED] = agent;
  }
}
