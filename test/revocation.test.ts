// revokeCert (RFC 8555 §7.6) over real HTTPS on both storage backends: who may revoke (the
// issuing account, an account holding authorizations for every name, the certificate's own key),
// which reasons a subscriber may give, and the problem type of every refusal. The stored record
// (status, time, reason) is read back from the database; every revocation leaves an audit line.
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { newSerial } from '../src/ca/hierarchy.js';
import { toPem } from '../src/pki/pem.js';
import { reserveSerial, storeCertificate } from '../src/sa/issuance.js';
import { generateAccountKey, TestAcmeClient, type HttpResult } from './helpers/acme.js';
import { backends } from './helpers/db.js';
import { startTestDns, type TestDns } from './helpers/dns.js';
import { issueCertificate } from './helpers/flow.js';
import { startHttp01Responder } from './helpers/net.js';
import { makeCert } from './helpers/pki.js';
import { splitChain } from './helpers/revocation.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const ERR = 'urn:ietf:params:acme:error:';
const NAMES = Array.from({ length: 20 }, (_, i) => `rev${i}.attestca.test`);

function assertProblem(r: HttpResult, type: string, status: number, detail?: RegExp): void {
  assert.equal(r.status, status, r.text);
  assert.equal(r.headers['content-type'], 'application/problem+json; charset=utf-8');
  assert.equal(r.json.type, ERR + type, r.text);
  if (detail) assert.match(r.json.detail, detail);
}

for (const backend of backends) {
  describe(`revokeCert on ${backend}`, () => {
    let dns: TestDns;
    let responder: Awaited<ReturnType<typeof startHttp01Responder>>;
    let server: TestServer;
    let subscriber: TestAcmeClient;
    let other: TestAcmeClient;
    let stranger: TestAcmeClient;
    const logLines: string[] = [];
    let nextName = 0;
    const name = () => NAMES[nextName++]!;

    /** A certificate issued to `client` for `names`, with what a revocation test needs. */
    const issue = async (client: TestAcmeClient, names: string[]) => {
      const r = await issueCertificate(client, responder, names.map((value) => ({ type: 'dns', value })));
      return { ...splitChain(r.chainPem), certKey: r.certKey };
    };
    const revoke = (client: TestAcmeClient, der: Buffer, reason?: number, o: Parameters<TestAcmeClient['post']>[2] = {}) =>
      client.post(client.dir.revokeCert as string, { certificate: der.toString('base64url'), ...(reason === undefined ? {} : { reason }) }, o);
    const record = async (serial: string) => {
      const { rows } = await server.ctx.db.query<{ status: string; revoked_at: Date | null; revocation_reason: number | null }>(
        'SELECT status, revoked_at, revocation_reason FROM certificates WHERE serial = $1',
        [serial],
      );
      return rows[0]!;
    };
    const accountId = (c: TestAcmeClient) => c.kid!.split('/').at(-1)!;

    before(async () => {
      dns = await startTestDns(Object.fromEntries(NAMES.map((n) => [n, '127.0.0.1'])));
      responder = await startHttp01Responder();
      server = await startTestServer({ backend, dnsServer: dns.server, http01Port: responder.port, logLines });
      const connect = async () => {
        const c = await TestAcmeClient.connect(server.directory, server.agent);
        assert.equal((await c.newAccount()).status, 201);
        return c;
      };
      subscriber = await connect();
      other = await connect();
      stranger = await connect();
    });
    after(async () => {
      await server?.stop();
      await responder?.close();
      await dns?.close();
    });

    test('the directory advertises revokeCert', () => {
      assert.equal(subscriber.dir.revokeCert, `${server.baseUrl}/acme/revoke-cert`);
    });

    test('the issuing account revokes with a reason: 200, the record holds the time and reason, a second request is alreadyRevoked', async () => {
      const cert = await issue(subscriber, [name()]);
      assert.equal((await record(cert.serial)).status, 'valid');
      const before = Date.now();
      const r = await revoke(subscriber, cert.leafDer, 4);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.text, '');
      assert.ok(r.headers['replay-nonce'], 'a revokeCert response carries a fresh nonce');
      const rec = await record(cert.serial);
      assert.equal(rec.status, 'revoked');
      assert.equal(rec.revocation_reason, 4);
      assert.ok(rec.revoked_at!.getTime() >= before - 1000 && rec.revoked_at!.getTime() <= Date.now() + 1000);
      assertProblem(await revoke(subscriber, cert.leafDer, 4), 'alreadyRevoked', 400);
      assertProblem(await revoke(subscriber, cert.leafDer), 'alreadyRevoked', 400);
    });

    test('without a reason the revocation is recorded as unspecified (0)', async () => {
      const cert = await issue(subscriber, [name()]);
      assert.equal((await revoke(subscriber, cert.leafDer)).status, 200);
      assert.equal((await record(cert.serial)).revocation_reason, 0);
    });

    test('every reason a subscriber may not give is badRevocationReason, and nothing is revoked', async () => {
      const cert = await issue(subscriber, [name()]);
      const refused = [
        [2, 'cACompromise'],
        [6, 'certificateHold'],
        [7, 'unassigned'],
        [8, 'removeFromCRL'],
        [10, 'aACompromise'],
        [11, 'not a code'],
        [-1, 'negative'],
      ] as const;
      for (const [reason, what] of refused) {
        const r = await revoke(subscriber, cert.leafDer, reason);
        assertProblem(r, 'badRevocationReason', 400, new RegExp(`reason ${reason}\\b`));
        assert.equal((await record(cert.serial)).status, 'valid', `reason ${reason} (${what}) must not revoke`);
      }
      // Not a reason code at all: the payload is malformed.
      const notInt = await subscriber.post(subscriber.dir.revokeCert as string, { certificate: cert.leafDer.toString('base64url'), reason: 1.5 });
      assertProblem(notInt, 'malformed', 400, /reason/);
      const notNumber = await subscriber.post(subscriber.dir.revokeCert as string, { certificate: cert.leafDer.toString('base64url'), reason: 'keyCompromise' });
      assertProblem(notNumber, 'malformed', 400, /reason/);
      assert.equal((await record(cert.serial)).status, 'valid');
    });

    test('every reason a subscriber may give is accepted and recorded as given', async () => {
      for (const reason of [0, 1, 3, 4, 5, 9]) {
        const cert = await issue(subscriber, [NAMES[0]!]);
        const r = await revoke(subscriber, cert.leafDer, reason);
        assert.equal(r.status, 200, `reason ${reason}: ${r.text}`);
        assert.equal((await record(cert.serial)).revocation_reason, reason);
      }
    });

    test('another account holding valid authorizations for every name revokes it, recorded as cessationOfOperation', async () => {
      const names = [name(), name()];
      const cert = await issue(subscriber, names);
      // The other account proves control of the same names with its own order.
      await issue(other, names);
      const r = await revoke(other, cert.leafDer, 1);
      assert.equal(r.status, 200, r.text);
      const rec = await record(cert.serial);
      assert.equal(rec.status, 'revoked');
      assert.equal(rec.revocation_reason, 5, 'Boulder records a revocation by a non-subscriber as cessationOfOperation');
    });

    test('an account with authorizations for only some of the names is unauthorized', async () => {
      const [a, b] = [name(), name()];
      const cert = await issue(subscriber, [a, b]);
      await issue(other, [a]);
      assertProblem(await revoke(other, cert.leafDer), 'unauthorized', 403, /authorizations for all of its identifiers/);
      assert.equal((await record(cert.serial)).status, 'valid');
    });

    test('an unrelated account is unauthorized', async () => {
      const cert = await issue(subscriber, [name()]);
      assertProblem(await revoke(stranger, cert.leafDer, 0), 'unauthorized', 403);
      assert.equal((await record(cert.serial)).status, 'valid');
    });

    test("signed with the certificate's own key (jwk) it is revoked, recorded as keyCompromise", async () => {
      const cert = await issue(subscriber, [name()]);
      const r = await revoke(stranger, cert.leafDer, 0, { useJwk: true, key: cert.certKey, alg: 'ES256' });
      assert.equal(r.status, 200, r.text);
      const rec = await record(cert.serial);
      assert.equal(rec.status, 'revoked');
      assert.equal(rec.revocation_reason, 1);
      assertProblem(await revoke(stranger, cert.leafDer, 1, { useJwk: true, key: cert.certKey, alg: 'ES256' }), 'alreadyRevoked', 400);
    });

    test('signed with a jwk that is not the certificate key is unauthorized, even an account key', async () => {
      const cert = await issue(subscriber, [name()]);
      assertProblem(await revoke(stranger, cert.leafDer, 1, { useJwk: true, key: generateAccountKey('ES256'), alg: 'ES256' }), 'unauthorized', 403, /certificate's own key/);
      assertProblem(await revoke(subscriber, cert.leafDer, 1, { useJwk: true }), 'unauthorized', 403, /certificate's own key/);
      assert.equal((await record(cert.serial)).status, 'valid');
    });

    test('a certificate revoked as superseded becomes keyCompromise when its own key asks, keeping its revocation date', async () => {
      const cert = await issue(subscriber, [name()]);
      assert.equal((await revoke(subscriber, cert.leafDer, 4)).status, 200);
      const first = await record(cert.serial);
      const r = await revoke(stranger, cert.leafDer, undefined, { useJwk: true, key: cert.certKey, alg: 'ES256' });
      assert.equal(r.status, 200, r.text);
      const now = await record(cert.serial);
      assert.equal(now.revocation_reason, 1);
      assert.equal(now.revoked_at!.getTime(), first.revoked_at!.getTime());
      assertProblem(await revoke(stranger, cert.leafDer, undefined, { useJwk: true, key: cert.certKey, alg: 'ES256' }), 'alreadyRevoked', 400);
    });

    test('certificates this CA cannot revoke: not issued here, never stored, not DER, not base64url', async () => {
      const foreign = await makeCert({ subject: 'CN=elsewhere.attestca.test' });
      const spki = createPublicKey(generateAccountKey('ES256')).export({ type: 'spki', format: 'der' });
      const now = Date.now();
      // Signed by this CA's intermediate but never recorded: no such certificate was issued.
      const unrecorded = await server.ctx.ca.issue({ serial: newSerial(), spki, identifiers: [{ type: 'dns', value: 'ghost.attestca.test' }], notBefore: new Date(now - 60_000), notAfter: new Date(now + 3_600_000), profile: 'server' });
      const cases: [string, unknown, string, number, RegExp][] = [
        ['issued by another CA', foreign.der.toString('base64url'), 'malformed', 404, /not issued by this CA/],
        ['signed here but never issued', unrecorded.toString('base64url'), 'malformed', 404, /unable to find the certificate/],
        ['not DER', Buffer.from('not a certificate').toString('base64url'), 'malformed', 400, /not a DER X\.509 certificate/],
        ['not base64url', '!!!', 'malformed', 400, /base64url/],
        ['not a string', 42, 'malformed', 400, /certificate/],
      ];
      for (const [what, certificate, type, status, detail] of cases) {
        const r = await subscriber.post(subscriber.dir.revokeCert as string, { certificate });
        assert.equal(r.status, status, `${what}: ${r.text}`);
        assertProblem(r, type, status, detail);
      }
      assertProblem(await subscriber.post(subscriber.dir.revokeCert as string, {}), 'malformed', 400, /certificate/);
    });

    test('an expired certificate is unauthorized', async () => {
      const spki = createPublicKey(generateAccountKey('ES256')).export({ type: 'spki', format: 'der' });
      const now = Date.now();
      const serial = newSerial();
      const notBefore = new Date(now - 2 * 86_400_000);
      const notAfter = new Date(now - 86_400_000);
      const identifiers = [{ type: 'dns', value: 'expired.attestca.test' }];
      await reserveSerial(server.ctx.db, serial, null, 'acme', notBefore);
      const der = await server.ctx.ca.issue({ serial, spki, identifiers, notBefore, notAfter, profile: 'server' });
      await storeCertificate(server.ctx.db, { serial, orderId: null, accountId: accountId(subscriber), der, chainPem: toPem(der), identifiers, notBefore, notAfter, createdAt: notBefore });
      assertProblem(await revoke(subscriber, der, 0), 'unauthorized', 403, /expired/);
      assert.equal((await record(serial)).status, 'valid');
    });

    test('a deactivated account is unauthorized, even for its own certificate', async () => {
      const leaving = await TestAcmeClient.connect(server.directory, server.agent);
      await leaving.newAccount();
      const cert = await issue(leaving, [name()]);
      assert.equal((await leaving.post(leaving.kid!, { status: 'deactivated' })).status, 200);
      // RFC 8555 §7.3.6: requests from a deactivated account get 401.
      assertProblem(await revoke(leaving, cert.leafDer, 0), 'unauthorized', 401, /deactivated/);
      assert.equal((await record(cert.serial)).status, 'valid');
    });

    test('each revocation writes one audit line naming the serial, the method and the reason', async () => {
      const cert = await issue(subscriber, [name()]);
      assert.equal((await revoke(subscriber, cert.leafDer, 3)).status, 200);
      const audits = logLines.map((l) => JSON.parse(l)).filter((l) => l.audit === 'revocation' && l.serial === cert.serial);
      assert.equal(audits.length, 1);
      assert.equal(audits[0].method, 'subscriber');
      assert.equal(audits[0].reason, 'affiliationChanged');
      assert.equal(audits[0].account, accountId(subscriber));
      // The CRL was re-signed right after, and says so in its own audit line.
      assert.ok(logLines.some((l) => JSON.parse(l).audit === 'crl'));
    });
  });
}
