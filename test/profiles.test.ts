// Certificate profiles (draft-ietf-acme-profiles) over real HTTPS: the directory's meta.profiles,
// newOrder's `profile` (named, defaulted, unknown, refusing an identifier type), and the
// certificate each profile gives, read back with openssl: validity, EKU, keyEncipherment, CN.
// Issuance on both backends (migrations/0007_profiles.sql stores the profile with the order);
// the refusals, a restart that drops a profile, and the config checks on PGlite.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../src/config.js';
import { x509 } from '../src/pki/x509.js';
import { request, TestAcmeClient } from './helpers/acme.js';
import { makeCsr, type CsrOptions } from './helpers/csr.js';
import { backends, type Backend } from './helpers/db.js';
import { startTestDns, type TestDns } from './helpers/dns.js';
import { startHttp01Responder } from './helpers/net.js';
import { opensslText, opensslVerify } from './helpers/openssl.js';
import { assertProblem } from './helpers/problem.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const NAME = 'profiles.attestca.test';
const H = 3_600_000;

const PROFILES = `
ca:
  certValidity: 24h
  maxValidity: 30d
acme:
  defaultProfile: classic
  profiles:
    classic:
      description: TLS server and client certificates, 24 hours
    shortlived:
      description: https://ca.example.com/docs/profiles#shortlived
      validity: 6h
      extendedKeyUsage: [serverAuth]
      keyEncipherment: false
      omitCommonName: true
      identifierTypes: [dns]
    devices:
      description: Device identity certificates (device-attest-01)
      identifierTypes: [permanent-identifier, hardware-module]
`;

interface Env {
  server: TestServer;
  client: TestAcmeClient;
  responder: Awaited<ReturnType<typeof startHttp01Responder>>;
  dns: TestDns;
}

async function setUp(backend: Backend, configYaml: string, dataDir?: string): Promise<Env> {
  const dns = await startTestDns({ [NAME]: '127.0.0.1' });
  const responder = await startHttp01Responder();
  const server = await startTestServer({ backend, dnsServer: dns.server, http01Port: responder.port, configYaml, dataDir });
  const client = await TestAcmeClient.connect(server.directory, server.agent);
  assert.equal((await client.newAccount()).status, 201);
  return { server, client, responder, dns };
}

async function tearDown(e: Partial<Env> | undefined): Promise<void> {
  await e?.server?.stop();
  await e?.responder?.close();
  await e?.dns?.close();
}

/** newOrder with `extra` (profile, notAfter), its challenges answered: the ready order and its URL. */
async function readyOrder(e: Env, extra: Record<string, unknown>) {
  const r = await e.client.post(e.client.dir.newOrder, { identifiers: [{ type: 'dns', value: NAME }], ...extra });
  assert.equal(r.status, 201, r.text);
  for (const authzUrl of r.json.authorizations as string[]) {
    const authz = (await e.client.post(authzUrl, '')).json;
    if (authz.status === 'valid') continue; // reused (RFC 8555 §7.4): profiles do not affect reuse
    const ch = authz.challenges.find((c: { type: string }) => c.type === 'http-01');
    e.responder.set(ch.token, e.client.keyAuthorization(ch.token));
    assert.equal((await e.client.post(ch.url, {})).status, 200);
  }
  const order = await e.client.poll(r.headers.location as string);
  assert.equal(order.status, 'ready', JSON.stringify(order));
  return { created: r.json, url: r.headers.location as string, order };
}

async function finalize(e: Env, url: string, order: { finalize: string }, csr: CsrOptions = {}) {
  const fin = await e.client.post(order.finalize, { csr: (await makeCsr({ dns: [NAME], ...csr })).b64url });
  assert.equal(fin.status, 200, fin.text);
  const done = fin.json.status === 'valid' ? fin.json : await e.client.poll(url);
  const chainPem = (await e.client.post(done.certificate, '')).text;
  const leafPem = chainPem.split(/(?=-----BEGIN CERTIFICATE-----)/)[0]!;
  return { done, chainPem, leafPem, leaf: new x509.X509Certificate(leafPem) };
}

const lifetime = (leaf: InstanceType<typeof x509.X509Certificate>): number => leaf.notAfter.getTime() - leaf.notBefore.getTime();
const BACKDATE = 60_000;

for (const backend of backends) {
  describe(`certificate profiles on ${backend}`, () => {
    let e: Env;
    before(async () => {
      e = await setUp(backend, PROFILES);
    });
    after(() => tearDown(e));

    test('the directory advertises each profile with its description (meta.profiles)', async () => {
      const dir = (await request(e.server.directory, e.server.agent)).json;
      assert.deepEqual(dir.meta.profiles, {
        classic: 'TLS server and client certificates, 24 hours',
        shortlived: 'https://ca.example.com/docs/profiles#shortlived',
        devices: 'Device identity certificates (device-attest-01)',
      });
    });

    test('a named profile: the order shows it, the certificate has its validity, EKU, key usage and empty subject', async () => {
      const { created, url, order } = await readyOrder(e, { profile: 'shortlived' });
      assert.equal(created.profile, 'shortlived');
      assert.equal(order.profile, 'shortlived');
      const { done, chainPem, leafPem, leaf } = await finalize(e, url, order, { keyType: 'rsa-2048', commonName: NAME });
      assert.equal(done.profile, 'shortlived');
      assert.equal(lifetime(leaf), 6 * H + BACKDATE, 'acme.profiles.shortlived.validity, plus ca.backdate');
      const text = opensslText(leafPem);
      assert.match(text, /X509v3 Extended Key Usage: *\n *TLS Web Server Authentication\n/);
      assert.doesNotMatch(text, /TLS Web Client Authentication/);
      assert.match(text, /X509v3 Key Usage: critical\n *Digital Signature\n/, 'no Key Encipherment for the RSA key (keyEncipherment: false)');
      assert.match(text, /Subject: *\n/, 'omitCommonName: an empty subject, even though the CSR asked for a CN');
      assert.match(text, /X509v3 Subject Alternative Name: critical\n *DNS:profiles\.attestca\.test/, 'with an empty subject the SAN is critical (RFC 5280 §4.2.1.6)');
      assert.match(opensslVerify(e.server.rootsPem, chainPem), /leaf\.pem: OK/);
    });

    test('no profile in newOrder: acme.defaultProfile is applied and shown', async () => {
      const { created, url, order } = await readyOrder(e, {});
      assert.equal(created.profile, 'classic');
      const { leafPem, leaf } = await finalize(e, url, order, { keyType: 'rsa-2048' });
      assert.equal(lifetime(leaf), 24 * H + BACKDATE, 'classic sets no validity: ca.certValidity');
      const text = opensslText(leafPem);
      assert.match(text, /TLS Web Server Authentication, TLS Web Client Authentication/);
      assert.match(text, /Digital Signature, Key Encipherment/);
      assert.match(text, /Subject: CN ?= ?profiles\.attestca\.test/);
    });
  });
}

describe('certificate profiles: refusals', () => {
  let e: Env;
  before(async () => {
    e = await setUp('pglite', PROFILES);
  });
  after(() => tearDown(e));

  test('an unknown profile is invalidProfile (400) naming the offered ones', async () => {
    const r = await e.client.post(e.client.dir.newOrder, { identifiers: [{ type: 'dns', value: NAME }], profile: 'longlived' });
    const p = assertProblem(r, 'invalidProfile', 400);
    assert.match(p.detail, /"longlived" is not offered; this CA offers classic, shortlived, devices/);
  });

  test('a profile that is not a string is malformed', async () => {
    const r = await e.client.post(e.client.dir.newOrder, { identifiers: [{ type: 'dns', value: NAME }], profile: 7 });
    assertProblem(r, 'malformed', 400);
  });

  test('an identifier type the profile does not issue for is invalidProfile (draft §4), one rejectedIdentifier subproblem per identifier', async () => {
    const r = await e.client.post(e.client.dir.newOrder, { identifiers: [{ type: 'dns', value: NAME }, { type: 'ip', value: '127.0.0.1' }], profile: 'shortlived' });
    const p = assertProblem(r, 'invalidProfile', 400);
    assert.equal(p.subproblems?.length, 1);
    assert.deepEqual(p.subproblems![0]!.identifier, { type: 'ip', value: '127.0.0.1' });
    assert.match(p.subproblems![0]!.detail, /acme\.profiles\.shortlived\.identifierTypes: dns/);
    // The same identifiers under the default profile are accepted.
    assert.equal((await e.client.post(e.client.dir.newOrder, { identifiers: [{ type: 'dns', value: NAME }, { type: 'ip', value: '127.0.0.1' }] })).status, 201);
  });

  test('a profile restricted to device identifiers takes device orders only; device orders keep device-attest-01', async () => {
    const device = { type: 'permanent-identifier', value: 'C02PROFILE1' };
    const ok = await e.client.post(e.client.dir.newOrder, { identifiers: [device], profile: 'devices' });
    assert.equal(ok.status, 201, ok.text);
    assert.equal(ok.json.profile, 'devices');
    const authz = (await e.client.post(ok.json.authorizations[0], '')).json;
    assert.deepEqual(authz.challenges.map((c: { type: string }) => c.type), ['device-attest-01']);
    // The default profile allows every type: a device that names no profile (Apple's never do) is served.
    const byDefault = await e.client.post(e.client.dir.newOrder, { identifiers: [{ ...device, value: 'C02PROFILE2' }] });
    assert.equal(byDefault.status, 201, byDefault.text);
    assert.equal(byDefault.json.profile, 'classic');
    const dns = assertProblem(await e.client.post(e.client.dir.newOrder, { identifiers: [{ type: 'dns', value: NAME }], profile: 'devices' }), 'invalidProfile', 400);
    assert.deepEqual(dns.subproblems?.map((p) => p.identifier), [{ type: 'dns', value: NAME }]);
    assertProblem(await e.client.post(e.client.dir.newOrder, { identifiers: [device], profile: 'shortlived' }), 'invalidProfile', 400);
  });

  test("a requested notAfter beyond the profile's validity is malformed, naming the key", async () => {
    const r = await e.client.post(e.client.dir.newOrder, { identifiers: [{ type: 'dns', value: NAME }], profile: 'shortlived', notAfter: new Date(Date.now() + 12 * H).toISOString() });
    const p = assertProblem(r, 'malformed', 400);
    assert.match(p.detail, /acme\.profiles\.shortlived\.validity/);
    // Within it, the window is issued as asked.
    const ok = await e.client.post(e.client.dir.newOrder, { identifiers: [{ type: 'dns', value: NAME }], profile: 'shortlived', notAfter: new Date(Date.now() + 5 * H).toISOString() });
    assert.equal(ok.status, 201, ok.text);
  });
});

describe('certificate profiles: a profile removed while an order is ready', () => {
  let e: Env | undefined;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'attestca-profiles-'));
  after(async () => {
    await tearDown(e);
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('finalize is invalidProfile: the CA no longer issues under it (draft-ietf-acme-profiles §4)', async () => {
    e = await setUp('pglite', PROFILES, dataDir);
    const account = e.client.key;
    const ready = await readyOrder(e, { profile: 'shortlived' });
    const oldBase = e.server.baseUrl;
    await tearDown(e);
    e = await setUp('pglite', PROFILES.replace(/ {4}shortlived:[\s\S]*$/, ''), dataDir);
    const client = await TestAcmeClient.connect(e.server.directory, e.server.agent, 'ES256', account);
    assert.equal((await client.newAccount()).status, 200);
    // The restarted server listens on another port: the same resources under its base URL.
    const url = ready.url.replace(oldBase, e.server.baseUrl);
    const stored = await client.post(url, '');
    assert.equal(stored.json.profile, 'shortlived', 'the order keeps its profile across a restart');
    const fin = await client.post(stored.json.finalize, { csr: (await makeCsr({ dns: [NAME] })).b64url });
    assertProblem(fin, 'invalidProfile', 400);
  });
});

describe('without acme.profiles', () => {
  let e: Env;
  before(async () => {
    e = await setUp('pglite', '');
  });
  after(() => tearDown(e));

  test('no meta.profiles, orders carry no profile, certificates are as before', async () => {
    const dir = (await request(e.server.directory, e.server.agent)).json;
    assert.equal(dir.meta.profiles, undefined);
    const { created, url, order } = await readyOrder(e, {});
    assert.equal(created.profile, undefined);
    const { leafPem } = await finalize(e, url, order);
    assert.match(opensslText(leafPem), /TLS Web Server Authentication, TLS Web Client Authentication/);
  });

  test('a newOrder naming a profile is invalidProfile', async () => {
    const r = await e.client.post(e.client.dir.newOrder, { identifiers: [{ type: 'dns', value: NAME }], profile: 'classic' });
    const p = assertProblem(r, 'invalidProfile', 400);
    assert.match(p.detail, /offers no profiles/);
  });
});

describe('profile configuration errors name the key and the fix', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'attestca-profile-config-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const load = (yaml: string) => {
    const file = path.join(dir, 'c.yaml');
    writeFileSync(file, yaml);
    return () => loadConfig({ configFile: file, env: {} });
  };
  const cases: [string, string, RegExp][] = [
    ['unknown defaultProfile', 'acme:\n  defaultProfile: nope\n  profiles:\n    tls: { description: TLS }\n', /acme\.defaultProfile: "nope" is not a configured profile; name one of acme\.profiles \(tls\)/],
    ['defaultProfile without profiles', 'acme:\n  defaultProfile: tls\n', /acme\.defaultProfile: "tls" is not a configured profile; configure acme\.profiles/],
    ['profiles without defaultProfile', 'acme:\n  profiles:\n    tls: { description: TLS }\n', /acme\.defaultProfile: name the profile an order gets when its newOrder names none: one of tls/],
    ['a bad EKU name', 'acme:\n  defaultProfile: tls\n  profiles:\n    tls: { description: TLS, extendedKeyUsage: [serverAuth, emailProtection] }\n', /acme\.profiles\.tls\.extendedKeyUsage\.1: expected some of serverAuth, clientAuth/],
    ['a bad identifier type', 'acme:\n  defaultProfile: tls\n  profiles:\n    tls: { description: TLS, identifierTypes: [email] }\n', /acme\.profiles\.tls\.identifierTypes\.0: expected some of dns, ip, permanent-identifier, hardware-module/],
    ['no description', 'acme:\n  defaultProfile: tls\n  profiles:\n    tls: { validity: 24h }\n', /acme\.profiles\.tls\.description/],
    ['an unknown profile key', 'acme:\n  defaultProfile: tls\n  profiles:\n    tls: { description: TLS, mustStaple: true }\n', /unknown key "mustStaple" under "acme\.profiles\.tls"/],
    ['a validity beyond ca.maxValidity', 'ca:\n  maxValidity: 7d\nacme:\n  defaultProfile: tls\n  profiles:\n    tls: { description: TLS, validity: 90d, identifierTypes: [dns] }\n', /acme\.profiles\.tls\.validity: longer than ca\.maxValidity/],
    ['a bad profile name', 'acme:\n  defaultProfile: tls\n  profiles:\n    "tls server": { description: TLS }\n', /acme\.profiles\.tls server: a profile name is letters, digits/],
  ];
  for (const [name, yaml, message] of cases) {
    test(name, () => {
      assert.throws(load(yaml), (err: unknown) => err instanceof ConfigError && message.test(err.message) ? true : assert.fail(String(err)));
    });
  }
  test('a profile for device identifiers only takes no validity, and is accepted without one', () => {
    assert.throws(
      load('acme:\n  defaultProfile: devices\n  profiles:\n    devices: { description: Devices, validity: 30d, identifierTypes: [permanent-identifier] }\n'),
      /acme\.profiles\.devices\.validity: a profile for device identifiers only has no validity of its own: device certificates last deviceAttest\.certValidity/,
    );
    const config = load('acme:\n  defaultProfile: devices\n  profiles:\n    devices: { description: Devices, identifierTypes: [permanent-identifier, hardware-module] }\n')();
    assert.deepEqual(config.acme.profiles.devices?.identifierTypes, ['permanent-identifier', 'hardware-module']);
  });
});
