// Alternate certificate chains (RFC 8555 §7.4.2) over real HTTPS: our issuer cross-signed by two
// other roots (ca.alternateChains), the default chain linking both with Link rel="alternate",
// each alternate serving the same leaf with its own path, checked with `openssl verify` against
// the other root alone; acme-client's preferredChain picks by issuer name; bad chains stop the CA
// from starting with the key and the file named. On PGlite: the chains are files, not rows.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import acme from 'acme-client';
import { checkAlternateChains } from '../src/ca/alternate-chains.js';
import { createDevHierarchy, devPassphrase, loadHierarchy, type Hierarchy } from '../src/ca/hierarchy.js';
import { ConfigError } from '../src/config.js';
import { toPem } from '../src/pki/pem.js';
import { TestAcmeClient } from './helpers/acme.js';
import { startTestDns, type TestDns } from './helpers/dns.js';
import { issueCertificate } from './helpers/flow.js';
import { startHttp01Responder } from './helpers/net.js';
import { opensslVerify } from './helpers/openssl.js';
import { makeCert, type TestCert } from './helpers/pki.js';
import { assertProblem } from './helpers/problem.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const NAME = 'chains.attestca.test';
const certs = (pem: string): string[] => pem.split(/(?=-----BEGIN CERTIFICATE-----)/).filter((c) => c.includes('BEGIN'));
const links = (h: string | string[] | undefined): string[] => (Array.isArray(h) ? h : h ? [h] : []).flatMap((v) => v.split(/,\s*(?=<)/));
const alternates = (h: string | string[] | undefined): string[] =>
  links(h)
    .filter((l) => /;\s*rel="alternate"/.test(l))
    .map((l) => /^<([^>]+)>/.exec(l)![1]!);

interface Pki {
  dataDir: string;
  hierarchy: Hierarchy;
  otherRoot: TestCert;
  thirdRoot: TestCert;
  /** Our issuer's subject and key, signed by otherRoot / thirdRoot. */
  crossOther: TestCert;
  crossThird: TestCert;
  file(name: string, pem: string): string;
}

/** A data directory with a CA, and two roots that cross-sign its issuer. */
async function makePki(): Promise<Pki> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'attestca-chains-'));
  const caDir = path.join(dataDir, 'ca');
  await createDevHierarchy(caDir, new Date(Date.now() - 3_600_000));
  const hierarchy = loadHierarchy(caDir, devPassphrase(caDir));
  const subject = hierarchy.issuerCert.subject;
  const otherRoot = await makeCert({ subject: 'CN=Other Root CA, O=Elsewhere', ca: true });
  const thirdRoot = await makeCert({ subject: 'CN=Third Root CA, O=Elsewhere', ca: true });
  const crossOther = await makeCert({ subject, issuer: otherRoot, ca: true, pathLen: 0, key: hierarchy.issuerKey });
  const crossThird = await makeCert({ subject, issuer: thirdRoot, ca: true, pathLen: 0, key: hierarchy.issuerKey });
  const file = (name: string, pem: string) => {
    const f = path.join(dataDir, name);
    writeFileSync(f, pem);
    return f;
  };
  return { dataDir, hierarchy, otherRoot, thirdRoot, crossOther, crossThird, file };
}

const pem = (...c: TestCert[]): string => c.map((x) => toPem(x.der)).join('');

describe('alternate chains', () => {
  let pki: Pki;
  let dns: TestDns;
  let responder: Awaited<ReturnType<typeof startHttp01Responder>>;
  let server: TestServer;
  let client: TestAcmeClient;
  let issued: Awaited<ReturnType<typeof issueCertificate>>;
  let certUrl: string;

  before(async () => {
    pki = await makePki();
    dns = await startTestDns({ [NAME]: '127.0.0.1' });
    responder = await startHttp01Responder();
    const one = pki.file('alt-other.pem', pem(pki.crossOther, pki.otherRoot));
    const two = pki.file('alt-third.pem', pem(pki.crossThird));
    server = await startTestServer({ backend: 'pglite', dataDir: pki.dataDir, dnsServer: dns.server, http01Port: responder.port, configYaml: `ca:\n  alternateChains: [${one}, ${two}]\n` });
    client = await TestAcmeClient.connect(server.directory, server.agent);
    assert.equal((await client.newAccount()).status, 201);
    issued = await issueCertificate(client, responder, [{ type: 'dns', value: NAME }]);
    certUrl = issued.order.certificate;
  });
  after(async () => {
    await server?.stop();
    await responder?.close();
    await dns?.close();
    rmSync(pki.dataDir, { recursive: true, force: true });
  });

  test('the default chain links every alternate with rel="alternate" and verifies to our root', () => {
    const r = issued.certResponse;
    assert.equal(r.status, 200);
    assert.deepEqual(alternates(r.headers.link), [`${certUrl}/1`, `${certUrl}/2`]);
    assert.ok(links(r.headers.link).some((l) => /rel="index"/.test(l)), 'the directory link stays');
    assert.match(opensslVerify(server.rootsPem, r.text), /leaf\.pem: OK/);
  });

  test('alternate 1: the same leaf, then the cross-signed issuer; verifies with the other root alone, not ours', async () => {
    const r = await client.post(`${certUrl}/1`, '');
    assert.equal(r.status, 200, r.text);
    assert.match(String(r.headers['content-type']), /^application\/pem-certificate-chain/);
    const chain = certs(r.text);
    assert.equal(chain[0], certs(issued.chainPem)[0], 'the same leaf');
    assert.equal(chain.length, 3);
    assert.match(opensslVerify(pem(pki.otherRoot), r.text), /leaf\.pem: OK/);
    assert.throws(() => opensslVerify(server.rootsPem, r.text), /unable to get|verification failed/i);
    assert.throws(() => opensslVerify(pem(pki.otherRoot), issued.chainPem), /unable to get|verification failed/i, 'the default chain does not lead to the other root');
    assert.deepEqual(alternates(r.headers.link), [certUrl, `${certUrl}/2`], 'links the default and the other alternate (as Boulder does)');
  });

  test('alternate 2 verifies with the third root', async () => {
    const r = await client.post(`${certUrl}/2`, '');
    assert.equal(r.status, 200, r.text);
    assert.match(opensslVerify(pem(pki.thirdRoot), r.text), /leaf\.pem: OK/);
    assert.deepEqual(alternates(r.headers.link), [certUrl, `${certUrl}/1`]);
  });

  test('a chain index out of range, or not a number, is 404 malformed, never 500', async () => {
    for (const n of ['0', '3', '01', 'x', '99999']) {
      const p = assertProblem(await client.post(`${certUrl}/${n}`, ''), 'malformed', 404);
      assert.match(p.detail, /alternate chains 1 to 2/);
    }
  });

  test("another account cannot read an alternate chain", async () => {
    const other = await TestAcmeClient.connect(server.directory, server.agent);
    assert.equal((await other.newAccount()).status, 201);
    assertProblem(await other.post(`${certUrl}/1`, ''), 'unauthorized', 403);
  });

  test('acme-client picks the chain by issuer name with preferredChain', async () => {
    acme.axios.defaults.httpsAgent = server.agent;
    const c = new acme.Client({ directoryUrl: server.directory, accountKey: await acme.crypto.createPrivateEcdsaKey() });
    const [, csr] = await acme.crypto.createCsr({ commonName: NAME, altNames: [NAME] });
    const get = (preferredChain: string) =>
      c.auto({
        csr,
        termsOfServiceAgreed: true,
        challengePriority: ['http-01'],
        skipChallengeVerification: true,
        challengeCreateFn: async (_authz, challenge, keyAuthorization) => responder.set(challenge.token, keyAuthorization),
        challengeRemoveFn: async () => {},
        preferredChain,
      });
    const other = await get('Other Root CA');
    assert.match(opensslVerify(pem(pki.otherRoot), other), /leaf\.pem: OK/);
    const third = await get('Third Root CA');
    assert.match(opensslVerify(pem(pki.thirdRoot), third), /leaf\.pem: OK/);
    const ours = await get('attestca Development Root CA');
    assert.match(opensslVerify(server.rootsPem, ours), /leaf\.pem: OK/);
  });
});

describe('without alternate chains', () => {
  let dns: TestDns;
  let responder: Awaited<ReturnType<typeof startHttp01Responder>>;
  let server: TestServer;
  before(async () => {
    dns = await startTestDns({ [NAME]: '127.0.0.1' });
    responder = await startHttp01Responder();
    server = await startTestServer({ backend: 'pglite', dnsServer: dns.server, http01Port: responder.port });
  });
  after(async () => {
    await server?.stop();
    await responder?.close();
    await dns?.close();
  });

  test('no rel="alternate" links, and /1 is 404 malformed', async () => {
    const client = await TestAcmeClient.connect(server.directory, server.agent);
    assert.equal((await client.newAccount()).status, 201);
    const issued = await issueCertificate(client, responder, [{ type: 'dns', value: NAME }]);
    assert.deepEqual(alternates(issued.certResponse.headers.link), []);
    const p = assertProblem(await client.post(`${issued.order.certificate}/1`, ''), 'malformed', 404);
    assert.match(p.detail, /no alternate chains/);
  });
});

describe('alternate chains that do not fit stop the CA from starting', () => {
  let pki: Pki;
  before(async () => {
    pki = await makePki();
  });
  after(() => rmSync(pki.dataDir, { recursive: true, force: true }));

  const check = (name: string, text: string) => () => checkAlternateChains(Buffer.from(pki.hierarchy.issuerCert.rawData), [{ file: `/etc/attestca/${name}`, pem: text }]);
  const refused = (message: RegExp) => (err: unknown) => err instanceof ConfigError && /^ca\.alternateChains: \/etc\/attestca\//.test(err.message) && message.test(err.message);

  test('a cross-sign of another subject', async () => {
    const impostor = await makeCert({ subject: 'CN=Impostor CA', issuer: pki.otherRoot, ca: true, key: pki.hierarchy.issuerKey });
    assert.throws(check('a.pem', pem(impostor, pki.otherRoot)), refused(/a\.pem: the first certificate's subject "CN=Impostor CA" is not the issuing CA's/));
  });

  test('a cross-sign of another key', async () => {
    const otherKey = await makeCert({ subject: pki.hierarchy.issuerCert.subject, issuer: pki.otherRoot, ca: true });
    assert.throws(check('b.pem', pem(otherKey)), refused(/b\.pem: the first certificate .* has another public key than the issuing CA/));
  });

  test('a certificate not signed by the next one', () => {
    assert.throws(check('c.pem', pem(pki.crossOther, pki.thirdRoot)), refused(/c\.pem: certificate 1 .* is not signed by certificate 2 \("CN=Third Root CA/));
  });

  test('a file without certificates, and one that is not a CA', async () => {
    assert.throws(check('d.pem', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'), refused(/d\.pem: not a DER X\.509 certificate/));
    const leafish = await makeCert({ subject: pki.hierarchy.issuerCert.subject, issuer: pki.otherRoot, ca: false, key: pki.hierarchy.issuerKey });
    assert.throws(check('e.pem', pem(leafish)), refused(/e\.pem: certificate 1 .* is not a CA certificate/));
  });

  test('serve refuses to start, naming the key and the file; an unreadable file too', async () => {
    const bad = pki.file('bad.pem', pem(pki.crossOther, pki.thirdRoot));
    await assert.rejects(startTestServer({ backend: 'pglite', dataDir: pki.dataDir, configYaml: `ca:\n  alternateChains: [${bad}]\n` }), (err: unknown) => err instanceof ConfigError && err.message.startsWith(`ca.alternateChains: ${bad}: certificate 1`));
    const missing = path.join(pki.dataDir, 'missing.pem');
    await assert.rejects(startTestServer({ backend: 'pglite', dataDir: pki.dataDir, configYaml: `ca:\n  alternateChains: [${missing}]\n` }), /ca\.alternateChains: .*missing\.pem cannot be read \(ENOENT\)/);
  });
});
