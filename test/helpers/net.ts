import http from 'node:http';
import net from 'node:net';

/** A port free on loopback right now (the kernel picks it). */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as net.AddressInfo;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

/** Serves http-01 key authorizations on loopback, as a subscriber's web server would. */
export async function startHttp01Responder(port = 0): Promise<{ port: number; set(token: string, body: string): void; close(): Promise<void> }> {
  const tokens = new Map<string, string>();
  const server = http.createServer((req, res) => {
    const m = /^\/\.well-known\/acme-challenge\/([A-Za-z0-9_-]+)$/.exec(req.url ?? '');
    const body = m ? tokens.get(m[1]!) : undefined;
    if (body === undefined) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    set: (token, body) => tokens.set(token, body),
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
