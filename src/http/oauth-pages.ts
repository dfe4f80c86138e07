// The OAuth callback as the browser sees it: a 303 to the return page, or a small HTML
// page saying why nothing was connected (text only, escaped, no script or style: CSP default-src 'none').
import type { Context } from 'hono';
import type { SyncService } from '../engine/types.ts';
import type { HttpEnv } from './context.ts';

const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

export function oauthPage(status: number, title: string, message: string, returnUrl: string): Response {
  const body = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title></head>
<body><h1>${escapeHtml(title)}</h1><p id="message">${escapeHtml(message)}</p>
<p><a href="${escapeHtml(returnUrl)}">Back to the dashboard</a></p></body></html>
`;
  return new Response(body, { status, headers: PAGE_HEADERS });
}

/** GET /oauth/:provider/callback: the CRM sends the browser back here (no API key: the state is the proof). */
export function oauthCallback(service: SyncService) {
  return async (c: Context<HttpEnv>) => {
    const query: Record<string, string> = {};
    // One value per name (the first); the answer's parameters are short.
    new URL(c.req.url).searchParams.forEach((value, name) => {
      if (!(name in query) && name.length <= 64 && value.length <= 4096) query[name] = value;
    });
    const answer = await service.completeOAuth(c.req.param('provider') ?? '', query);
    if (answer.kind === 'redirect') {
      return new Response(null, { status: 303, headers: { location: answer.location, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' } });
    }
    return oauthPage(answer.status, answer.title, answer.message, answer.returnUrl);
  };
}
