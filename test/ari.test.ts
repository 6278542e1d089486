// ACME Renewal Information (RFC 9773) over real HTTPS on both storage backends: the certID
// (§4.1) checked against openssl's reading of the certificate and the RFC's own example, the
// renewal window of a fresh and of a revoked certificate (§4.2) with its Retry-After (§4.3),
// and `replaces` in newOrder (§5): accepted once, alreadyReplaced (409, §7.4) while an earlier
// order holds the certificate, freed again when that order expires, and refused for another
// account's certificate. certbot 2.1 (Debian) and acme-client have no ARI: the jose test client
// drives it.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { certIdOf, parseCertId } from '../src/acme/cert-id.js';
import { AcmeError } from '../src/errors.js';
import { request, TestAcmeClient } from './helpers/acme.js';
import { backends } from './helpers/db.js';
import { startTestDns, type TestDns } from './helpers/dns.js';
import { issueCertificate } from './helpers/flow.js';
import { startHttp01Responder } from './helpers/net.js';
import { assertProblem } from './helpers/problem.js';
import { splitChain } from './helpers/revocation.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const NAMES = Array.from({ length: 8 }, (_, i) => `ari${i}.attestca.test`);
const dns = (value: string) => ({ type: 'dns', value });
const SIX_HOURS = String(6 * 60 * 60);

/** The certID as openssl reads the certificate: AKI keyid and serial printed in hex. */
function opensslCertId(pem: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'attestca-ari-'));
  try {
    writeFileSync(path.join(dir, 'c.pem'), pem);
    const run = (...args: string[]) => execFileSync('openssl', ['x509', '-in', path.join(dir, 'c.pem'), '-noout', ...args], { encoding: 'utf8' });
    const keyid = /([0-9A-F]{2}(?::[0-9A-F]{2})+)/.exec(run('-ext', 'authorityKeyIdentifier'))![1]!.replaceAll(':', '');
    let serial = /serial=([0-9A-F]+)/.exec(run('-serial'))![1]!;
    if (serial.length % 2) serial = `0${serial}`;
    // DER INTEGER content: a 0x00 octet in front when the top bit is set (X.690 §8.3).
    if (parseInt(serial.slice(0, 2), 16) & 0x80) serial = `00${serial}`;
    return `${Buffer.from(keyid, 'hex').toString('base64url')}.${Buffer.from(serial, 'hex').toString('base64url')}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('certID (RFC 9773 §4.1)', () => {
  test('parses the example of RFC 9773 §4.1', () => {
    // keyIdentifier 69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:DE:01:C8:D4, serial 00:87:65:43:21.
    const id = parseCertId('aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE');
    assert.equal(id.keyIdentifier.toString('hex'), '69885b6b87464041e1b37b847ba0ae2cde01c8d4');
    assert.equal(id.serial, '87654321');
  });

  const malformed: [string, string][] = [
    ['no dot', 'aYhba4dGQEHhs3uEe6CuLN4ByNQAIdlQyE'],
    ['three parts', 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE.AA'],
    ['empty keyIdentifier', '.AIdlQyE'],
    ['empty serial', 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.'],
    ['padding', 'aYhba4dGQEHhs3uEe6CuLN4ByNQ=.AIdlQyE'],
    ['standard base64 alphabet', 'aYhba4dGQEHhs3uEe6CuLN4ByNQ+.AIdlQyE'],
    ['non-canonical trailing bits', 'aYhba4dGQEHhs3uEe6CuLN4ByNR.AIdlQyE'],
    ['negative serial', 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.h2VDIQ'],
    ['serial with a needless zero octet', 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AAE'],
    ['serial over 20 octets', `aYhba4dGQEHhs3uEe6CuLN4ByNQ.${Buffer.alloc(22, 1).toString('base64url')}`],
  ];
  for (const [what, certId] of malformed) {
    test(`rejects ${what} as malformed`, () => {
      assert.throws(() => parseCertId(certId), (err) => err instanceof AcmeError && err.type === 'malformed');
    });
  }
});

for (const backend of backends) {
  describe(`ACME Renewal Information on ${backend}`, () => {
    let dnsServer: TestDns;
    let responder: Awaited<ReturnType<typeof startHttp01Responder>>;
    let server: TestServer;
    let subscriber: TestAcmeClient;
    let other: TestAcmeClient;
    let nextName = 0;
    const name = () => NAMES[nextName++]!;

    const issue = async (client: TestAcmeClient, names: string[]) => {
      const r = await issueCertificate(client, responder, names.map(dns));
      const leaf = splitChain(r.chainPem);
      return { ...leaf, certId: certIdOf(leaf.leafDer)!, names };
    };
    const getInfo = (certId: string) => request(`${subscriber.dir.renewalInfo as string}/${certId}`, server.agent);
    const order = (client: TestAcmeClient, names: string[], replaces: string) => client.post(client.dir.newOrder, { identifiers: names.map(dns), replaces });

    before(async () => {
      dnsServer = await startTestDns(Object.fromEntries(NAMES.map((n) => [n, '127.0.0.1'])));
      responder = await startHttp01Responder();
      server = await startTestServer({ backend, dnsServer: dnsServer.server, http01Port: responder.port });
      const connect = async () => {
        const c = await TestAcmeClient.connect(server.directory, server.agent);
        assert.equal((await c.newAccount()).status, 201);
        return c;
      };
      subscriber = await connect();
      other = await connect();
    });
    after(async () => {
      await server?.stop();
      await responder?.close();
      await dnsServer?.close();
    });

    test('the directory advertises renewalInfo (RFC 9773 §4)', () => {
      assert.equal(subscriber.dir.renewalInfo, `${server.baseUrl}/acme/renewal-info`);
    });

    test('a fresh certificate: certID as openssl reads it, window in the last third, Retry-After', async () => {
      const cert = await issue(subscriber, [name()]);
      assert.equal(cert.certId, opensslCertId(cert.leafPem), 'certID computed by the server side equals openssl');
      const r = await getInfo(cert.certId);
      assert.equal(r.status, 200, r.text);
      assert.match(String(r.headers['content-type']), /^application\/json/);
      assert.equal(r.headers['retry-after'], SIX_HOURS);
      const x = new X509Certificate(cert.leafDer);
      const notBefore = new Date(x.validFrom).getTime();
      const lifetime = new Date(x.validTo).getTime() - notBefore + 1000;
      const start = Date.parse(r.json.suggestedWindow.start);
      const end = Date.parse(r.json.suggestedWindow.end);
      assert.equal(start, notBefore + Math.floor((lifetime * 2) / 3));
      assert.equal(end, notBefore + Math.floor((lifetime * 5) / 6));
      assert.ok(start > Date.now() && end < new Date(x.validTo).getTime(), 'the window lies ahead, before notAfter');
    });

    test('a revoked certificate: a window ending now, renew at once (RFC 9773 §4.2)', async () => {
      const cert = await issue(subscriber, [name()]);
      const revoked = await subscriber.post(subscriber.dir.revokeCert as string, { certificate: cert.leafDer.toString('base64url') });
      assert.equal(revoked.status, 200, revoked.text);
      const before = Date.now();
      const r = await getInfo(cert.certId);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers['retry-after'], SIX_HOURS);
      const start = Date.parse(r.json.suggestedWindow.start);
      const end = Date.parse(r.json.suggestedWindow.end);
      assert.ok(start < end, 'start before end');
      assert.ok(end <= Date.now() && end >= before - 1000, `the window ends now: ${r.text}`);
    });

    test('malformed and unknown certIDs', async () => {
      for (const bad of ['nodot', 'a.b.c', 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.h2VDIQ', '%3D.AA']) assertProblem(await getInfo(bad), 'malformed', 400);
      // RFC 9773 §4.1's example names no certificate of ours.
      assertProblem(await getInfo('aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE'), 'malformed', 404);
      // Our serial under another keyIdentifier is not our certificate.
      const cert = await issue(subscriber, [name()]);
      const serialPart = cert.certId.split('.')[1]!;
      assertProblem(await getInfo(`aYhba4dGQEHhs3uEe6CuLN4ByNQ.${serialPart}`), 'malformed', 404);
      const post = await request(`${subscriber.dir.renewalInfo as string}/${cert.certId}`, server.agent, { method: 'POST', body: '' });
      assert.equal(post.status, 405);
      assert.equal(post.headers.allow, 'GET, HEAD');
    });

    test('replaces: accepted once, alreadyReplaced while that order lives, freed when it expires', async () => {
      const names = [name(), name()];
      const cert = await issue(subscriber, names);
      const first = await order(subscriber, [names[0]!], cert.certId);
      assert.equal(first.status, 201, first.text);
      assert.equal(first.json.replaces, cert.certId, 'the order object carries replaces (RFC 9773 §5)');
      assert.equal((await subscriber.post(first.headers.location as string, '')).json.replaces, cert.certId);

      assertProblem(await order(subscriber, names, cert.certId), 'alreadyReplaced', 409);

      // The first order runs out unfinished: invalid (RFC 8555 §7.1.6), so it holds nothing.
      const firstId = String(first.headers.location).split('/').at(-1)!;
      await server.ctx.db.query(`UPDATE orders SET expires_at = $2 WHERE id = $1`, [firstId, new Date(Date.now() - 1000)]);
      const third = await order(subscriber, names, cert.certId);
      assert.equal(third.status, 201, third.text);
      const { rows } = await server.ctx.db.query<{ status: string }>('SELECT status FROM orders WHERE id = $1', [firstId]);
      assert.equal(rows[0]!.status, 'invalid');
      assertProblem(await order(subscriber, names, cert.certId), 'alreadyReplaced', 409);
    });

    test('replaces: two racing orders, one wins (the unique index decides)', async () => {
      const names = [name()];
      const cert = await issue(subscriber, names);
      const results = await Promise.all([order(subscriber, names, cert.certId), order(subscriber, names, cert.certId), order(subscriber, names, cert.certId)]);
      assert.deepEqual(results.map((r) => r.status).sort(), [201, 409, 409], results.map((r) => r.text).join('\n'));
    });

    test('replaces: refused for another account, unrelated names, unknown or malformed certIDs', async () => {
      const names = [name()];
      const cert = await issue(subscriber, names);
      // Another account, even naming the same identifier, may not mark this certificate replaced.
      assertProblem(await order(other, names, cert.certId), 'unauthorized', 403);
      assertProblem(await order(subscriber, ['unrelated.attestca.test'], cert.certId), 'malformed', 400);
      assertProblem(await order(subscriber, names, 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE'), 'malformed', 400);
      assertProblem(await order(subscriber, names, 'not-a-cert-id'), 'malformed', 400);
      // None of those refusals marked the certificate: its holder still can.
      const ok = await order(subscriber, names, cert.certId);
      assert.equal(ok.status, 201, ok.text);
    });
  });
}
