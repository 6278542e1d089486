// The CRL (RFC 5280 §5) and the OCSP responder (RFC 6960) as relying parties use them: openssl
// fetches and verifies them over real HTTPS against the CA's roots, before and after a
// revocation, on both storage backends. Then the edges: SHA-256 CertIDs, GET requests (RFC 6960
// A.1), unknown serials, other issuers, garbage, the delegated signer's profile and renewal, and
// CRL numbers that stay unique when two instances sign at once.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { devPassphrase } from '../src/ca/hierarchy.js';
import { OcspResponder } from '../src/ca/ocsp.js';
import { OcspSignerStore } from '../src/ca/ocsp-signer.js';
import { fixedClock } from '../src/clock.js';
import { refreshCrl } from '../src/ra/crl.js';
import { ensureOcspSigner } from '../src/ra/ocsp-signer.js';
import { TestAcmeClient } from './helpers/acme.js';
import { backends, createPostgresDatabase } from './helpers/db.js';
import { startTestDns, type TestDns } from './helpers/dns.js';
import { issueCertificate } from './helpers/flow.js';
import { startHttp01Responder } from './helpers/net.js';
import { makeCert } from './helpers/pki.js';
import { fetchBinary, ocspResponseStatus, runTool, splitChain } from './helpers/revocation.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const NAMES = ['crl-a.attestca.test', 'crl-b.attestca.test'];

async function openssl(args: string[]): Promise<{ stdout: string; stderr: string }> {
  const r = await runTool('openssl', args);
  assert.equal(r.code, 0, `openssl ${args.join(' ')} failed:\n${r.stderr}${r.stdout}`);
  return r;
}

for (const backend of backends) {
  describe(`CRL and OCSP on ${backend}`, () => {
    let dns: TestDns;
    let responder: Awaited<ReturnType<typeof startHttp01Responder>>;
    let server: TestServer;
    let client: TestAcmeClient;
    const dir = mkdtempSync(path.join(os.tmpdir(), 'attestca-crl-ocsp-'));
    const file = (name: string) => path.join(dir, name);
    let revoked: ReturnType<typeof splitChain>;
    let kept: ReturnType<typeof splitChain>;
    let crlUrl: string;

    const fetchCrl = async (name: string) => {
      const r = await fetchBinary(crlUrl, server.agent);
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-type'], 'application/pkix-crl');
      writeFileSync(file(name), r.body);
      return r.body;
    };
    /** `openssl crl -verify` against the chain, and the CRL's text. */
    const verifiedCrlText = async (name: string) => {
      const v = await openssl(['crl', '-in', file(name), '-inform', 'DER', '-CAfile', file('chain.pem'), '-verify', '-noout']);
      assert.match(v.stderr + v.stdout, /verify OK/);
      return (await openssl(['crl', '-in', file(name), '-inform', 'DER', '-noout', '-text'])).stdout;
    };
    /** `openssl ocsp` against the responder over HTTPS; the response must verify against the roots. */
    const ocsp = async (leaf: string, digest: 'sha1' | 'sha256' = 'sha1') => {
      const r = await openssl(['ocsp', '-issuer', file('int.pem'), `-${digest}`, '-cert', file(leaf), '-url', `${server.baseUrl}/ocsp`, '-CAfile', file('roots.pem'), '-resp_text']);
      assert.match(r.stderr, /Response verify OK/, r.stderr);
      assert.doesNotMatch(r.stderr + r.stdout, /WARNING/);
      return r.stdout;
    };

    before(async () => {
      dns = await startTestDns(Object.fromEntries(NAMES.map((n) => [n, '127.0.0.1'])));
      responder = await startHttp01Responder();
      server = await startTestServer({ backend, dnsServer: dns.server, http01Port: responder.port });
      client = await TestAcmeClient.connect(server.directory, server.agent);
      await client.newAccount();
      revoked = splitChain((await issueCertificate(client, responder, [{ type: 'dns', value: NAMES[0]! }])).chainPem);
      kept = splitChain((await issueCertificate(client, responder, [{ type: 'dns', value: NAMES[1]! }])).chainPem);
      writeFileSync(file('revoked.pem'), revoked.leafPem);
      writeFileSync(file('kept.pem'), kept.leafPem);
      writeFileSync(file('int.pem'), revoked.intermediatesPem);
      writeFileSync(file('roots.pem'), server.rootsPem);
      writeFileSync(file('chain.pem'), revoked.intermediatesPem + server.rootsPem);
      crlUrl = `${server.baseUrl}/crl/${server.ctx.ca.issuerId}.crl`;
    });
    after(async () => {
      await server?.stop();
      await responder?.close();
      await dns?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    test('every certificate names the CRL, the OCSP responder and the issuer certificate; the issuer URL serves the intermediate', async () => {
      const text = (await openssl(['x509', '-in', file('revoked.pem'), '-noout', '-ext', 'crlDistributionPoints,authorityInfoAccess'])).stdout;
      assert.match(text, new RegExp(`URI:${crlUrl.replace(/[.]/g, '\\.')}`));
      assert.match(text, new RegExp(`OCSP - URI:${server.baseUrl}/ocsp\\b`));
      assert.match(text, new RegExp(`CA Issuers - URI:${server.baseUrl}/ca/issuer\\.der`));
      const issuer = await fetchBinary(`${server.baseUrl}/ca/issuer.der`, server.agent);
      assert.equal(issuer.status, 200);
      assert.equal(issuer.headers['content-type'], 'application/pkix-cert');
      assert.ok(new X509Certificate(revoked.leafDer).checkIssued(new X509Certificate(issuer.body)));
      assert.equal(new X509Certificate(issuer.body).toString(), new X509Certificate(revoked.intermediatesPem).toString());
    });

    test('before any revocation: the CRL verifies with openssl, has a number and the AKI, and lists nothing', async () => {
      await fetchCrl('before.crl');
      const text = await verifiedCrlText('before.crl');
      assert.match(text, /Version 2/);
      assert.match(text, /X509v3 CRL Number: \n\s+\d+/);
      assert.match(text, /X509v3 Authority Key Identifier/);
      assert.match(text, /Next Update: /);
      assert.match(text, /No Revoked Certificates/);
    });

    test('before any revocation: OCSP over HTTPS says good, with SHA-1 and with SHA-256 CertIDs, nonce echoed', async () => {
      for (const digest of ['sha1', 'sha256'] as const) {
        const out = await ocsp('revoked.pem', digest);
        assert.match(out, /revoked\.pem: good/);
        assert.match(out, new RegExp(`Hash Algorithm: ${digest}\n`));
        assert.match(out, /OCSP Nonce/);
        assert.match(out, /This Update: .*\n\s+Next Update: /);
      }
    });

    test('after a revocation: the CRL lists the serial with its reason and date under a higher number; OCSP says revoked, the other certificate stays good', async () => {
      const numberOf = (text: string) => Number(/X509v3 CRL Number: \n\s+(\d+)/.exec(text)![1]);
      const before = numberOf(await verifiedCrlText('before.crl'));
      const r = await client.post(client.dir.revokeCert as string, { certificate: revoked.leafDer.toString('base64url'), reason: 1 });
      assert.equal(r.status, 200, r.text);

      await fetchCrl('after.crl');
      const text = await verifiedCrlText('after.crl');
      assert.ok(numberOf(text) > before, 'the CRL number grows');
      const entry = new RegExp(`Serial Number: ${revoked.serial.toUpperCase()}\\n\\s+Revocation Date: [^\\n]+\\n\\s+CRL entry extensions:\\n\\s+X509v3 CRL Reason Code: \\n\\s+Key Compromise`);
      assert.match(text, entry);
      assert.doesNotMatch(text, new RegExp(kept.serial.toUpperCase()));

      const out = await ocsp('revoked.pem');
      assert.match(out, /revoked\.pem: revoked/);
      assert.match(out, /Reason: keyCompromise/);
      assert.match(out, /Revocation Time: /);
      assert.match(await ocsp('kept.pem', 'sha256'), /kept\.pem: good/);
    });

    test('OCSP by GET (RFC 6960 A.1): the URL-encoded base64 request gives the same answer', async () => {
      await openssl(['ocsp', '-issuer', file('int.pem'), '-cert', file('revoked.pem'), '-no_nonce', '-reqout', file('req.der')]);
      const b64 = readFileSync(file('req.der')).toString('base64');
      const r = await fetchBinary(`${server.baseUrl}/ocsp/${encodeURIComponent(b64)}`, server.agent);
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-type'], 'application/ocsp-response');
      assert.equal(r.headers['replay-nonce'], undefined, 'OCSP is not ACME: no nonce');
      writeFileSync(file('resp.der'), r.body);
      const out = await openssl(['ocsp', '-respin', file('resp.der'), '-issuer', file('int.pem'), '-cert', file('revoked.pem'), '-CAfile', file('roots.pem'), '-no_nonce']);
      assert.match(out.stderr, /Response verify OK/);
      assert.match(out.stdout, /revoked\.pem: revoked/);
      // Unencoded slashes and pluses, as many clients send them, work too.
      const raw = await fetchBinary(`${server.baseUrl}/ocsp/${b64}`, server.agent);
      assert.equal(ocspResponseStatus(raw.body), 0);
    });

    test('a serial this CA never issued is unknown', async () => {
      const out = await openssl(['ocsp', '-issuer', file('int.pem'), '-serial', '0x0123456789abcdef', '-url', `${server.baseUrl}/ocsp`, '-CAfile', file('roots.pem')]);
      assert.match(out.stderr, /Response verify OK/);
      assert.match(out.stdout, /0x0123456789abcdef: unknown/);
    });

    test("a request about another issuer's certificate is refused with the unauthorized status", async () => {
      const foreign = await makeCert({ subject: 'CN=Foreign CA', ca: true });
      writeFileSync(file('foreign.pem'), foreign.cert.toString('pem'));
      const r = await runTool('openssl', ['ocsp', '-issuer', file('foreign.pem'), '-serial', `0x${revoked.serial}`, '-url', `${server.baseUrl}/ocsp`, '-CAfile', file('roots.pem')]);
      assert.match(r.stdout + r.stderr, /Responder Error: unauthorized \(6\)/);
    });

    test('bytes that are not an OCSP request get malformedRequest, by POST and by GET', async () => {
      const post = (body: Buffer, type = 'application/ocsp-request') => fetchBinary(`${server.baseUrl}/ocsp`, server.agent, { method: 'POST', headers: { 'content-type': type }, body });
      const request = readFileSync(file('req.der'));
      const cases: [string, Promise<Awaited<ReturnType<typeof post>>>][] = [
        ['garbage', post(Buffer.from('not an OCSP request'))],
        ['empty', post(Buffer.alloc(0))],
        ['truncated', post(request.subarray(0, request.length - 3))],
        ['trailing bytes', post(Buffer.concat([request, Buffer.from([0])]))],
        ['wrong content type', post(request, 'application/octet-stream')],
        ['GET of text that is not base64', fetchBinary(`${server.baseUrl}/ocsp/not*base64`, server.agent)],
        ['GET of a bad percent-encoding', fetchBinary(`${server.baseUrl}/ocsp/%ZZ`, server.agent)],
        ['GET of nothing', fetchBinary(`${server.baseUrl}/ocsp/`, server.agent)],
      ];
      for (const [what, pending] of cases) {
        const r = await pending;
        assert.equal(r.status, 200, what);
        assert.equal(r.headers['content-type'], 'application/ocsp-response', what);
        assert.equal(ocspResponseStatus(r.body), 1, `${what}: malformedRequest`);
      }
      assert.equal(ocspResponseStatus((await post(request)).body), 0, 'the same request, intact, is answered');
    });

    test('the CRL of an issuer this CA does not have is 404', async () => {
      const r = await fetchBinary(`${server.baseUrl}/crl/0000000000000000.crl`, server.agent);
      assert.equal(r.status, 404);
      assert.equal(JSON.parse(r.body.toString()).type, 'urn:ietf:params:acme:error:malformed');
    });

    test('the delegated OCSP signing certificate: EKU OCSPSigning, nocheck, issued by the intermediate, key encrypted under <dataDir>/ca', async () => {
      const signerFile = path.join(server.dataDir, 'ca', 'ocsp-responder.pem');
      const pem = readFileSync(signerFile, 'utf8');
      assert.match(pem, /BEGIN CERTIFICATE/);
      assert.match(pem, /BEGIN ENCRYPTED PRIVATE KEY/);
      const text = (await openssl(['x509', '-in', signerFile, '-noout', '-text'])).stdout;
      assert.match(text, /X509v3 Extended Key Usage: \n\s+OCSP Signing\n/);
      assert.match(text, /OCSP No Check/);
      assert.match(text, /CA:FALSE/);
      assert.match((await openssl(['verify', '-CAfile', file('roots.pem'), '-untrusted', file('int.pem'), '-purpose', 'ocsphelper', signerFile])).stdout, /OK/);
      await openssl(['pkey', '-in', signerFile, '-passin', `file:${path.join(server.dataDir, 'ca', 'dev-passphrase')}`, '-noout']);
      // Recorded like every certificate the CA signs.
      const serial = new X509Certificate(pem).serialNumber.toLowerCase();
      const { rows } = await server.ctx.db.query<{ purpose: string }>('SELECT s.purpose FROM serials s JOIN certificates c USING (serial) WHERE serial = $1', [serial]);
      assert.deepEqual(rows, [{ purpose: 'ocsp-signer' }]);
    });

    test('the signing certificate is kept while more than a third of its validity is left, renewed after, and shared through the file', async () => {
      const caDir = mkdtempSync(path.join(os.tmpdir(), 'attestca-ocsp-signer-'));
      try {
        const store = new OcspSignerStore(caDir, devPassphrase(path.join(server.dataDir, 'ca')));
        const start = Date.now();
        const clock = fixedClock(new Date(start));
        const ctx = { ...server.ctx, clock, ocsp: new OcspResponder(server.ctx.ca.issuerDer) };
        const serialInFile = () => new X509Certificate(readFileSync(store.file, 'utf8')).serialNumber;
        await ensureOcspSigner(ctx, store);
        const first = serialInFile();
        // 30 days of validity: at day 19 more than a third is left, at day 21 less.
        clock.set(new Date(start + 19 * 86_400_000));
        await ensureOcspSigner(ctx, store);
        assert.equal(serialInFile(), first);
        // Another instance starting now takes the stored certificate instead of making one.
        const second = { ...ctx, ocsp: new OcspResponder(server.ctx.ca.issuerDer) };
        await ensureOcspSigner(second, store);
        assert.equal(serialInFile(), first);
        assert.equal(second.ocsp.signerNotAfter?.getTime(), ctx.ocsp.signerNotAfter?.getTime());
        clock.set(new Date(start + 21 * 86_400_000));
        await ensureOcspSigner(ctx, store);
        assert.notEqual(serialInFile(), first);
        assert.ok(ctx.ocsp.signerNotAfter!.getTime() > start + 50 * 86_400_000);
      } finally {
        rmSync(caDir, { recursive: true, force: true });
      }
    });

    test('a CRL older than crl.refresh is signed again; a fresh one is not', async () => {
      const fresh = await refreshCrl(server.ctx);
      assert.equal(fresh, undefined, 'the CRL signed at the revocation is still fresh');
      const later = await refreshCrl({ ...server.ctx, clock: fixedClock(new Date(Date.now() + server.ctx.config.crl.refresh + 1000)) });
      assert.ok(later, 'an hour later a new CRL is due');
      assert.equal(await refreshCrl({ ...server.ctx, clock: fixedClock(new Date(Date.now() + server.ctx.config.crl.refresh + 2000)) }), undefined);
    });
  });
}

describe('two instances signing CRLs on one Postgres database', () => {
  let database: Awaited<ReturnType<typeof createPostgresDatabase>>;
  let a: TestServer;
  let b: TestServer;

  before(async () => {
    database = await createPostgresDatabase();
    a = await startTestServer({ backend: 'postgres', databaseUrl: database.url });
    b = await startTestServer({ backend: 'postgres', databaseUrl: database.url, dataDir: a.dataDir });
  });
  after(async () => {
    await b?.stop();
    await a?.stop();
    await database?.drop();
  });

  test('CRL numbers stay unique and grow when both sign at once', async () => {
    // Each instance signs the first CRL on start if there is none; wait for that one.
    let start = 0;
    for (let i = 0; i < 100 && !start; i++) {
      const { rows } = await a.ctx.db.query<{ crl_number: number }>('SELECT crl_number FROM crls');
      start = rows[0]?.crl_number ?? 0;
      if (!start) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(start >= 1, 'a CRL was signed on start');
    const signed = await Promise.all(Array.from({ length: 10 }, (_, i) => refreshCrl((i % 2 ? b : a).ctx, true)));
    const numbers = signed.map((c) => c!.number).sort((x, y) => x - y);
    assert.deepEqual(numbers, Array.from({ length: 10 }, (_, i) => start + i + 1));
    const served = await fetchBinary(`${b.baseUrl}/crl/${b.ctx.ca.issuerId}.crl`, b.agent);
    assert.ok(served.body.equals(signed.find((c) => c!.number === start + 10)!.der), 'both instances serve the latest CRL');
  });
});
