// GraphiQL from local assets only: @graphql-yoga/render-graphiql inlines the GraphiQL
// bundle, its style sheet, fonts (data: URLs) and editor workers (turned into blob: URLs)
// into one page, so the browser loads nothing from another host. (yoga's built-in page
// loads everything from a public CDN.) The page is rendered once and served with a
// content security policy allowing exactly its own inline script (by hash), its blob:
// workers, inline styles and same-origin connections.
//
// The package is loaded when the page is first asked for, not at start-up: its 18 MB of
// inlined assets cost the process some 70 MB resident once imported, and most processes
// never serve the page.
import { createHash } from 'node:crypto';
import type { GraphiQLOptions } from 'graphql-yoga';

export interface GraphiQLPage {
  render: (opts: GraphiQLOptions) => Promise<string>;
  /** Adds the security headers to GraphiQL's HTML answer; other responses pass unchanged. */
  secure(response: Response): Response;
}

function inlineScripts(html: string): string[] {
  const scripts: string[] = [];
  const open = /<script>/g;
  let m: RegExpExecArray | null;
  while ((m = open.exec(html))) {
    const start = m.index + m[0].length;
    const end = html.indexOf('</script>', start);
    if (end === -1) break;
    scripts.push(html.slice(start, end));
    open.lastIndex = end;
  }
  return scripts;
}

export function graphiqlPage(): GraphiQLPage {
  let html: string | undefined;
  let csp = "default-src 'none'";
  return {
    async render(opts) {
      if (html === undefined) {
        const { renderGraphiQL } = await import('@graphql-yoga/render-graphiql');
        html = renderGraphiQL(opts);
        const hashes = inlineScripts(html).map((s) => `'sha256-${createHash('sha256').update(s, 'utf8').digest('base64')}'`);
        csp = [
          "default-src 'none'",
          `script-src ${hashes.join(' ')}`,
          'worker-src blob:',
          "style-src 'unsafe-inline'",
          'img-src data:',
          'font-src data:',
          "connect-src 'self'",
          "base-uri 'none'",
          "form-action 'none'",
          "frame-ancestors 'none'",
        ].join('; ');
      }
      return html;
    },
    secure(response) {
      if (!(response.headers.get('content-type') ?? '').startsWith('text/html')) return response;
      const headers = new Headers(response.headers);
      headers.set('content-security-policy', csp);
      headers.set('x-content-type-options', 'nosniff');
      headers.set('referrer-policy', 'no-referrer');
      headers.set('x-frame-options', 'DENY');
      return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
    },
  };
}
