// The tls-alpn-01 validator (RFC 8737, RFC 8738 §6) against real TLS servers on loopback that
// present acme-tls/1 certificates built for each case, with names resolved by the test DNS.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { reverseDnsName } from '../src/pki/ip.js';
import { createResolver } from '../src/va/resolver.js';
import { validateTlsAlpn01 } from '../src/va/tlsalpn01.js';
import { startTestDns, type TestDns } from './helpers/dns.js';
import { freePort } from './helpers/net.js';
import { problem } from './helpers/problem.js';
import { acmeTlsCertificate, startTlsAlpnResponder, type AcmeTlsCertSpec, type TlsAlpnResponder } from './helpers/tlsalpn.js';

const KEY_AUTH = 'tok_abcdefghijklmnopqrstuvwxyz0123456789.thumbprint_abcdefghijklmnopqrstuvwxyz01234';
const NAME = 'alpn.attestca.test';

describe('reverse-mapping names for IP identifiers (RFC 8738 §6)', () => {
  const cases: [string, string][] = [
    ['127.0.0.1', '1.0.0.127.in-addr.arpa'],
    ['192.0.2.10', '10.2.0.192.in-addr.arpa'],
    ['2001:db8::1', '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa'],
    ['::1', `1${'.0'.repeat(31)}.ip6.arpa`],
    ['::ffff:192.0.2.1', '1.0.2.0.0.0.0.c.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa'],
    ['fe80::a:b', 'b.0.0.0.a.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.e.f.ip6.arpa'],
  ];
  for (const [ip, name] of cases) test(`${ip} → ${name.length > 40 ? `${name.slice(0, 20)}…` : name}`, () => assert.equal(reverseDnsName(ip), name));
});

describe('tls-alpn-01 validation', () => {
  let dns: TestDns;
  let responder: TlsAlpnResponder;
  before(async () => {
    dns = await startTestDns({ [NAME]: '127.0.0.1', 'other.attestca.test': '127.0.0.1' });
    responder = await startTlsAlpnResponder();
  });
  after(async () => {
    await responder.close();
    await dns.close();
  });

  const run = (identifier: { type: string; value: string }, port = responder.port, timeoutMs = 3000) =>
    validateTlsAlpn01(identifier, KEY_AUTH, { resolver: createResolver(dns.server, 1000), port, timeoutMs });
  const serve = async (servername: string, spec: Partial<AcmeTlsCertSpec> = {}) =>
    responder.set(servername, await acmeTlsCertificate({ names: [{ type: 'dns', value: NAME }], keyAuthorization: KEY_AUTH, ...spec }));

  test('accepts a certificate with the one SAN and the critical acmeIdentifier; SNI is the name, ALPN only acme-tls/1', async () => {
    await serve(NAME);
    const seen = responder.servernames.length;
    await run({ type: 'dns', value: NAME });
    assert.deepEqual(responder.servernames.slice(seen), [NAME]);
    assert.deepEqual(responder.offered.at(-1), ['acme-tls/1']);
  });

  test('the dNSName is compared case-insensitively (RFC 4343)', async () => {
    await serve(NAME, { names: [{ type: 'dns', value: 'ALPN.Attestca.TEST' }] });
    await run({ type: 'dns', value: NAME });
  });

  test('an IP identifier: connects to the address, SNI is its in-addr.arpa name, the SAN an iPAddress', async () => {
    const sni = '1.0.0.127.in-addr.arpa';
    await serve(sni, { names: [{ type: 'ip', value: '127.0.0.1' }] });
    const seen = responder.servernames.length;
    await run({ type: 'ip', value: '127.0.0.1' });
    assert.deepEqual(responder.servernames.slice(seen), [sni]);
    // A dNSName of the address, or the reverse name, is not an iPAddress.
    await serve(sni, { names: [{ type: 'dns', value: sni }] });
    const e = await problem(run({ type: 'ip', value: '127.0.0.1' }));
    assert.equal(e.type, 'unauthorized');
    assert.match(e.detail, /names DNS:1\.0\.0\.127\.in-addr\.arpa; .* exactly IP:127\.0\.0\.1/);
  });

  test('a digest for another key authorization is incorrectResponse, showing both values', async () => {
    await serve(NAME, { keyAuthorization: `${KEY_AUTH}x` });
    const e = await problem(run({ type: 'dns', value: NAME }));
    assert.equal(e.type, 'incorrectResponse');
    assert.match(e.detail, /holds [0-9a-f]{64}, expected [0-9a-f]{64}/);
  });

  const refusedCertificates: [string, Partial<AcmeTlsCertSpec>, RegExp][] = [
    ['another name', { names: [{ type: 'dns', value: 'other.attestca.test' }] }, /names DNS:other\.attestca\.test; a tls-alpn-01 certificate must name exactly DNS:alpn\.attestca\.test/],
    ['the name and one more', { names: [{ type: 'dns', value: NAME }, { type: 'dns', value: 'other.attestca.test' }] }, /names DNS:alpn\.attestca\.test, DNS:other\.attestca\.test/],
    ['no subjectAltName', { names: [] }, /0 subjectAltName extensions/],
    ['no acmeIdentifier extension', { omitAcmeIdentifier: true }, /no acmeIdentifier extension \(1\.3\.6\.1\.5\.5\.7\.1\.31\)/],
    ['a non-critical acmeIdentifier', { critical: false }, /is not critical/],
    ['the digest not wrapped in an OCTET STRING', { rawAcmeIdentifier: Buffer.alloc(32, 7) }, /not a DER OCTET STRING of 32 bytes \(got 32 bytes/],
    ['an OCTET STRING of the wrong size', { rawAcmeIdentifier: Buffer.from([0x04, 0x10, ...Buffer.alloc(16)]) }, /not a DER OCTET STRING of 32 bytes \(got 18 bytes/],
  ];
  for (const [what, spec, detail] of refusedCertificates) {
    test(`a certificate with ${what} is unauthorized`, async () => {
      await serve(NAME, spec);
      const e = await problem(run({ type: 'dns', value: NAME }));
      assert.equal(e.type, 'unauthorized');
      assert.match(e.detail, detail);
      assert.match(e.detail, /127\.0\.0\.1:\d+ \(SNI alpn\.attestca\.test\)/, 'the detail says where the certificate came from');
    });
  }

  test('a server that does not negotiate acme-tls/1 is refused whatever its certificate', async () => {
    const plain = await startTlsAlpnResponder({ alpn: 'none' });
    try {
      plain.set(NAME, await acmeTlsCertificate({ names: [{ type: 'dns', value: NAME }], keyAuthorization: KEY_AUTH }));
      const e = await problem(run({ type: 'dns', value: NAME }, plain.port));
      assert.equal(e.type, 'unauthorized');
      assert.match(e.detail, /did not negotiate ALPN protocol "acme-tls\/1" \(it chose none\)/);
    } finally {
      await plain.close();
    }
  });

  test('a server with no certificate for the SNI fails the handshake: a tls problem', async () => {
    responder.set(NAME, undefined);
    const e = await problem(run({ type: 'dns', value: NAME }));
    assert.equal(e.type, 'tls');
    assert.match(e.detail, /TLS handshake with 127\.0\.0\.1:\d+ \(SNI alpn\.attestca\.test, ALPN acme-tls\/1\) failed/);
  });

  test('only TLS 1.2 or higher is negotiated (RFC 8737 §4)', async () => {
    const old = await startTlsAlpnResponder({ maxVersion: 'TLSv1.1' });
    try {
      old.set(NAME, await acmeTlsCertificate({ names: [{ type: 'dns', value: NAME }], keyAuthorization: KEY_AUTH }));
      assert.equal((await problem(run({ type: 'dns', value: NAME }, old.port))).type, 'tls');
    } finally {
      await old.close();
    }
  });

  test('a server that closes the connection at once is a tls problem', async () => {
    const rude = net.createServer((s) => s.destroy());
    await new Promise<void>((resolve) => rude.listen(0, '127.0.0.1', resolve));
    try {
      const e = await problem(run({ type: 'dns', value: NAME }, (rude.address() as net.AddressInfo).port));
      assert.equal(e.type, 'tls');
    } finally {
      await new Promise((resolve) => rude.close(resolve));
    }
  });

  test('nothing listening is a connection problem', async () => {
    const e = await problem(run({ type: 'dns', value: NAME }, await freePort()));
    assert.equal(e.type, 'connection');
    assert.match(e.detail, /ECONNREFUSED/);
  });

  test('a server that never completes the handshake times out as a connection problem, on time', async () => {
    const held: net.Socket[] = [];
    const silent = net.createServer((s) => void held.push(s));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const started = Date.now();
    try {
      const e = await problem(run({ type: 'dns', value: NAME }, (silent.address() as net.AddressInfo).port, 400));
      assert.equal(e.type, 'connection');
      assert.match(e.detail, /timeout .* in the TLS handshake with/);
      assert.ok(Date.now() - started < 2000);
    } finally {
      for (const s of held) s.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  test("the README's recipe: a validation certificate made with openssl req and served by openssl s_server", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'attestca-alpn-openssl-'));
    const digest = createHash('sha256').update(KEY_AUTH).digest('hex');
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
      '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'), '-subj', '/CN=acme-tls-alpn-01',
      '-addext', `subjectAltName=DNS:${NAME}`, '-addext', `1.3.6.1.5.5.7.1.31=critical,DER:0420${digest}`,
    ], { stdio: 'ignore' });
    const port = await freePort();
    // s_server stops when its stdin closes: the pipe stays open until the test kills it.
    const server = spawn('openssl', ['s_server', '-accept', `127.0.0.1:${port}`, '-alpn', 'acme-tls/1', '-cert', path.join(dir, 'cert.pem'), '-key', path.join(dir, 'key.pem')], { stdio: ['pipe', 'pipe', 'pipe'] });
    try {
      await new Promise<void>((resolve, reject) => {
        server.stdout.on('data', (d: Buffer) => d.toString().includes('ACCEPT') && resolve());
        server.once('exit', (code) => reject(new Error(`openssl s_server exited ${code}`)));
      });
      await run({ type: 'dns', value: NAME }, port);
    } finally {
      server.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a name that does not resolve is a dns problem', async () => {
    const e = await problem(run({ type: 'dns', value: 'missing.attestca.test' }));
    assert.equal(e.type, 'dns');
  });
});
