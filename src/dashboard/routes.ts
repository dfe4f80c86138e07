// Serves the operator dashboard: one HTML page, one JavaScript module and one style
// sheet, read once and kept in memory (with a gzip copy and an ETag). The page holds no
// data and needs no key to load; it talks to /graphql with the key the operator pastes.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { Hono } from 'hono';

interface Asset {
  type: string;
  body: Buffer;
  gzip: Buffer;
  etag: string;
}

const FILES: Record<string, [file: string, type: string]> = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/dashboard.js': ['dashboard.js', 'text/javascript; charset=utf-8'],
  '/connect.js': ['connect.js', 'text/javascript; charset=utf-8'],
  '/mappings.js': ['mappings.js', 'text/javascript; charset=utf-8'],
  '/dashboard.css': ['dashboard.css', 'text/css; charset=utf-8'],
};

/** Only our own script, style and same-origin GraphQL (HTTP and WebSocket); nothing inline. */
const HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
  vary: 'accept-encoding',
};

function load(file: string, type: string): Asset {
  const body = readFileSync(new URL(file, import.meta.url));
  return { type, body, gzip: gzipSync(body, { level: 9 }), etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
}

export function dashboardRoutes(): Hono {
  const assets = new Map(Object.entries(FILES).map(([path, [file, type]]) => [path, load(file, type)]));
  const routes = new Hono();
  for (const [path, asset] of assets) {
    routes.get(path, (c) => {
      if (c.req.header('if-none-match') === asset.etag) return c.body(null, 304, { ...HEADERS, etag: asset.etag });
      const gzip = /\bgzip\b/.test(c.req.header('accept-encoding') ?? '');
      const body = gzip ? asset.gzip : asset.body;
      return c.body(new Uint8Array(body), 200, {
        ...HEADERS,
        'content-type': asset.type,
        etag: asset.etag,
        ...(gzip ? { 'content-encoding': 'gzip' } : {}),
      });
    });
  }
  return routes;
}
