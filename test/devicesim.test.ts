// The device simulator (`attestca device-sim`): its test hierarchy, and attestations that the
// server's own Apple verifier (src/attestation/apple.ts) and openssl accept, or refuse for exactly
// the reason each --break variant names. The flow against a server is covered by the end-to-end
// device-attest-01 tests.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, createPublicKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { APPLE_OID, verifyApple } from '../src/attestation/apple.js';
import { decodeAttObj } from '../src/attestation/attobj.js';
import { AttestationError } from '../src/attestation/verifier.js';
import { extension, parseCert } from '../src/pki/chain.js';
import { parseCsr } from '../src/pki/csr.js';
import { toPem } from '../src/pki/pem.js';
import { APPLE_MDA_LEAF_EKU, breakModes, buildAttestation, ecPoint, type BreakMode } from '../src/devicesim/attestation.js';
import { deviceCsr, deviceFacts, deviceKeys, type DeviceKeyType } from '../src/devicesim/device.js';
import { buildSimHierarchy, loadSimHierarchy, simFiles, type SimHierarchy } from '../src/devicesim/hierarchy.js';
import { freePort } from './helpers/net.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = (args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', path.join(repo, 'src/cli.ts'), ...args], {
    cwd: repo,
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', HOME: os.tmpdir() },
    timeout: 60_000,
  });
const openssl = (args: string[]) => execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

const tmp = mkdtempSync(path.join(os.tmpdir(), 'attestca-devicesim-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

// Everything pure runs at a pinned time (STYLE.md habit 6).
const PIN = new Date('2026-11-26T12:00:00Z');
const TOKEN = 'Qm9iIHRoZSBkZXZpY2Ugd2FudHMgYSBjZXJ0'; // as a server would issue: base64url, ≥128 bits
const SERIAL = 'C02SIM000001';
const UDID = '00008103-000A1B2C3D4E001E';
const sha256 = (data: string | Uint8Array) => createHash('sha256').update(data).digest();

describe('device-sim init', () => {
  const dir = path.join(tmp, 'sim');

  test('writes a P-384 root and Sub CA with unencrypted keys, says how to trust it, and refuses to overwrite', () => {
    const r = cli(['device-sim', 'init', '--dir', dir]);
    assert.equal(r.status, 0, r.stderr);
    const f = simFiles(dir);
    assert.ok(r.stdout.includes(f.root), 'prints the root path');
    assert.ok(r.stdout.includes(`attestca serve --attestation-root apple=${f.root}`), r.stdout);
    assert.match(r.stdout, /UNENCRYPTED TEST MATERIAL/);

    const root = openssl(['x509', '-in', f.root, '-noout', '-text']);
    assert.match(root, /Subject: CN ?= ?attestca Device Simulator Root/);
    assert.match(root, /CA:TRUE\n/);
    assert.match(root, /ecdsa-with-SHA384/);
    assert.match(root, /NIST CURVE: P-384/);
    const sub = openssl(['x509', '-in', f.sub, '-noout', '-text']);
    assert.match(sub, /Subject: CN ?= ?attestca Device Simulator Attestation Sub CA/);
    assert.match(sub, /Issuer: CN ?= ?attestca Device Simulator Root/);
    assert.match(sub, /CA:TRUE, pathlen:0/);
    assert.match(sub, /Certificate Sign, CRL Sign/);
    assert.match(openssl(['verify', '-CAfile', f.root, f.sub]), /OK/);
    for (const key of [f.rootKey, f.subKey]) {
      assert.match(readFileSync(key, 'utf8'), /^-----BEGIN PRIVATE KEY-----/);
      assert.equal(statSync(key).mode & 0o077, 0, `${key} is readable by its owner only`);
    }
    assert.ok(loadSimHierarchy(dir).subKey, 'the hierarchy loads');

    const before = [f.root, f.rootKey, f.sub, f.subKey].map((file) => readFileSync(file, 'utf8'));
    const again = cli(['device-sim', 'init', '--dir', dir]);
    assert.equal(again.status, 2);
    assert.match(again.stderr, /already exists/);
    assert.deepEqual([f.root, f.rootKey, f.sub, f.subKey].map((file) => readFileSync(file, 'utf8')), before, 'nothing was overwritten');

    // Even a partial hierarchy is left alone.
    const partial = path.join(tmp, 'partial');
    execFileSync('mkdir', ['-p', partial]);
    writeFileSync(simFiles(partial).subKey, 'precious');
    assert.equal(cli(['device-sim', 'init', '--dir', partial]).status, 2);
    assert.equal(readFileSync(simFiles(partial).subKey, 'utf8'), 'precious');
  });

  test('a leaf issued from the written hierarchy passes openssl verify -CAfile root.pem -untrusted sub.pem', async () => {
    const h = loadSimHierarchy(dir);
    const { deviceKey } = deviceKeys('p256');
    const built = await buildAttestation({ devicePublicKey: createPublicKey(deviceKey), token: TOKEN, device: deviceFacts({ serial: SERIAL, udid: UDID }), issuer: { certDer: h.subDer, key: h.subKey }, now: new Date() });
    const leaf = path.join(tmp, 'leaf.pem');
    writeFileSync(leaf, toPem(built.leafDer));
    const f = simFiles(dir);
    assert.match(openssl(['verify', '-CAfile', f.root, '-untrusted', f.sub, leaf]), /leaf\.pem: OK/);
    // Without the Sub CA (what --break chain sends) openssl cannot build the path either.
    assert.throws(() => openssl(['verify', '-CAfile', f.root, leaf]), /unable to get local issuer certificate/);
  });
});

describe('device-sim command line', () => {
  const cases: [string, string[], RegExp][] = [
    ['no --directory', ['--serial', SERIAL], /--directory URL is required/],
    ['no --serial', ['--directory', 'https://localhost:8443/directory'], /--serial SERIAL is required/],
    ['plain http', ['--directory', 'http://localhost:8443/directory', '--serial', SERIAL], /must be an https URL/],
    ['unknown --break', ['--directory', 'https://localhost:8443/directory', '--serial', SERIAL, '--break', 'everything'], /--break must be one of freshness, serial, key, chain/],
    ['unknown --key-type', ['--directory', 'https://localhost:8443/directory', '--serial', SERIAL, '--key-type', 'rsa2048'], /--key-type must be one of p256, p384/],
    ['contact not mailto', ['--directory', 'https://localhost:8443/directory', '--serial', SERIAL, '--contact', 'ops@example.com'], /mailto:/],
    ['no hierarchy', ['--directory', 'https://localhost:8443/directory', '--serial', SERIAL, '--sim-dir', path.join(tmp, 'nowhere')], /attestca device-sim init --dir/],
    ['unknown flag', ['--serial', SERIAL, '--bogus'], /bogus/],
  ];
  for (const [name, args, stderr] of cases) {
    test(`${name}: exit 2 with a message`, () => {
      const r = cli(['device-sim', ...args]);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, stderr);
    });
  }

  test('--help documents every flag and the warning; the top-level help lists the command', () => {
    const r = cli(['device-sim', '--help']);
    assert.equal(r.status, 0);
    for (const flag of ['init', '--dir', '--directory', '--serial', '--udid', '--client-identifier', '--key-type', '--os-version', '--sim-dir', '--ca-file', '--insecure', '--contact', '--break', '--out', '--attestation-root apple=']) {
      assert.ok(r.stdout.includes(flag), `help mentions ${flag}`);
    }
    assert.match(r.stdout, /UNENCRYPTED/);
    assert.match(cli(['--help']).stdout, /device-sim/);
  });

  test('a server that does not answer: exit 1 naming the URL', async () => {
    const dir = path.join(tmp, 'sim-unreachable');
    assert.equal(cli(['device-sim', 'init', '--dir', dir]).status, 0);
    const url = `https://127.0.0.1:${await freePort()}/directory`;
    const r = cli(['device-sim', '--directory', url, '--serial', SERIAL, '--sim-dir', dir]);
    assert.equal(r.status, 1, r.stderr);
    assert.ok(r.stderr.includes(url), r.stderr);
    assert.match(r.stderr, /ECONNREFUSED/);
  });
});

describe('simulated attestation against the server’s Apple verifier', () => {
  let h: SimHierarchy;
  before(async () => {
    const built = await buildSimHierarchy(new Date(PIN.getTime() - 86_400_000));
    h = { rootDer: built.rootDer, subDer: built.subDer, subKey: built.subKey };
  });

  const attest = async (o: { keyType?: DeviceKeyType; udid?: string; break?: BreakMode; osVersion?: string } = {}) => {
    const keys = deviceKeys(o.keyType ?? 'p256', o.break);
    const built = await buildAttestation({
      devicePublicKey: createPublicKey(keys.deviceKey),
      token: TOKEN,
      device: deviceFacts({ serial: SERIAL, udid: o.udid, osVersion: o.osVersion }),
      issuer: { certDer: h.subDer, key: h.subKey },
      now: PIN,
      break: o.break,
    });
    // Through the server's own decoder, from the text the device POSTs.
    const obj = decodeAttObj(built.attObjText);
    assert.equal(obj.fmt, 'apple');
    const verify = (token = TOKEN) =>
      verifyApple({ attStmt: obj.attStmt, token, keyAuthorization: `${token}.some-account-thumbprint`, anchors: [h.rootDer], at: new Date(PIN.getTime() + 60_000) });
    return { keys, built, obj, verify };
  };

  for (const keyType of ['p256', 'p384'] as const) {
    test(`${keyType}: verifies with the simulator root and the token; serial and UDID are the identifiers, the device key is attested`, async () => {
      const { keys, obj, verify } = await attest({ keyType, udid: UDID, osVersion: '26.4.1' });
      assert.equal((obj.attStmt.get('x5c') as unknown[]).length, 2);
      const facts = verify();
      assert.equal(facts.format, 'apple');
      assert.deepEqual(facts.permanentIdentifiers, [SERIAL, UDID]);
      assert.deepEqual(facts.hardwareModules, [{ type: APPLE_OID.udid, serial: UDID }]);
      assert.ok(facts.attestedSpki.equals(createPublicKey(keys.deviceKey).export({ type: 'spki', format: 'der' })));
      assert.equal(facts.chain.length, 3, 'leaf, Sub CA, root');
      assert.deepEqual(facts.claims, {
        serialNumber: SERIAL,
        udid: UDID,
        osVersion: '26.4.1',
        sepOsVersion: '26.4.1',
        llbVersion: '26.4.1',
        softwareUpdateDeviceId: 'J416cAP',
        secureBootLevel: 'Full Security',
        sipEnabled: true,
        thirdPartyKextsAllowed: false,
      });
    });
  }

  test('without --udid the leaf names the serial only', async () => {
    const { verify, built } = await attest();
    assert.deepEqual(verify().permanentIdentifiers, [SERIAL]);
    assert.equal(extension(parseCert(built.leafDer), APPLE_OID.udid), undefined);
  });

  test('the leaf has the shape of a real Apple MDA leaf', async () => {
    const { keys, built } = await attest({ keyType: 'p384', udid: UDID });
    const leaf = parseCert(built.leafDer);
    const cn = sha256(ecPoint(createPublicKey(keys.deviceKey))).toString('hex');
    assert.equal(leaf.x509.subject, `CN=${cn}\nOU=AAA Certification\nO=Apple Inc.\nST=California`);
    assert.equal(leaf.x509.issuer, 'CN=attestca Device Simulator Attestation Sub CA\nO=attestca');
    const from = new Date(leaf.x509.validFrom);
    const to = new Date(leaf.x509.validTo);
    assert.equal(from.getTime(), PIN.getTime() - 86_400_000, 'notBefore one day before issuance');
    assert.equal(to.getTime() - from.getTime(), 91 * 86_400_000, '91 days');
    assert.equal(leaf.x509.serialNumber.replace(/^0+/, '').toLowerCase(), PIN.getTime().toString(16), 'serial = issuance time in ms');
    const ext = (oid: string) => extension(leaf, oid);
    assert.deepEqual(ext('2.5.29.19'), { critical: true, value: Buffer.from('3000', 'hex') }, 'basicConstraints critical CA:FALSE');
    assert.deepEqual(ext('2.5.29.15'), { critical: true, value: Buffer.from('030204f0', 'hex') }, 'keyUsage as on real leaves');
    assert.deepEqual(ext('2.5.29.37'), { critical: false, value: Buffer.from(`300b0609${'2a864886f763640418'}`, 'hex') }, `EKU ${APPLE_MDA_LEAF_EKU}`);
    assert.equal(ext('2.5.29.35'), undefined, 'no AKI');
    assert.equal(ext('2.5.29.14'), undefined, 'no SKI');
    // Raw bytes inside extnValue, not DER-wrapped; the two flags are DER INTEGER 0.
    const raw: [string, Buffer][] = [
      [APPLE_OID.serialNumber, Buffer.from(SERIAL)],
      [APPLE_OID.udid, Buffer.from(UDID)],
      [APPLE_OID.osVersion, Buffer.from('26.2')],
      [APPLE_OID.sepOsVersion, Buffer.from('26.2')],
      [APPLE_OID.llbVersion, Buffer.from('26.2')],
      [APPLE_OID.softwareUpdateDeviceId, Buffer.from('J416cAP')],
      [APPLE_OID.freshnessCode, sha256(TOKEN)],
      [APPLE_OID.sipStatus, Buffer.from('020100', 'hex')],
      [APPLE_OID.secureBootLevel, Buffer.from('Full Security')],
      [APPLE_OID.thirdPartyKexts, Buffer.from('020100', 'hex')],
    ];
    for (const [oid, value] of raw) assert.deepEqual(ext(oid), { critical: false, value }, oid);
    assert.equal(leaf.asn.signatureAlgorithm.algorithm, '1.2.840.10045.4.3.3', 'ecdsa-with-SHA384, as Apple signs');
  });

  test('freshness is SHA-256 of the token: another challenge’s token is refused', async () => {
    const { verify } = await attest();
    assert.throws(() => verify('a-different-token-for-another-challenge'), (e: unknown) => e instanceof AttestationError && e.check === 'freshness');
  });

  test('an attestation from a hierarchy the server does not trust is refused', async () => {
    const { obj } = await attest();
    const other = await buildSimHierarchy(PIN);
    assert.throws(
      () => verifyApple({ attStmt: obj.attStmt, token: TOKEN, keyAuthorization: `${TOKEN}.x`, anchors: [other.rootDer], at: PIN }),
      (e: unknown) => e instanceof AttestationError && e.check === 'chain',
    );
  });

  test('the finalize CSR carries the attested key and CN = ClientIdentifier', async () => {
    const { keys, verify } = await attest({ udid: UDID });
    const csr = parseCsr(await deviceCsr(keys.csrKey, UDID));
    assert.equal(csr.commonName, UDID);
    assert.deepEqual(csr.dnsNames, []);
    assert.ok(csr.spki.equals(verify().attestedSpki));
  });

  describe('--break', () => {
    const expectations: Record<BreakMode, (a: Awaited<ReturnType<typeof attest>>) => Promise<void> | void> = {
      freshness: ({ verify }) => assert.throws(verify, (e: unknown) => e instanceof AttestationError && e.check === 'freshness'),
      chain: ({ verify, obj }) => {
        assert.equal((obj.attStmt.get('x5c') as unknown[]).length, 1, 'leaf only');
        assert.throws(verify, (e: unknown) => e instanceof AttestationError && e.check === 'chain' && /neither supplied nor trusted/.test(e.detail));
      },
      serial: ({ verify }) => {
        const ids = verify().permanentIdentifiers;
        assert.equal(ids.length, 2);
        assert.ok(!ids.includes(SERIAL) && !ids.includes(UDID), `attested ${ids.join(', ')}: neither is the device's serial or UDID`);
      },
      key: async ({ verify, keys }) => {
        const facts = verify();
        const csr = parseCsr(await deviceCsr(keys.csrKey, SERIAL));
        assert.ok(!csr.spki.equals(facts.attestedSpki), 'the CSR key is not the attested key');
        assert.equal(keys.csrKey.asymmetricKeyDetails?.namedCurve, keys.deviceKey.asymmetricKeyDetails?.namedCurve, 'same key type, so only the binding is wrong');
      },
      // notes/device-attest.md §6 row 19: no freshness code, no freshness check — refused.
      'no-freshness': ({ verify }) => assert.throws(verify, (e: unknown) => e instanceof AttestationError && e.check === 'freshness' && /has no freshness code/.test(e.detail)),
      // §6 row 25: a User Enrollment leaf names no device.
      'user-enrollment': ({ verify }) => assert.deepEqual(verify().permanentIdentifiers, []),
    };
    for (const mode of breakModes) {
      test(mode, async () => expectations[mode](await attest({ udid: UDID, break: mode })));
    }
  });
});
