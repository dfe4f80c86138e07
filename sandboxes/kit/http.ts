// The sandboxes' HTTP plumbing: they listen on loopback only, read whole bodies (with a
// cap where the CRM documents one) and, on close, drop the connections still open (held
// requests, keep-alive sockets) so a test never waits on them.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** Starts `server` on `host`:`port` (0: a free port); answers its base URL. */
export async function listenLoopback(server: http.Server, port = 0, host = '127.0.0.1'): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port: bound } = server.address() as AddressInfo;
  return `http://${host.includes(':') ? `[${host}]` : host}:${bound}`;
}

/** Stops accepting connections and drops the open ones; resolves once the server is closed. */
export async function closeServer(server: http.Server): Promise<void> {
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** The request body as text; `tooLarge()` is thrown once it passes `maxBytes`. */
export async function readBody(req: http.IncomingMessage, limit?: { maxBytes: number; tooLarge: () => Error }): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (limit && size > limit.maxBytes) throw limit.tooLarge();
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
