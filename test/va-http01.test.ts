// The http-01 validator against real local HTTP servers and a real DNS responder: each way a
// validation can fail gets its RFC 8555 problem type and a detail that says what happened.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { validateHttp01 } from '../src/va/http01.js';
import { createResolver } from '../src/va/resolver.js';
import { startTestDns, type TestDns } from './helpers/dns.js';
import { freePort } from './helpers/net.js';
import { problem } from './helpers/problem.js';

const TOKEN = 'tok_abcdefghijklmnopqrstuvwxyz0123456789';
const KEY_AUTH = `${TOKEN}.thumbprint_abcdefghijklmnopqrstuvwxyz01234`;

describe('http-01 validation', () => {
  let dns: TestDns;
  let server: http.Server;
  let port: number;
  let httpsPort: number;
  const routes = new Map<string, (req: http.IncomingMessage, res: http.ServerResponse) => void>();

  before(async () => {
    dns = await startTestDns({ 'ok.attestca.test': '127.0.0.1', 'other.attestca.test': '127.0.0.1' });
    server = http.createServer((req, res) => {
      const handler = routes.get(`${req.headers.host?.split(':')[0]}${req.url}`);
      if (handler) handler(req, res);
      else res.writeHead(404).end('nothing here');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    httpsPort = await freePort();
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await dns.close();
  });

  const path = `/.well-known/acme-challenge/${TOKEN}`;
  const run = (value: string, type = 'dns', timeoutMs = 3000) =>
    validateHttp01({ type, value }, TOKEN, KEY_AUTH, { resolver: createResolver(dns.server, 1000), port, httpsPort, timeoutMs });

  test('accepts the key authorization, with trailing whitespace tolerated, by name and by IP', async () => {
    routes.set(`ok.attestca.test${path}`, (_q, s) => s.end(`${KEY_AUTH}\r\n`));
    routes.set(`127.0.0.1${path}`, (_q, s) => s.end(KEY_AUTH));
    await run('ok.attestca.test');
    await run('127.0.0.1', 'ip');
  });

  test('the Host header names the identifier', async () => {
    let host: string | undefined;
    routes.set(`ok.attestca.test${path}`, (q, s) => {
      host = q.headers.host;
      s.end(KEY_AUTH);
    });
    await run('ok.attestca.test');
    assert.equal(host, `ok.attestca.test:${port}`);
  });

  test('a wrong body is incorrectResponse, naming what was found and what was expected', async () => {
    routes.set(`ok.attestca.test${path}`, (_q, s) => s.end('something else'));
    const e = await problem(run('ok.attestca.test'));
    assert.equal(e.type, 'incorrectResponse');
    assert.match(e.detail, /"something else", expected/);
  });

  test('a 404 is unauthorized with the status in the detail', async () => {
    routes.delete(`ok.attestca.test${path}`);
    const e = await problem(run('ok.attestca.test'));
    assert.equal(e.type, 'unauthorized');
    assert.match(e.detail, /HTTP 404/);
  });

  test('a name that does not resolve is a dns problem', async () => {
    const e = await problem(run('missing.attestca.test'));
    assert.equal(e.type, 'dns');
    assert.match(e.detail, /missing\.attestca\.test/);
  });

  test('nothing listening is a connection problem', async () => {
    const closed = await freePort();
    const e = await problem(validateHttp01({ type: 'ip', value: '127.0.0.1' }, TOKEN, KEY_AUTH, { resolver: createResolver(dns.server), port: closed, httpsPort, timeoutMs: 2000 }));
    assert.equal(e.type, 'connection');
    assert.match(e.detail, /ECONNREFUSED/);
  });

  test('a server that never answers times out as a connection problem', async () => {
    routes.set(`ok.attestca.test${path}`, () => {});
    const started = Date.now();
    const e = await problem(run('ok.attestca.test', 'dns', 500));
    assert.equal(e.type, 'connection');
    assert.match(e.detail, /timeout/);
    assert.ok(Date.now() - started < 3000);
  });

  test('an endless body is cut off at the size limit', async () => {
    routes.set(`ok.attestca.test${path}`, (_q, s) => {
      s.writeHead(200);
      s.write('x'.repeat(64 * 1024));
      s.end();
    });
    const e = await problem(run('ok.attestca.test'));
    assert.equal(e.type, 'unauthorized');
    assert.match(e.detail, /larger than/);
  });

  test('redirects are followed on the http-01 port, to another name', async () => {
    routes.set(`ok.attestca.test${path}`, (_q, s) => s.writeHead(302, { location: `http://other.attestca.test${path}` }).end());
    routes.set(`other.attestca.test${path}`, (_q, s) => s.end(KEY_AUTH));
    await run('ok.attestca.test');
  });

  test('a redirect loop stops after 10 hops', async () => {
    let hops = 0;
    routes.set(`ok.attestca.test${path}`, (_q, s) => {
      hops++;
      s.writeHead(302, { location: path }).end();
    });
    const e = await problem(run('ok.attestca.test'));
    assert.equal(e.type, 'connection');
    assert.match(e.detail, /too many redirects/);
    assert.equal(hops, 11);
  });

  test('redirects to other ports or schemes are refused', async () => {
    routes.set(`ok.attestca.test${path}`, (_q, s) => s.writeHead(301, { location: `http://other.attestca.test:1${path}` }).end());
    const e = await problem(run('ok.attestca.test'));
    assert.equal(e.type, 'connection');
    assert.match(e.detail, /port 1/);
    routes.set(`ok.attestca.test${path}`, (_q, s) => s.writeHead(301, { location: 'ftp://other.attestca.test/x' }).end());
    assert.match((await problem(run('ok.attestca.test'))).detail, /non-HTTP/);
  });
});
