// HubSpot's API hosts, on their own so the connection and the OAuth code can share them.

/**
 * HubSpot's API hosts: `https://api.hubapi.com` is the documented base of every API
 * call (and the SDK's default basePath); `api.hubspot.com` answers the same API.
 */
export const HUBSPOT_API_HOSTS: readonly string[] = ['api.hubapi.com', 'api.hubspot.com'];
