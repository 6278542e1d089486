// The `step` (YubiKey PIV) verifier: real YubiKey attestation certificates (test/fixtures/yubikey,
// provenance in its README) for the chains and the facts, and statements built here with a key
// the test holds, for the signature over the key authorization and every refusal.
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { before, describe, test } from 'node:test';
import { Encoder } from 'cbor-x';
import { yubicoIntermediatePems, yubicoPivRootPems } from '../src/attestation/roots/yubico.js';
import { stepVerifier, yubicoLeafFacts } from '../src/attestation/step.js';
import { AttestationError, type AttestationInput } from '../src/attestation/verifier.js';
import { verifyChain } from '../src/pki/chain.js';
import { fromPem } from '../src/pki/pem.js';
import { makeCert, type TestCert } from './helpers/pki.js';

const read = (f: string) => fromPem(readFileSync(new URL(`./fixtures/yubikey/${f}`, import.meta.url), 'utf8'))[0]!;
const roots = yubicoPivRootPems.flatMap((p) => fromPem(p));
const intermediates = yubicoIntermediatePems.flatMap((p) => fromPem(p));
const NOW = new Date('2026-11-26T00:00:00Z');
const encoder = new Encoder({ mapsAsObjects: false, useRecords: false } as ConstructorParameters<typeof Encoder>[0]);
const KEY_AUTH = 'token123.thumbprint456';

const refused = (fn: () => unknown, check: string, detail: RegExp) =>
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof AttestationError, String(err));
    assert.equal(err.check, check);
    assert.match(err.detail, detail);
    return true;
  });

describe('YubiKey attestation certificates (real)', () => {
  const devices = [
    { att: 'yk-25515003-slot9c-attestation.pem', f9: 'yk-25515003-slotf9-intermediate.pem', serial: '25515003', fw: '5.4.3', slot: '9c', fips: true },
    { att: 'yk-25599865-slot9c-attestation.pem', f9: 'yk-25599865-slotf9-intermediate.pem', serial: '25599865', fw: '5.4.3', slot: '9c', fips: true },
    { att: 'yk-28751288-slot9c-attestation.pem', f9: 'yk-28751288-slotf9-intermediate.pem', serial: '28751288', fw: '5.4.3', slot: '9c', fips: true },
    { att: 'yk-32718477-fw574-slot9a-attestation.pem', f9: 'yk-32718477-fw574-slotf9-intermediate.pem', serial: '32718477', fw: '5.7.4', slot: '9a', fips: false },
  ];
  for (const d of devices) {
    test(`${d.att}: chains to Yubico and yields serial ${d.serial}, firmware ${d.fw}`, () => {
      const { path } = verifyChain(read(d.att), [read(d.f9), ...intermediates], roots, { at: NOW });
      const facts = yubicoLeafFacts(path);
      assert.deepEqual(facts.permanentIdentifiers, [d.serial]);
      assert.equal(facts.claims.firmwareVersion, d.fw);
      assert.equal(facts.claims.pinPolicy, 'always');
      assert.equal(facts.claims.touchPolicy, 'never');
      assert.equal(facts.claims.slot, d.slot);
      assert.equal(facts.claims.fips === true, d.fips);
    });
  }

  test('the real statements fail at the signature: only the device could sign the key authorization', () => {
    const verify = stepVerifier({ extraIntermediates: intermediates, allowF9WithoutBasicConstraints: false });
    const attStmt = new Map<string, unknown>([
      ['alg', -35],
      ['sig', encoder.encode(Buffer.alloc(64, 1))],
      ['x5c', [read('yk-25515003-slot9c-attestation.pem'), read('yk-25515003-slotf9-intermediate.pem')]],
    ]);
    refused(() => verify({ attStmt, token: 't', keyAuthorization: KEY_AUTH, anchors: roots, at: NOW }), 'sig', /does not cover/);
  });

  test('firmware 4.3.5 (f9 without basicConstraints) is refused unless the operator allows it', () => {
    const attStmt = new Map<string, unknown>([
      ['alg', -257],
      ['sig', encoder.encode(Buffer.alloc(256, 1))],
      ['x5c', [read('yk-5970478-fw435-slot9a-attestation.pem'), read('yk-5970478-fw435-slotf9-intermediate.pem')]],
    ]);
    const strict = stepVerifier({ extraIntermediates: [], allowF9WithoutBasicConstraints: false });
    refused(() => strict({ attStmt, token: 't', keyAuthorization: KEY_AUTH, anchors: roots, at: NOW }), 'chain', /no basicConstraints/);
    const lenient = stepVerifier({ extraIntermediates: [], allowF9WithoutBasicConstraints: true });
    refused(() => lenient({ attStmt, token: 't', keyAuthorization: KEY_AUTH, anchors: roots, at: NOW }), 'sig', /does not cover/);
  });

  test('firmware 5.7.4 without the Yubico intermediates is refused', () => {
    const attStmt = new Map<string, unknown>([
      ['sig', encoder.encode(Buffer.alloc(256, 1))],
      ['x5c', [read('yk-32718477-fw574-slot9a-attestation.pem'), read('yk-32718477-fw574-slotf9-intermediate.pem')]],
    ]);
    const bare = stepVerifier({ extraIntermediates: [], allowF9WithoutBasicConstraints: false });
    refused(() => bare({ attStmt, token: 't', keyAuthorization: KEY_AUTH, anchors: roots, at: NOW }), 'chain', /neither supplied nor trusted/);
  });
});

describe('step statements signed by a key the test holds', () => {
  let root: TestCert;
  let f9: TestCert;
  let leaf: TestCert;
  let p384Leaf: TestCert;
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
  const yubico = (serial: number): [string, boolean, Uint8Array][] => [
    ['1.3.6.1.4.1.41482.3.3', false, Buffer.from([5, 4, 3])],
    ['1.3.6.1.4.1.41482.3.7', false, Buffer.from([0x02, 0x04, ...Buffer.from(serial.toString(16).padStart(8, '0'), 'hex')])],
    ['1.3.6.1.4.1.41482.3.8', false, Buffer.from([1, 2])],
  ];
  before(async () => {
    root = await makeCert({ subject: 'CN=Test PIV Root', ca: true });
    f9 = await makeCert({ subject: 'CN=Test PIV Attestation', issuer: root, ca: true, pathLen: 0 });
    leaf = await makeCert({ subject: 'CN=YubiKey PIV Attestation 9a', issuer: f9, key, extensions: yubico(12345678) });
    p384Leaf = await makeCert({ subject: 'CN=YubiKey PIV Attestation 9c', issuer: f9, key: p384, extensions: yubico(87654321) });
  });
  const verify = stepVerifier({ extraIntermediates: [], allowF9WithoutBasicConstraints: false });
  const statement = (over: Record<string, unknown> = {}, signer = key, certs?: Buffer[]) =>
    new Map<string, unknown>(
      Object.entries({
        alg: -7,
        sig: encoder.encode(sign('sha256', Buffer.from(KEY_AUTH), signer)),
        x5c: certs ?? [leaf.der, f9.der],
        ...over,
      }),
    );
  const input = (attStmt: Map<string, unknown>, over: Partial<AttestationInput> = {}): AttestationInput => ({
    attStmt,
    token: 'token123',
    keyAuthorization: KEY_AUTH,
    anchors: [root.der],
    at: new Date(),
    ...over,
  });

  test('a statement signed by the attested key verifies and names the serial and the key', () => {
    const facts = verify(input(statement()));
    assert.deepEqual(facts.permanentIdentifiers, ['12345678']);
    assert.equal(facts.claims.firmwareVersion, '5.4.3');
    assert.equal(facts.claims.touchPolicy, 'always');
    assert.ok(facts.attestedSpki.equals(leaf.cert.publicKey.rawData ? Buffer.from(leaf.cert.publicKey.rawData) : Buffer.alloc(0)));
  });

  test('P-384 keys (real FIPS YubiKeys) are accepted, unlike step-ca', () => {
    const facts = verify(input(statement({}, p384, [p384Leaf.der, f9.der])));
    assert.deepEqual(facts.permanentIdentifiers, ['87654321']);
  });

  test('refusals name the failed check', () => {
    refused(() => verify(input(statement(), { keyAuthorization: 'token123.otheraccount' })), 'sig', /does not cover/);
    refused(() => verify(input(statement({ sig: undefined }))), 'sig', /no "sig"/);
    refused(() => verify(input(statement({ sig: 'text' }))), 'sig', /not a byte string/);
    refused(() => verify(input(statement({ sig: Buffer.from([0xff]) }))), 'sig', /CBOR byte string/);
    refused(() => verify(input(statement({ sig: encoder.encode(5) }))), 'sig', /CBOR byte string/);
    refused(() => verify(input(statement({}, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey))), 'sig', /does not cover/);
    refused(() => verify(input(statement({ x5c: [] }))), 'x5c', /empty/);
    refused(() => verify(input(statement(), { anchors: roots })), 'chain', /trusted|signature/);
    refused(() => verify(input(statement(), { at: new Date(Date.now() + 86_400_000 * 400) })), 'chain', /expired/);
    refused(() => verify(input(statement({ x5c: [leaf.der] }))), 'chain', /neither supplied nor trusted/);
  });
});
