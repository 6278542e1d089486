// The Apple verifier on real Managed Device Attestation chains (test/fixtures/apple, provenance in
// its README) at their pinned times, and every way such a statement must be refused.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { Encoder } from 'cbor-x';
import { decodeAttObj } from '../src/attestation/attobj.js';
import { appleLeafFacts, verifyApple } from '../src/attestation/apple.js';
import { appleEnterpriseAttestationRootPem } from '../src/attestation/roots/apple.js';
import { AttestationError, type AttestationInput } from '../src/attestation/verifier.js';
import { parseCert } from '../src/pki/chain.js';
import { fromPem } from '../src/pki/pem.js';

const dir = new URL('./fixtures/apple/', import.meta.url);
const read = (f: string) => readFileSync(new URL(f, dir), 'utf8');
const expected = JSON.parse(read('expected.json'));
const root = fromPem(appleEnterpriseAttestationRootPem);
const subCa = fromPem(read('apple-enterprise-attestation-sub-ca-1.pem'))[0]!;
const PIN_2026 = new Date('2026-06-01T00:00:00Z');
// README "Known freshness pre-image": SHA-256 of this string is the freshness code of f99b7905.
const F99_TOKEN = 'qKxKds4zZk81flmOxcOmQVYSL0xkeg88tLBfXd7ghhJ/QYjW5ZKBAzASJ0TPwseWv38jW61NESGDtGsJqdzJ9Q==';
const encoder = new Encoder({ mapsAsObjects: false, useRecords: false } as ConstructorParameters<typeof Encoder>[0]);

const chains = [
  { file: 'mda-chain-17ca90f7.pem', serial: 'WV0NCDC2TX', udid: '00006032-001C704A1A92401C', os: '26.2' },
  { file: 'mda-chain-46a8fd75.pem', serial: 'HH0K6TJY0J', udid: '00006041-0002315A3E0A401C', os: '26.4.1' },
  { file: 'mda-chain-53d12f24.pem', serial: 'FXXNF6YCRF', udid: '00006040-001C49E00289801C', os: '26.4.1' },
  { file: 'mda-chain-db9b4c03.pem', serial: 'JH3FYC9XM9', udid: '00006031-001409193AD9001C', os: '26.5' },
  { file: 'mda-chain-f99b7905.pem', serial: 'WRPWFW61H9', udid: '00006021-0014182A11C0201E', os: '26.2' },
];

const input = (attStmt: Map<string, unknown>, over: Partial<AttestationInput> = {}): AttestationInput => ({
  attStmt,
  token: F99_TOKEN,
  keyAuthorization: `${F99_TOKEN}.accountthumbprint`,
  anchors: root,
  at: PIN_2026,
  ...over,
});
const stmt = (certs: Buffer[]) => new Map<string, unknown>([['x5c', certs]]);
const refused = (fn: () => unknown, check: string, detail: RegExp) => {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof AttestationError, String(err));
    assert.equal(err.check, check);
    assert.match(err.detail, detail);
    return true;
  });
};

describe('apple attestation', () => {
  for (const c of chains) {
    test(`${c.file}: leaf facts are the device's serial, UDID, versions and security state`, () => {
      const [leaf] = fromPem(read(c.file));
      const facts = appleLeafFacts(parseCert(leaf!));
      assert.deepEqual(facts.permanentIdentifiers, [c.serial, c.udid]);
      assert.deepEqual(facts.hardwareModules, [{ type: '1.2.840.113635.100.8.9.2', serial: c.udid }]);
      assert.equal(facts.claims.osVersion, c.os);
      assert.equal(facts.claims.sepOsVersion, c.os);
      assert.equal(facts.claims.secureBootLevel, 'Full Security');
      assert.equal(facts.claims.sipEnabled, true);
      assert.equal(facts.claims.thirdPartyKextsAllowed, false);
    });
  }

  test('the 2025 nanoca leaf (no EKU) yields its serial and UDID', () => {
    const facts = appleLeafFacts(parseCert(fromPem(read('mda-leaf-nanoca-TMWFWWWP67.pem'))[0]!));
    assert.deepEqual(facts.permanentIdentifiers, ['TMWFWWWP67', '00006030-000651690A84001C']);
    assert.equal(facts.claims.osVersion, '15.5');
  });

  test('the constructed attObj of f99b7905 verifies with its known token, giving identifiers and the attested key', () => {
    const obj = decodeAttObj(read('constructed-attobj-f99b7905.b64url').trim());
    assert.equal(obj.fmt, 'apple');
    const facts = verifyApple(input(obj.attStmt));
    assert.equal(facts.format, 'apple');
    assert.deepEqual(facts.permanentIdentifiers, ['WRPWFW61H9', '00006021-0014182A11C0201E']);
    const spkiHash = createHash('sha256').update(facts.attestedSpki).digest('hex');
    assert.equal(spkiHash, expected.vectors['mda-chain-f99b7905.pem'].chain[0].key.spki_sha256_hex);
    assert.equal(facts.chain.length, 3, 'leaf, Sub CA 1, root');
    assert.equal(facts.claims.softwareUpdateDeviceId, 'J416cAP');
  });

  test('freshness: SHA-256 of the key authorization is accepted as the draft allows', () => {
    const obj = decodeAttObj(read('constructed-attobj-f99b7905.b64url').trim());
    // Here the pre-image plays the key authorization and the token is something else.
    verifyApple(input(obj.attStmt, { token: 'another-token', keyAuthorization: F99_TOKEN }));
  });

  test('freshness code not SHA-256 of this challenge: refused, naming the check', () => {
    const obj = decodeAttObj(read('constructed-attobj-17ca90f7.b64url').trim());
    refused(() => verifyApple(input(obj.attStmt)), 'freshness', /freshness code does not match SHA-256 of the challenge token/);
    for (const c of chains.filter((x) => x.file !== 'mda-chain-f99b7905.pem')) {
      refused(() => verifyApple(input(stmt(fromPem(read(c.file))))), 'freshness', /does not match/);
    }
  });

  test('every real chain checked now has expired', () => {
    for (const c of chains) {
      refused(() => verifyApple(input(stmt(fromPem(read(c.file))), { at: new Date('2026-11-26T00:00:00Z') })), 'chain', /expired at/);
    }
  });

  test('a chain without Sub CA 1 is refused; Sub CA 1 from the client is not a root', () => {
    const [leaf] = fromPem(read('mda-chain-f99b7905.pem'));
    refused(() => verifyApple(input(stmt([leaf!]))), 'chain', /neither supplied nor trusted/);
    refused(() => verifyApple(input(stmt([leaf!, subCa]), { anchors: [] })), 'chain', /no trust anchors/);
  });

  test('a chain to another format’s root is refused (per-format trust)', () => {
    const yubicoRoot = fromPem(readFileSync(new URL('./fixtures/yubikey/yubico-piv-root-ca-serial-263751.pem', import.meta.url), 'utf8'));
    refused(() => verifyApple(input(stmt(fromPem(read('mda-chain-f99b7905.pem'))), { anchors: yubicoRoot })), 'chain', /trusted/);
  });

  test('a flipped byte in the leaf signature is refused', () => {
    const [leaf, sub] = fromPem(read('mda-chain-f99b7905.pem'));
    const bad = Buffer.from(leaf!);
    bad[bad.length - 10]! ^= 0x01;
    refused(() => verifyApple(input(stmt([bad, sub!]))), 'chain', /signature|DER|certificate/);
  });

  test('a remembered intermediate signature does not excuse a tampered copy of the intermediate', () => {
    // The genuine Sub CA verifies under the root, and chain.ts remembers that for the next device;
    // a copy with a flipped signature byte is other bytes, so its signature is checked, and fails.
    const [leaf, sub] = fromPem(read('mda-chain-f99b7905.pem'));
    verifyApple(input(stmt([leaf!, sub!])));
    const bad = Buffer.from(sub!);
    bad[bad.length - 10]! ^= 0x01;
    refused(() => verifyApple(input(stmt([leaf!, bad]))), 'chain', /signature|DER|certificate/);
    verifyApple(input(stmt([leaf!, sub!])));
  });

  test('x5c missing, empty, not bytes, or not a certificate', () => {
    refused(() => verifyApple(input(new Map())), 'x5c', /no "x5c"/);
    refused(() => verifyApple(input(new Map([['x5c', []]]))), 'x5c', /empty/);
    refused(() => verifyApple(input(new Map([['x5c', 'abc']]))), 'x5c', /not an array/);
    refused(() => verifyApple(input(new Map([['x5c', ['text']]]))), 'x5c', /x5c\[0\] is not a byte string/);
    refused(() => verifyApple(input(stmt([Buffer.from('30030201', 'hex')]))), 'chain', /not a DER X\.509 certificate/);
  });

  test('unknown attStmt members are ignored', () => {
    const obj = decodeAttObj(read('constructed-attobj-f99b7905.b64url').trim());
    obj.attStmt.set('somethingNew', 42);
    verifyApple(input(obj.attStmt));
  });
});

describe('attestation object decoding', () => {
  const enc = (v: unknown) => encoder.encode(v).toString('base64url');
  const map = (...entries: [unknown, unknown][]) => new Map<unknown, unknown>(entries);
  const nest = (n: number): unknown => (n === 0 ? 1 : [nest(n - 1)]);
  const cases: [string, string, RegExp][] = [
    ['empty', '', /empty/],
    ['padding', 'oA==', /base64url/],
    ['standard base64 characters', 'a+b/', /base64url/],
    ['not CBOR', Buffer.from([0xff, 0xff]).toString('base64url'), /not well-formed CBOR/],
    ['truncated', enc(map(['fmt', 'apple'])).slice(0, -2), /not well-formed CBOR/],
    ['trailing bytes', Buffer.concat([encoder.encode(map(['fmt', 'apple'], ['attStmt', map()])), Buffer.from([0])]).toString('base64url'), /not well-formed CBOR/],
    ['top level an array', enc(['apple']), /not a CBOR map/],
    ['fmt missing', enc(map(['attStmt', map()])), /no "fmt"/],
    ['fmt not text', enc(map(['fmt', 1], ['attStmt', map()])), /no "fmt"/],
    ['attStmt not a map', enc(map(['fmt', 'apple'], ['attStmt', [1]])), /no "attStmt" map/],
    ['attStmt with a number key', enc(map(['fmt', 'apple'], ['attStmt', map([1, 2])])), /not a text string/],
    ['nested too deep', enc(map(['fmt', 'apple'], ['attStmt', map(['x', nest(10)])])), /deeper/],
    ['too large', 'A'.repeat(50_000), /larger than/],
  ];
  for (const [name, text, detail] of cases) {
    test(name, () => refused(() => decodeAttObj(text), name === 'empty' || name.includes('base64') || name === 'padding' || name === 'too large' ? 'attObj' : 'cbor', detail));
  }
});
