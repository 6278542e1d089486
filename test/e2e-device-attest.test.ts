// device-attest-01 end to end over HTTPS: the device simulator plays an Apple device whose
// attestations chain to a test root the server is configured to trust for "apple"; on both
// storage backends. Then the refusals of shared/notes/device-attest.md §6 at the ACME level,
// each with its problem type and a detail naming the failed check.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildAttestation, type BreakMode } from '../src/devicesim/attestation.js';
import { deviceCsr, deviceFacts, runDeviceSim } from '../src/devicesim/device.js';
import { AcmeProblemError } from '../src/devicesim/acme-client.js';
import { initSimHierarchy, issuerOf, loadSimHierarchy, type SimHierarchy } from '../src/devicesim/hierarchy.js';
import { TestAcmeClient } from './helpers/acme.js';
import { backends } from './helpers/db.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const PREFIX = 'urn:ietf:params:acme:error:';
const tmp = mkdtempSync(path.join(os.tmpdir(), 'attestca-device-'));
const simDir = path.join(tmp, 'sim');
let sim: SimHierarchy;
before(async () => {
  await initSimHierarchy(simDir, new Date());
  sim = loadSimHierarchy(simDir);
});
after(() => rmSync(tmp, { recursive: true, force: true }));

const trustSim = () => ({ attestationRoots: [`apple=${path.join(simDir, 'root.pem')}`] });

/** Offset of the OCTET STRING holding the SAN extension's value in an `openssl asn1parse` dump. */
function sanOffset(dump: string): number {
  const lines = dump.split('\n');
  const i = lines.findIndex((l) => /:X509v3 Subject Alternative Name/.test(l));
  const octet = lines.slice(i + 1).find((l) => /OCTET STRING/.test(l))!;
  return Number(/^\s*(\d+):/.exec(octet)![1]);
}

function opensslText(chainPem: string, rootsPem: string): { verify: string; text: string } {
  const d = mkdtempSync(path.join(tmp, 'v-'));
  const [leaf, ...rest] = chainPem.split(/(?=-----BEGIN CERTIFICATE-----)/);
  writeFileSync(path.join(d, 'leaf.pem'), leaf!);
  writeFileSync(path.join(d, 'chain.pem'), rest.join(''));
  writeFileSync(path.join(d, 'roots.pem'), rootsPem);
  const verify = execFileSync('openssl', ['verify', '-CAfile', path.join(d, 'roots.pem'), '-untrusted', path.join(d, 'chain.pem'), path.join(d, 'leaf.pem')], { encoding: 'utf8' });
  const text = execFileSync('openssl', ['x509', '-in', path.join(d, 'leaf.pem'), '-noout', '-text'], { encoding: 'utf8' });
  return { verify, text };
}

for (const backend of backends) {
  describe(`Apple device flow on ${backend}`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer({ backend, overrides: trustSim() });
    });
    after(() => server.stop());

    test('the simulator gets a certificate naming its serial, bound to its attested key, which openssl verifies', async () => {
      const result = await runDeviceSim({ directoryUrl: server.directory, hierarchy: sim, serial: 'C02SIM0001', udid: '00008103-000A1B2C3D4E5F60', caPem: server.rootsPem });
      const { verify, text } = opensslText(result.chainPem, server.rootsPem);
      assert.match(verify, /leaf\.pem: OK/);
      assert.match(text, /Subject: CN ?= ?C02SIM0001/);
      // openssl 3.0 names the PermanentIdentifier otherName (RFC 4043) but cannot print its value;
      // its ASN.1 dump shows the value inside the SAN.
      assert.match(text, /othername: Permanent Identifier/);
      const dump = execFileSync('openssl', ['asn1parse', '-i', '-dump'], { input: result.chainPem.split(/(?=-----BEGIN CERTIFICATE-----)/)[0], encoding: 'utf8' });
      assert.match(dump, /OBJECT\s+:X509v3 Subject Alternative Name/);
      const san = execFileSync('openssl', ['asn1parse', '-i', '-strparse', String(sanOffset(dump))], { input: result.chainPem.split(/(?=-----BEGIN CERTIFICATE-----)/)[0], encoding: 'utf8' });
      assert.match(san, /OBJECT\s+:Permanent Identifier/);
      assert.match(san, /UTF8STRING\s+:C02SIM0001/);
      assert.match(text, /TLS Web Client Authentication/);
      assert.doesNotMatch(text, /TLS Web Server Authentication/);
      const leafKey = execFileSync('openssl', ['x509', '-noout', '-pubkey'], { input: result.chainPem, encoding: 'utf8' });
      const devicePub = (await import('node:crypto')).createPublicKey(result.deviceKey).export({ type: 'spki', format: 'pem' });
      assert.equal(leafKey, devicePub, 'the certificate is for the attested key');
    });

    test('the UDID works as ClientIdentifier too, with a P-384 key', async () => {
      const result = await runDeviceSim({ directoryUrl: server.directory, hierarchy: sim, serial: 'C02SIM0002', udid: '00008103-000A1B2C3D4E5F61', clientIdentifier: '00008103-000A1B2C3D4E5F61', keyType: 'p384', caPem: server.rootsPem });
      assert.match(opensslText(result.chainPem, server.rootsPem).verify, /OK/);
    });

    const broken: [string, BreakMode, string, RegExp][] = [
      ['an attestation without a freshness code', 'no-freshness', 'badAttestationStatement', /has no freshness code/],
      ['a User Enrollment attestation (no serial, no UDID)', 'user-enrollment', 'badAttestationStatement', /the attestation names no device identifier, so it cannot vouch for permanent-identifier C02SIM0003/],
      ['a stale attestation (freshness code for another challenge)', 'freshness', 'badAttestationStatement', /freshness code does not match SHA-256 of the challenge token/],
      ['an attestation of another device', 'serial', 'badAttestationStatement', /attested serial \S+ and UDID \S+ do not match identifier C02SIM0003/],
      ['a chain without its intermediate', 'chain', 'badAttestationStatement', /Apple attestation chain: no path/],
      ['a CSR for another key than the attested one', 'key', 'badCSR', /the CSR public key \(SHA-256 [0-9a-f]{64}\) is not the attested key \(SHA-256 [0-9a-f]{64}\) of C02SIM0003/],
    ];
    for (const [name, mode, type, detail] of broken) {
      test(`refuses ${name}: ${type}`, async () => {
        const err = await runDeviceSim({ directoryUrl: server.directory, hierarchy: sim, serial: 'C02SIM0003', udid: '00008103-000A1B2C3D4E5F62', caPem: server.rootsPem, break: mode }).then(
          () => assert.fail('should have been refused'),
          (e: unknown) => e,
        );
        assert.ok(err instanceof AcmeProblemError, String(err));
        assert.equal(err.problem.type, PREFIX + type);
        assert.match(err.problem.detail ?? '', detail);
        if (mode === 'serial' || mode === 'user-enrollment') assert.deepEqual(err.problem.subproblems?.map((s) => [s.type, s.identifier?.value]), [[`${PREFIX}rejectedIdentifier`, 'C02SIM0003']]);
      });
    }
  });
}

describe('device-attest-01 at the ACME level', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ backend: 'pglite', overrides: trustSim(), configYaml: 'deviceAttest:\n  minimumOsVersion: "17.0"\n  formats: [apple, step]\n' });
  });
  after(() => server.stop());

  /** A fresh account and order for one device; returns the pieces a test needs. */
  const order = async (value = 'C02ACME001', type = 'permanent-identifier') => {
    const client = await TestAcmeClient.connect(server.directory, server.agent);
    await client.newAccount();
    const created = await client.newOrder([{ type, value }]);
    assert.equal(created.status, 201, created.text);
    const authz = (await client.post(created.json.authorizations[0], '')).json;
    assert.deepEqual(authz.challenges.map((c: { type: string }) => c.type), ['device-attest-01'], 'device identifiers are offered device-attest-01 only');
    return { client, orderUrl: created.headers.location as string, order: created.json, challenge: authz.challenges[0] as { url: string; token: string } };
  };
  const attest = async (token: string, over: { serial?: string; osVersion?: string; key?: ReturnType<typeof generateKeyPairSync>['privateKey'] } = {}) => {
    const key = over.key ?? generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const built = await buildAttestation({ devicePublicKey: key, token, device: deviceFacts({ serial: over.serial ?? 'C02ACME001', osVersion: over.osVersion }), issuer: issuerOf(sim), now: new Date() });
    return { key, attObj: built.attObjText, built };
  };
  const problemOf = async (r: { json: any }) => r.json.error ?? r.json;

  test('the challenge is answered synchronously: valid in the response, order ready', async () => {
    const { client, challenge, orderUrl } = await order();
    const { attObj } = await attest(challenge.token);
    const r = await client.post(challenge.url, { attObj, somethingElse: 1 });
    assert.equal(r.status, 200);
    assert.equal(r.json.status, 'valid');
    assert.equal((await client.post(orderUrl, '')).json.status, 'ready');
    // A second response to a finished challenge is not validated again.
    const again = await client.post(challenge.url, { attObj: 'AAAA' });
    assert.equal(again.json.status, 'valid');
  });

  const refusals: [string, (token: string) => Promise<Record<string, unknown>>, RegExp][] = [
    ['no attObj', async () => ({}), /the device sent no attestation \(the response has no attObj\)/],
    ["Apple's error payload", async () => ({ error: 'Attestation not supported' }), /the device reported: "Attestation not supported"/],
    ['attObj not a string', async () => ({ attObj: 42 }), /no attestation/],
    ['attObj with padding', async () => ({ attObj: 'oA==' }), /not base64url/],
    ['attObj not CBOR', async () => ({ attObj: Buffer.from([0xff, 0x00]).toString('base64url') }), /not well-formed CBOR/],
    ['an unknown format', async () => ({ attObj: Buffer.from('a263666d74646e6f6e656761747453746d74a0', 'hex').toString('base64url') }), /attestation format "none" is not supported/],
    ['a known format that is switched off', async () => ({ attObj: Buffer.from('a263666d746374706d676174745374' + '6d74a0', 'hex').toString('base64url') }), /"tpm" is not enabled on this CA \(enabled: apple, step\)/],
    ['an OS below the minimum', async (token) => ({ attObj: (await attest(token, { osVersion: '16.7' })).attObj }), /OS version 16\.7 is below the minimum 17\.0/],
    ['an attestation for another challenge', async () => ({ attObj: (await attest('some-other-token')).attObj }), /freshness code does not match/],
  ];
  for (const [name, payload, detail] of refusals) {
    test(`refuses ${name} with badAttestationStatement; the challenge, authorization and order become invalid`, async () => {
      const { client, challenge, orderUrl } = await order();
      const r = await client.post(challenge.url, await payload(challenge.token));
      assert.equal(r.status, 200);
      assert.equal(r.json.status, 'invalid');
      const problem = await problemOf(r);
      assert.equal(problem.type, `${PREFIX}badAttestationStatement`);
      assert.match(problem.detail, detail);
      const o = (await client.post(orderUrl, '')).json;
      assert.equal(o.status, 'invalid');
      assert.equal(o.error.type, `${PREFIX}badAttestationStatement`);
    });
  }

  test('a challenge response that is not an object is malformed, and changes nothing', async () => {
    const { client, challenge } = await order();
    const r = await client.post(challenge.url, '"attObj"');
    assert.equal(r.json.type, `${PREFIX}malformed`);
    assert.equal((await client.post(challenge.url, '')).json.status, 'pending');
  });

  test('another account cannot answer the challenge', async () => {
    const { challenge } = await order();
    const other = await TestAcmeClient.connect(server.directory, server.agent);
    await other.newAccount();
    const r = await other.post(challenge.url, { attObj: (await attest(challenge.token)).attObj });
    assert.equal(r.json.type, `${PREFIX}unauthorized`);
  });

  test('finalize: a CSR PermanentIdentifier must name exactly the order identifier', async () => {
    const { client, challenge, order: o } = await order();
    const { key, attObj } = await attest(challenge.token);
    assert.equal((await client.post(challenge.url, { attObj })).json.status, 'valid');
    const { makeCsr } = await import('./helpers/csr.js');
    // A CSR that asks for a dns name as well is still issued only for the device, so build one
    // with a PermanentIdentifier otherName of another device.
    const { permanentIdentifierName, generalNames } = await import('../src/pki/othernames.js');
    const { x509 } = await import('../src/pki/x509.js');
    const { webcrypto, createPublicKey } = await import('node:crypto');
    const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
    const keys = {
      privateKey: await webcrypto.subtle.importKey('pkcs8', key.export({ type: 'pkcs8', format: 'der' }), alg, false, ['sign']),
      publicKey: await webcrypto.subtle.importKey('spki', createPublicKey(key).export({ type: 'spki', format: 'der' }), alg, true, ['verify']),
    };
    const wrong = await x509.Pkcs10CertificateRequestGenerator.create({ name: 'CN=C02ACME001', keys, signingAlgorithm: alg, extensions: [new x509.Extension('2.5.29.17', false, generalNames([permanentIdentifierName('C02OTHER99')]))] });
    const r = await client.post(o.finalize, { csr: Buffer.from(wrong.rawData).toString('base64url') });
    assert.equal(r.json.type, `${PREFIX}badCSR`);
    assert.match(r.json.detail, /CSR device names permanent-identifier:C02OTHER99 are not the order's permanent-identifier:C02ACME001/);
    // notes §6 row 30: a CN that is not the identifier is refused too.
    const otherCn = await x509.Pkcs10CertificateRequestGenerator.create({ name: 'CN=My MacBook', keys, signingAlgorithm: alg, extensions: [new x509.Extension('2.5.29.17', false, generalNames([permanentIdentifierName('C02ACME001')]))] });
    const cn = await client.post(o.finalize, { csr: Buffer.from(otherCn.rawData).toString('base64url') });
    assert.equal(cn.json.type, `${PREFIX}badCSR`);
    assert.match(cn.json.detail, /CSR subject CN "My MacBook" is not the identifier C02ACME001/);
    const right = await x509.Pkcs10CertificateRequestGenerator.create({ name: 'CN=C02ACME001, O=Example Fleet', keys, signingAlgorithm: alg, extensions: [new x509.Extension('2.5.29.17', false, generalNames([permanentIdentifierName('C02ACME001')]))] });
    const ok = await client.post(o.finalize, { csr: Buffer.from(right.rawData).toString('base64url') });
    assert.equal(ok.json.status, 'valid', ok.text);
    assert.ok(makeCsr);
  });

  test('newOrder checks the identifier grammar: malformed', async () => {
    const client = await TestAcmeClient.connect(server.directory, server.agent);
    await client.newAccount();
    const r = await client.newOrder([{ type: 'permanent-identifier', value: 'ABC/1.40' }]);
    assert.equal(r.json.type, `${PREFIX}malformed`);
    const hm = await client.newOrder([{ type: 'hardware-module', value: 'ABCD' }]);
    assert.equal(hm.json.type, `${PREFIX}malformed`);
  });

  test('the attested key and device are recorded, and device-certs finds the certificate by serial and by UDID', async () => {
    const { client, challenge, order: o } = await order('C02ACME777');
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const built = await buildAttestation({ devicePublicKey: key, token: challenge.token, device: deviceFacts({ serial: 'C02ACME777', udid: '00008103-0000000000000777' }), issuer: issuerOf(sim), now: new Date() });
    assert.equal((await client.post(challenge.url, { attObj: built.attObjText })).json.status, 'valid');
    const fin = await client.post(o.finalize, { csr: (await deviceCsr(key, 'C02ACME777')).toString('base64url') });
    assert.equal(fin.json.status, 'valid', fin.text);
    const { rows } = await server.ctx.db.query<{ format: string; attested_key_sha256: string; claims: Record<string, unknown>; attested_identifiers: string[] }>(
      `SELECT format, attested_key_sha256, claims, attested_identifiers FROM attestations WHERE identifier_value = 'C02ACME777'`,
    );
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.format, 'apple');
    assert.equal(rows[0]!.attested_key_sha256, createHash('sha256').update((await import('node:crypto')).createPublicKey(key).export({ type: 'spki', format: 'der' })).digest('hex'));
    // serial, UDID, and the UDID as an Apple hardware-module value (serial "/" type OID)
    assert.deepEqual(rows[0]!.attested_identifiers, ['C02ACME777', '00008103-0000000000000777', '00008103-0000000000000777/1.2.840.113635.100.8.9.2']);
    assert.equal(rows[0]!.claims.osVersion, '26.2');
    const { certificatesForDevice } = await import('../src/sa/attestations.js');
    for (const id of ['C02ACME777', '00008103-0000000000000777']) {
      const certs = await certificatesForDevice(server.ctx.db, id);
      assert.equal(certs.length, 1, `found by ${id}`);
      assert.equal(certs[0]!.identifier.value, 'C02ACME777');
    }
    const challengeRow = await server.ctx.db.query<{ payload: string | null }>('SELECT payload FROM challenges WHERE token = $1', [challenge.token]);
    assert.equal(challengeRow.rows[0]!.payload, null, 'the raw statement is not kept after validation');
  });
});

describe('device-certs on Postgres', () => {
  test('lists the certificates of a device by serial, as a table and as JSON', async () => {
    const server = await startTestServer({ backend: 'postgres', overrides: trustSim() });
    try {
      await runDeviceSim({ directoryUrl: server.directory, hierarchy: sim, serial: 'C02CLI0001', udid: '00008103-00000000000C1001', caPem: server.rootsPem });
      const run = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'device-certs', '--database-url', server.databaseUrl!, ...args], { encoding: 'utf8', timeout: 60_000 });
      const table = run(['--identifier', '00008103-00000000000C1001']);
      assert.equal(table.status, 0, table.stderr);
      assert.match(table.stdout, /valid\s+\S+\s+apple\s+C02CLI0001\s+26\.2/);
      const json = run(['--identifier', 'C02CLI0001', '--json']);
      const rows = json.stdout.trim().split('\n').map((l) => JSON.parse(l));
      assert.equal(rows.length, 1);
      assert.equal(rows[0].format, 'apple');
      const none = run(['--identifier', 'NOPE']);
      assert.match(none.stdout, /no certificates for device NOPE/);
    } finally {
      await server.stop();
    }
  });
});

describe('device policies', () => {
  test('hardware-module: the UDID as an Apple hardware module, named by a HardwareModuleName SAN', async () => {
    const server = await startTestServer({ backend: 'pglite', overrides: trustSim() });
    try {
      const value = '00008103-00000000000HW001/1.2.840.113635.100.8.9.2';
      const client = await TestAcmeClient.connect(server.directory, server.agent);
      await client.newAccount();
      const created = await client.newOrder([{ type: 'hardware-module', value }]);
      const ch = (await client.post(created.json.authorizations[0], '')).json.challenges[0];
      const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
      const built = await buildAttestation({ devicePublicKey: key, token: ch.token, device: deviceFacts({ serial: 'C02HW0001', udid: '00008103-00000000000HW001' }), issuer: issuerOf(sim), now: new Date() });
      assert.equal((await client.post(ch.url, { attObj: built.attObjText })).json.status, 'valid');
      const fin = await client.post(created.json.finalize, { csr: (await deviceCsr(key, '00008103-00000000000HW001')).toString('base64url') });
      assert.equal(fin.json.status, 'valid', fin.text);
      const pem = (await client.post(fin.json.certificate, '')).text;
      const leaf = pem.split(/(?=-----BEGIN CERTIFICATE-----)/)[0]!;
      const dump = execFileSync('openssl', ['asn1parse', '-i'], { input: leaf, encoding: 'utf8' });
      const san = execFileSync('openssl', ['asn1parse', '-i', '-strparse', String(sanOffset(dump))], { input: leaf, encoding: 'utf8' });
      assert.match(san, /OBJECT\s+:Hardware Module Name|OBJECT\s+:1\.3\.6\.1\.5\.5\.7\.8\.4/);
      assert.match(san, /OBJECT\s+:1\.2\.840\.113635\.100\.8\.9\.2/);
      assert.match(san, /OCTET STRING\s+:00008103-00000000000HW001/);
    } finally {
      await server.stop();
    }
  });

  test('privacy-preserving: the certificate does not name the device, and a CSR that names it is refused', async () => {
    const server = await startTestServer({ backend: 'pglite', overrides: trustSim(), configYaml: 'deviceAttest:\n  privacyPreserving: true\n' });
    try {
      const result = await runDeviceSim({ directoryUrl: server.directory, hierarchy: sim, serial: 'C02PRIV001', caPem: server.rootsPem });
      const { verify, text } = opensslText(result.chainPem, server.rootsPem);
      assert.match(verify, /OK/);
      assert.doesNotMatch(text, /C02PRIV001/);
      assert.doesNotMatch(text, /Subject Alternative Name/);
      const spki = (await import('node:crypto')).createPublicKey(result.deviceKey).export({ type: 'spki', format: 'der' });
      assert.match(text, new RegExp(`Subject: CN ?= ?${createHash('sha256').update(spki).digest('hex')}`));

      const client = await TestAcmeClient.connect(server.directory, server.agent);
      await client.newAccount();
      const created = await client.newOrder([{ type: 'permanent-identifier', value: 'C02PRIV002' }]);
      const ch = (await client.post(created.json.authorizations[0], '')).json.challenges[0];
      const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
      const built = await buildAttestation({ devicePublicKey: key, token: ch.token, device: deviceFacts({ serial: 'C02PRIV002' }), issuer: issuerOf(sim), now: new Date() });
      assert.equal((await client.post(ch.url, { attObj: built.attObjText })).json.status, 'valid');
      const { permanentIdentifierName, generalNames } = await import('../src/pki/othernames.js');
      const { x509 } = await import('../src/pki/x509.js');
      const { webcrypto, createPublicKey } = await import('node:crypto');
      const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
      const keys = {
        privateKey: await webcrypto.subtle.importKey('pkcs8', key.export({ type: 'pkcs8', format: 'der' }), alg, false, ['sign']),
        publicKey: await webcrypto.subtle.importKey('spki', createPublicKey(key).export({ type: 'spki', format: 'der' }), alg, true, ['verify']),
      };
      const naming = await x509.Pkcs10CertificateRequestGenerator.create({ name: 'CN=C02PRIV002', keys, signingAlgorithm: alg, extensions: [new x509.Extension('2.5.29.17', false, generalNames([permanentIdentifierName('C02PRIV002')]))] });
      const r = await client.post(created.json.finalize, { csr: Buffer.from(naming.rawData).toString('base64url') });
      assert.equal(r.json.type, `${PREFIX}badCSR`);
      assert.match(r.json.detail, /privacy-preserving/);
    } finally {
      await server.stop();
    }
  });

  test('attestation optional: an allowlisted device that cannot attest is accepted without key binding; others are refused at newOrder', async () => {
    const server = await startTestServer({ backend: 'pglite', overrides: trustSim(), configYaml: 'deviceAttest:\n  attestation: optional\n  allowlist: [C02T2MAC01]\n' });
    try {
      const client = await TestAcmeClient.connect(server.directory, server.agent);
      await client.newAccount();
      const refused = await client.newOrder([{ type: 'permanent-identifier', value: 'C02UNKNOWN' }]);
      assert.equal(refused.json.type, `${PREFIX}rejectedIdentifier`);
      assert.match(refused.json.detail, /not in this CA's device allowlist/);

      // An Intel Mac with a T2 ignores Attest=true: it answers without an attestation.
      const created = await client.newOrder([{ type: 'permanent-identifier', value: 'C02T2MAC01' }]);
      const ch = (await client.post(created.json.authorizations[0], '')).json.challenges[0];
      assert.equal((await client.post(ch.url, {})).json.status, 'valid');
      const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
      const fin = await client.post(created.json.finalize, { csr: (await deviceCsr(key, 'C02T2MAC01')).toString('base64url') });
      assert.equal(fin.json.status, 'valid', fin.text);
      const { rows } = await server.ctx.db.query<{ format: string; attested_spki: Buffer | null }>(`SELECT format, attested_spki FROM attestations WHERE identifier_value = 'C02T2MAC01'`);
      assert.deepEqual(rows.map((r) => [r.format, r.attested_spki]), [['none', null]]);
    } finally {
      await server.stop();
    }
  });

  test('attestation optional without an allowlist is a configuration error', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve', '--data-dir', path.join(tmp, 'never')], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '', ATTESTCA_CONFIG: (() => {
        const f = path.join(tmp, 'optional.yaml');
        writeFileSync(f, 'deviceAttest:\n  attestation: optional\n');
        return f;
      })() },
      timeout: 60_000,
    });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /"optional" needs deviceAttest\.allowlist/);
  });
});

describe('a YubiKey (step format) end to end', () => {
  test('the attested key signs the key authorization; the certificate names the YubiKey serial', async () => {
    const { makeCert } = await import('./helpers/pki.js');
    const { Encoder } = await import('cbor-x');
    const { sign } = await import('node:crypto');
    const root = await makeCert({ subject: 'CN=Test Yubico PIV Root', ca: true });
    const f9 = await makeCert({ subject: 'CN=Test Yubico PIV Attestation', issuer: root, ca: true, pathLen: 0 });
    const key = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
    const serialDer = Buffer.from([0x02, 0x04, 0x01, 0x85, 0x53, 0xfb]); // 25515003
    const leaf = await makeCert({ subject: 'CN=YubiKey PIV Attestation 9c', issuer: f9, key, extensions: [['1.3.6.1.4.1.41482.3.7', false, serialDer], ['1.3.6.1.4.1.41482.3.3', false, Buffer.from([5, 7, 4])]] });
    const rootFile = path.join(tmp, 'yubico-test-root.pem');
    writeFileSync(rootFile, root.cert.toString('pem'));
    const server = await startTestServer({ backend: 'pglite', overrides: { attestationRoots: [`step=${rootFile}`] } });
    try {
      const client = await TestAcmeClient.connect(server.directory, server.agent);
      await client.newAccount();
      const created = await client.newOrder([{ type: 'permanent-identifier', value: '25515003' }]);
      const ch = (await client.post(created.json.authorizations[0], '')).json.challenges[0];
      const encoder = new Encoder({ mapsAsObjects: false, useRecords: false } as ConstructorParameters<typeof Encoder>[0]);
      const statement = (keyAuthorization: string) =>
        Buffer.from(
          encoder.encode(
            new Map<string, unknown>([
              ['fmt', 'step'],
              ['attStmt', new Map<string, unknown>([['alg', -35], ['sig', encoder.encode(sign('sha256', Buffer.from(keyAuthorization), key))], ['x5c', [leaf.der, f9.der]]])],
            ]),
          ),
        ).toString('base64url');
      const r = await client.post(ch.url, { attObj: statement(client.keyAuthorization(ch.token)) });
      assert.equal(r.json.status, 'valid', JSON.stringify(r.json.error));
      const fin = await client.post(created.json.finalize, { csr: (await deviceCsr(key, '25515003')).toString('base64url') });
      assert.equal(fin.json.status, 'valid', fin.text);

      // Signed over another account's key authorization: refused, naming the signature check.
      const other = await client.newOrder([{ type: 'permanent-identifier', value: '25515003' }]);
      const ch2 = (await client.post(other.json.authorizations[0], '')).json.challenges[0];
      const bad = await client.post(ch2.url, { attObj: statement(`${ch2.token}.someoneelse`) });
      assert.equal(bad.json.status, 'invalid');
      assert.match(bad.json.error.detail, /signature does not cover this challenge's key authorization/);
    } finally {
      await server.stop();
    }
  });
});
