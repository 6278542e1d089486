// The android-key verifier: on a real Pixel 8a WebAuthn statement (test/fixtures/android, provenance
// in its README) at its pinned time, and on ACME statements built here (step-ca's construction:
// attestationChallenge = key authorization, sig over it) with every way one must be refused.
import assert from 'node:assert/strict';
import { createHash, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { before, describe, test } from 'node:test';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { AuthorizationList, IntegerSet, KeyMintKeyDescription, RootOfTrust } from '@peculiar/asn1-android';
import { Decoder } from 'cbor-x';
import { decodeAttObj } from '../src/attestation/attobj.js';
import { androidKeyClaims, androidKeyVerifier, checkStatementSignature, verifyAndroidKey } from '../src/attestation/android-key.js';
import { OID_ANDROID_KEY_DESCRIPTION, parseKeyDescription } from '../src/attestation/android-key-description.js';
import { googleAttestationRoots } from '../src/attestation/roots/google.js';
import { AttestationError, type AttestationInput } from '../src/attestation/verifier.js';
import { extension, parseCert, verifyChain } from '../src/pki/chain.js';
import { makeCert, type TestCert } from './helpers/pki.js';

const dir = new URL('./fixtures/android/', import.meta.url);
const read = (f: string) => readFileSync(new URL(f, dir), 'utf8');
const expected = JSON.parse(read('expected.json'));
const pixel = expected.vectors['webauthn-android-key-pixel8a'];
const cbor = new Decoder({ mapsAsObjects: false, useRecords: false } as ConstructorParameters<typeof Decoder>[0]);
const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest();

const refused = (fn: () => unknown, check: string, detail: RegExp) => {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof AttestationError, String(err));
    assert.equal(err.check, check);
    assert.match(err.detail, detail);
    return true;
  });
};

describe('android-key: the real Pixel 8a WebAuthn statement', () => {
  // README: the whole chain is valid 2025-01-07T17:08:43Z → 2025-02-02T10:35:27Z.
  const PINNED = new Date('2025-01-08T00:00:00Z');
  const LATER = new Date('2026-11-26T00:00:00Z');
  const attObjText = read('webauthn-android-key-pixel8a.attObj.b64url').trim();
  const clientDataHash = sha256(read('webauthn-android-key-pixel8a.clientDataJSON.json'));
  const { fmt, attStmt } = decodeAttObj(attObjText);
  const certs = attStmt.get('x5c') as Uint8Array[];
  const input = (over: Partial<AttestationInput> = {}): AttestationInput => ({
    attStmt,
    // The WebAuthn challenge of the capture, standing in for an ACME token.
    token: 't4LWI0iYJSTWPl9WXUdNhdHAnrPDLF9eWAP9lHgmHP8',
    keyAuthorization: 't4LWI0iYJSTWPl9WXUdNhdHAnrPDLF9eWAP9lHgmHP8.thumbprint',
    anchors: googleAttestationRoots(),
    at: PINNED,
    ...over,
  });

  test('the fixture is the documented one, and the embedded Google roots are the documented certificates', () => {
    assert.equal(sha256(Buffer.from(attObjText, 'base64url')).toString('hex'), pixel.attObj_sha256);
    assert.equal(fmt, 'android-key');
    assert.equal(attStmt.get('alg'), pixel.alg);
    assert.equal(certs.length, 5);
    const roots = googleAttestationRoots().map((d) => sha256(d).toString('hex'));
    assert.deepEqual(roots, [
      expected.trust['google-hardware-attestation-root-rsa-2022.pem'].cert_sha256,
      expected.trust['google-key-attestation-ca1-ecdsa-2025.pem'].cert_sha256,
    ]);
  });

  test('at its pinned time the chain verifies to the built-in RSA root (2022 issuance), whose 2019 issuance it carries', () => {
    for (const sent of [certs.slice(1), certs.slice(1, 4)]) {
      const { path, anchor } = verifyChain(certs[0]!, sent, googleAttestationRoots(), { at: PINNED });
      assert.equal(sha256(anchor.der).toString('hex'), expected.trust['google-hardware-attestation-root-rsa-2022.pem'].cert_sha256);
      assert.deepEqual(
        path.slice(0, 4).map((c) => sha256(c.der).toString('hex')),
        pixel.x5c.slice(0, 4).map((c: { cert_sha256: string }) => c.cert_sha256),
      );
    }
  });

  test('its KeyDescription parses with the values in expected.json', () => {
    const leaf = parseCert(certs[0]!);
    const ext = extension(leaf, OID_ANDROID_KEY_DESCRIPTION);
    assert.ok(ext && !ext.critical);
    const kd = parseKeyDescription(ext.value);
    const want = pixel.keyDescription;
    assert.equal(kd.attestationVersion, want.attestationVersion);
    assert.equal(kd.attestationSecurityLevel, want.attestationSecurityLevel);
    assert.equal(kd.keymasterVersion, want.keyMintVersion);
    assert.equal(kd.keymasterSecurityLevel, want.keyMintSecurityLevel);
    assert.equal(kd.attestationChallenge.toString('hex'), want.attestationChallenge_hex);
    assert.ok(kd.attestationChallenge.equals(clientDataHash), 'WebAuthn: the challenge is SHA-256(clientDataJSON)');
    assert.equal(kd.uniqueId.toString('hex'), want.uniqueId_hex);
    assert.deepEqual(kd.hardwareEnforced.tags, [1, 2, 3, 5, 10, 504, 505, 702, 704, 705, 706, 718, 719]);
    assert.deepEqual(kd.softwareEnforced.tags, [701, 709]);
    assert.deepEqual([...kd.hardwareEnforced.unknownTags, ...kd.softwareEnforced.unknownTags], []);
    assert.equal(kd.hardwareEnforced.values.attestationIdSerial, want.attestationIdSerial ?? undefined);
  });

  test('its claims: TEE, KeyMint 300, Android 15 with the January 2025 patch, verified boot, locked', () => {
    const kd = parseKeyDescription(extension(parseCert(certs[0]!), OID_ANDROID_KEY_DESCRIPTION)!.value);
    assert.deepEqual(androidKeyClaims(kd), {
      attestationVersion: 300,
      securityLevel: 'TrustedEnvironment',
      keymasterVersion: 300,
      keymasterSecurityLevel: 'TrustedEnvironment',
      osVersion: 150000,
      osPatchLevel: 202501,
      vendorPatchLevel: 20250105,
      bootPatchLevel: 20250105,
      verifiedBootState: 'Verified',
      deviceLocked: true,
      keyOrigin: 'generated',
    });
  });

  test('its sig verifies (ES256, leaf key) over authData || clientDataHash, the WebAuthn construction, and not over a key authorization', () => {
    const leafKey = parseCert(certs[0]!).x509.publicKey;
    assert.equal(sha256(leafKey.export({ type: 'spki', format: 'der' })).toString('hex'), pixel.x5c[0].key.spki_sha256_hex);
    // authData is a top-level member of the attestation object (WebAuthn §6.5.4); attobj.ts does not return it.
    const authData = cbor.decode(Buffer.from(attObjText, 'base64url')).get('authData') as Uint8Array;
    const sig = attStmt.get('sig') as Uint8Array;
    checkStatementSignature(-7, leafKey, Buffer.concat([authData, clientDataHash]), sig);
    refused(() => checkStatementSignature(-7, leafKey, Buffer.from(input().keyAuthorization), sig), 'sig', /does not verify \(ES256\)/);
  });

  const cases: { name: string; over: Partial<AttestationInput>; revoked?: string[]; check: string; detail: RegExp }[] = [
    {
      name: 'at its pinned time, ACME refuses it: its attestationChallenge is a WebAuthn clientDataHash, not the key authorization',
      over: {},
      check: 'challenge',
      detail: /^the KeyDescription attestationChallenge \(32 bytes\) is not this challenge's key authorization/,
    },
    {
      name: 'checked today (2026-11-26) the chain has expired: the RKP attestation key certificate lived four weeks',
      over: { at: LATER },
      check: 'chain',
      detail: /^Android attestation chain: certificate "CN=d602a03a672d865ba5a485e33a207c73, O=TEE" expired at 2025-02-02T10:35:27.000Z/,
    },
    {
      name: 'with the TEE attestation key certificate on the revocation list',
      over: {},
      revoked: ['D602A03A672D865BA5A485E33A207C73'],
      check: 'revoked',
      detail: /serial d602a03a672d865ba5a485e33a207c73\) is on Google's attestation revocation list/,
    },
    {
      name: 'with only the ECDSA root as anchor',
      over: { anchors: googleAttestationRoots().slice(1) },
      check: 'chain',
      detail: /^Android attestation chain: /,
    },
    { name: 'with no anchors', over: { anchors: [] }, check: 'chain', detail: /no trust anchors are configured/ },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const verify = c.revoked ? androidKeyVerifier({ revokedSerials: new Set(c.revoked) }) : verifyAndroidKey;
      refused(() => verify(input(c.over)), c.check, c.detail);
    });
  }
});


// ---------------------------------------------------------------------------------------------
// Synthetic ACME statements: a root and an intermediate the test owns, leaves carrying a
// KeyDescription encoded here (with @peculiar/asn1-android's serializer, or by hand for the
// orderings and tags real devices send), attestationChallenge = the key authorization.

const KEY_AUTH = 'evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI';
const AT = new Date('2026-11-26T12:00:00Z');
const VALID = { notBefore: new Date('2026-01-01T00:00:00Z'), notAfter: new Date('2027-01-01T00:00:00Z') };
const oct = (v: string | Uint8Array) => new OctetString(typeof v === 'string' ? Buffer.from(v, 'utf8') : v);

interface KdSpec {
  challenge?: string;
  level?: number;
  kmLevel?: number;
  serial?: string | Uint8Array | null;
  softwareSerial?: string;
}

function keyDescription(s: KdSpec = {}): Buffer {
  const level = s.level ?? 1;
  const serial = s.serial === undefined ? 'SER-0001' : s.serial;
  return Buffer.from(
    AsnConvert.serialize(
      new KeyMintKeyDescription({
        attestationVersion: 300,
        attestationSecurityLevel: level,
        keyMintVersion: 300,
        keyMintSecurityLevel: s.kmLevel ?? level,
        attestationChallenge: oct(s.challenge ?? KEY_AUTH),
        uniqueId: oct(''),
        softwareEnforced: new AuthorizationList({ creationDateTime: 1764158400000, ...(s.softwareSerial ? { attestationIdSerial: oct(s.softwareSerial) } : {}) }),
        hardwareEnforced: new AuthorizationList({
          purpose: new IntegerSet([2]),
          algorithm: 3,
          origin: 0,
          rootOfTrust: new RootOfTrust({ verifiedBootKey: oct(Buffer.alloc(32, 7)), deviceLocked: true, verifiedBootState: 0, verifiedBootHash: oct(Buffer.alloc(32, 9)) }),
          osVersion: 160000,
          osPatchLevel: 202611,
          attestationIdBrand: oct('google'),
          attestationIdDevice: oct('akita'),
          attestationIdProduct: oct('akita'),
          ...(serial === null ? {} : { attestationIdSerial: oct(serial) }),
          attestationIdManufacturer: oct('Google'),
          attestationIdModel: oct('Pixel 8a'),
          vendorPatchLevel: 20261105,
          bootPatchLevel: 20261105,
        }),
      }),
    ),
  );
}

// A hand-made DER encoder (X.690) for what the schema-driven encoder cannot produce.
const derLength = (n: number): Buffer => (n < 0x80 ? Buffer.from([n]) : Buffer.from([0x82, n >> 8, n & 0xff]));
const tlv = (tag: number[], content: Buffer) => Buffer.concat([Buffer.from(tag), derLength(content.length), content]);
const seq = (...items: Buffer[]) => tlv([0x30], Buffer.concat(items));
const int = (n: number) => {
  const hex = n.toString(16).padStart(Math.ceil(n.toString(16).length / 2) * 2, '0');
  return tlv([0x02], Buffer.from(/^[89a-f]/.test(hex) ? `00${hex}` : hex, 'hex'));
};
const enumerated = (n: number) => tlv([0x0a], Buffer.from([n]));
const octets = (v: string | Buffer) => tlv([0x04], Buffer.from(v));
/** [n] EXPLICIT, context-specific constructed; tag numbers ≥ 31 in the high-tag form. */
const ctx = (n: number, inner: Buffer) => tlv(n < 31 ? [0xa0 | n] : [0xbf, ...(n >= 128 ? [0x80 | (n >> 7)] : []), n & 0x7f], inner);
const rawKd = (hw: Buffer[], sw: Buffer[] = [], head: Buffer[] = [int(300), enumerated(1), int(300), enumerated(1), octets(KEY_AUTH), octets('')]) =>
  seq(...head, seq(...sw), seq(...hw));

describe('android-key: KeyDescription parsing', () => {
  test('the package encoder and this parser agree', () => {
    const kd = parseKeyDescription(keyDescription());
    assert.equal(kd.attestationChallenge.toString(), KEY_AUTH);
    assert.deepEqual(kd.hardwareEnforced.tags, [1, 2, 702, 704, 705, 706, 710, 711, 712, 713, 716, 717, 718, 719]);
    assert.equal(Buffer.from(kd.hardwareEnforced.values.attestationIdSerial!.buffer).toString(), 'SER-0001');
  });

  test('tags out of order and tags no schema knows yet are accepted; the unknown ones are reported', () => {
    const kd = parseKeyDescription(rawKd([ctx(713, octets('SER-9')), ctx(705, int(150000)), ctx(726, int(1)), ctx(1, tlv([0x31], int(2)))], [ctx(799, seq()), ctx(701, int(5))]));
    assert.deepEqual(kd.hardwareEnforced.tags, [713, 705, 726, 1]);
    assert.deepEqual(kd.hardwareEnforced.unknownTags, [726]);
    assert.deepEqual(kd.softwareEnforced.unknownTags, [799]);
    assert.equal(kd.hardwareEnforced.values.osVersion, 150000);
    assert.deepEqual([...kd.hardwareEnforced.values.purpose!], [2]);
  });

  const bad: { name: string; der: Buffer; detail: RegExp }[] = [
    { name: 'not DER at all', der: Buffer.from('not a key description'), detail: /not a SEQUENCE|runs past|truncated/ },
    { name: 'trailing bytes', der: Buffer.concat([rawKd([]), Buffer.from([0, 0])]), detail: /trailing bytes/ },
    { name: 'a field missing', der: seq(int(300), enumerated(1), int(300), enumerated(1), octets(KEY_AUTH), seq(), seq()), detail: /has 7 fields, the schema has 8/ },
    { name: 'the challenge as a UTF8String', der: rawKd([], [], [int(300), enumerated(1), int(300), enumerated(1), tlv([0x0c], Buffer.from(KEY_AUTH)), octets('')]), detail: /attestationChallenge is not an OCTET STRING/ },
    { name: 'a negative security level', der: rawKd([], [], [int(300), tlv([0x0a], Buffer.from([0xff])), int(300), enumerated(1), octets(KEY_AUTH), octets('')]), detail: /attestationSecurityLevel is not a small non-negative integer/ },
    { name: 'a known tag holding the wrong type', der: rawKd([ctx(705, octets('15'))]), detail: /hardwareEnforced \[705\] osVersion does not decode/ },
    { name: 'a known tag holding two values', der: rawKd([ctx(705, Buffer.concat([int(1), int(2)]))]), detail: /\[705\] osVersion does not hold exactly one value/ },
    { name: 'the serial twice', der: rawKd([ctx(713, octets('A')), ctx(713, octets('B'))]), detail: /hardwareEnforced has tag \[713\] twice/ },
    { name: 'an element without a context tag', der: rawKd([int(5)]), detail: /hardwareEnforced has an element that is not an EXPLICIT context tag/ },
  ];
  for (const c of bad) {
    test(`refused: ${c.name}`, () => refused(() => parseKeyDescription(c.der), 'keyDescription', c.detail));
  }
});

describe('android-key: synthetic ACME statements', () => {
  const keys = {
    p256: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey,
    p384: generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey,
    rsa: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey,
    ed25519: generateKeyPairSync('ed25519').privateKey,
    other: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey,
  };
  const hashOf: Record<number, string | null> = { [-7]: 'sha256', [-35]: 'sha384', [-257]: 'sha256', [-8]: null };
  const sigOver = (alg: number, key: KeyObject, data = KEY_AUTH) => sign(hashOf[alg]!, Buffer.from(data), key);
  const spki = (key: KeyObject) => createPublicKey(key).export({ type: 'spki', format: 'der' });

  let root: TestCert;
  let sameNameRoot: TestCert;
  let intermediate: TestCert;
  const leaves: Record<string, TestCert> = {};
  let attestingCa: TestCert;
  let forgedLeaf: TestCert;

  const leaf = (key: KeyObject, kd: Buffer | null, over: Partial<typeof VALID> = {}) =>
    makeCert({
      subject: 'CN=Android Keystore Key',
      issuer: intermediate,
      key,
      ca: 'no-basic-constraints', // as real attestation leaves
      ...VALID,
      ...over,
      extensions: kd ? [[OID_ANDROID_KEY_DESCRIPTION, false, kd]] : [],
    });

  before(async () => {
    root = await makeCert({ subject: 'CN=Test Android Attestation Root', ca: true, ...VALID });
    sameNameRoot = await makeCert({ subject: 'CN=Test Android Attestation Root', ca: true, ...VALID });
    intermediate = await makeCert({ subject: 'CN=Test Droid CA', issuer: root, ca: true, ...VALID });
    leaves.p256 = await leaf(keys.p256, keyDescription());
    leaves.p384 = await leaf(keys.p384, keyDescription({ level: 2 }));
    leaves.rsa = await leaf(keys.rsa, keyDescription());
    leaves.ed25519 = await leaf(keys.ed25519, keyDescription());
    leaves.noSerial = await leaf(keys.p256, keyDescription({ serial: null }));
    leaves.softwareSerial = await leaf(keys.p256, keyDescription({ serial: null, softwareSerial: 'SW-SERIAL' }));
    leaves.unordered = await leaf(keys.p256, rawKd([ctx(713, octets('SER-9')), ctx(726, int(1)), ctx(705, int(150000))]));
    leaves.otherChallenge = await leaf(keys.p256, keyDescription({ challenge: 'evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.otheraccountthumbprint' }));
    leaves.software = await leaf(keys.p256, keyDescription({ level: 0 }));
    leaves.softwareKeymint = await leaf(keys.p256, keyDescription({ level: 1, kmLevel: 0 }));
    leaves.levelThree = await leaf(keys.p256, keyDescription({ level: 3 }));
    leaves.noExtension = await leaf(keys.p256, null);
    leaves.garbageExtension = await leaf(keys.p256, Buffer.from([0x30, 0x03, 0x02, 0x01]));
    leaves.serialNotUtf8 = await leaf(keys.p256, keyDescription({ serial: Buffer.from([0xc3, 0x28]) }));
    leaves.expired = await leaf(keys.p256, keyDescription(), { notAfter: new Date('2026-06-01T00:00:00Z') });
    leaves.notYetValid = await leaf(keys.p256, keyDescription(), { notBefore: new Date('2026-12-01T00:00:00Z') });
    // An attested key that is a CA (contrived, so the chain verifies) certifying a second
    // "attested" key with a KeyDescription of its own making: only the upper one counts.
    attestingCa = await makeCert({ subject: 'CN=Android Keystore Key', issuer: intermediate, key: keys.p256, ca: true, ...VALID, extensions: [[OID_ANDROID_KEY_DESCRIPTION, false, keyDescription({ serial: 'REAL' })]] });
    forgedLeaf = await makeCert({ subject: 'CN=Forged', issuer: attestingCa, key: keys.other, ca: 'no-basic-constraints', ...VALID, extensions: [[OID_ANDROID_KEY_DESCRIPTION, false, keyDescription({ serial: 'FORGED', level: 2 })]] });
  });

  /** attStmt for `leafName`, signed with `key` under `alg`; `over` replaces members (undefined removes). */
  const statement = (leafName: string, alg = -7, key: KeyObject = keys.p256, over: Record<string, unknown> = {}) => {
    const m = new Map<string, unknown>([
      ['alg', alg],
      ['sig', sigOver(alg, key)],
      ['x5c', [leaves[leafName]!.der, intermediate.der]],
    ]);
    for (const [k, v] of Object.entries(over)) (v === undefined ? m.delete(k) : m.set(k, v));
    return m;
  };
  const input = (attStmt: Map<string, unknown>, over: Partial<AttestationInput> = {}): AttestationInput => ({
    attStmt,
    token: KEY_AUTH.split('.')[0]!,
    keyAuthorization: KEY_AUTH,
    anchors: [root.der],
    at: AT,
    ...over,
  });

  const accepted: { name: string; stmt: () => Map<string, unknown>; key: () => KeyObject; ids: string[]; claims?: Record<string, unknown>; exact?: boolean }[] = [
    {
      name: 'ES256, P-256 key in the TEE, with ID attestation',
      stmt: () => statement('p256'),
      key: () => keys.p256,
      ids: ['SER-0001'],
      exact: true,
      claims: {
        ...{ attestationVersion: 300, securityLevel: 'TrustedEnvironment', keymasterVersion: 300, keymasterSecurityLevel: 'TrustedEnvironment' },
        ...{ osVersion: 160000, osPatchLevel: 202611, vendorPatchLevel: 20261105, bootPatchLevel: 20261105 },
        ...{ verifiedBootState: 'Verified', deviceLocked: true, keyOrigin: 'generated' },
        ...{ brand: 'google', device: 'akita', product: 'akita', manufacturer: 'Google', model: 'Pixel 8a' },
      },
    },
    { name: 'ES384, P-384 key in a StrongBox', stmt: () => statement('p384', -35, keys.p384), key: () => keys.p384, ids: ['SER-0001'], claims: { securityLevel: 'StrongBox' } },
    { name: 'RS256, RSA-2048 key', stmt: () => statement('rsa', -257, keys.rsa), key: () => keys.rsa, ids: ['SER-0001'] },
    { name: 'EdDSA, Ed25519 key, signature over the raw key authorization', stmt: () => statement('ed25519', -8, keys.ed25519), key: () => keys.ed25519, ids: ['SER-0001'] },
    { name: 'the root sent in x5c as well', stmt: () => statement('p256', -7, keys.p256, { x5c: [leaves.p256!.der, intermediate.der, root.der] }), key: () => keys.p256, ids: ['SER-0001'] },
    { name: 'no ID attestation: verified, but no identifier (the caller refuses a permanent-identifier order)', stmt: () => statement('noSerial'), key: () => keys.p256, ids: [] },
    { name: 'a serial only in softwareEnforced is not trusted', stmt: () => statement('softwareSerial'), key: () => keys.p256, ids: [] },
    { name: 'tags out of order, one unknown', stmt: () => statement('unordered'), key: () => keys.p256, ids: ['SER-9'], claims: { osVersion: 150000 } },
    {
      name: 'the KeyDescription closest to the root counts, not a forged one below it',
      stmt: () => statement('p256', -7, keys.p256, { x5c: [forgedLeaf.der, attestingCa.der, intermediate.der] }),
      key: () => keys.p256,
      ids: ['REAL'],
      claims: { securityLevel: 'TrustedEnvironment' },
    },
  ];
  for (const c of accepted) {
    test(`accepted: ${c.name}`, () => {
      const facts = verifyAndroidKey(input(c.stmt()));
      assert.equal(facts.format, 'android-key');
      assert.deepEqual(facts.permanentIdentifiers, c.ids);
      assert.deepEqual(facts.hardwareModules, []);
      assert.ok(facts.attestedSpki.equals(spki(c.key())), 'attestedSpki is the attested key');
      assert.ok(facts.chain.at(-1)!.equals(root.der), 'the chain ends at the anchor');
      if (c.claims) for (const [k, v] of Object.entries(c.claims)) assert.equal(facts.claims[k], v, k);
      if (c.exact) assert.deepEqual(facts.claims, c.claims);
    });
  }

  const refusedCases: { name: string; stmt: () => Map<string, unknown>; over?: () => Partial<AttestationInput>; revoked?: () => string[]; check: string; detail: RegExp }[] = [
    { name: 'attestationChallenge is another account’s key authorization', stmt: () => statement('otherChallenge'), check: 'challenge', detail: /attestationChallenge \(\d+ bytes\) is not this challenge's key authorization/ },
    { name: 'the key authorization of another challenge', stmt: () => statement('p256'), over: () => ({ keyAuthorization: 'othertoken.' + KEY_AUTH.split('.')[1] }), check: 'challenge', detail: /is not this challenge's key authorization/ },
    { name: 'security level Software', stmt: () => statement('software'), check: 'securityLevel', detail: /^attestationSecurityLevel is Software: the key was attested by Android's software keystore, not by a TEE or StrongBox$/ },
    { name: 'TEE attestation of a key in the software keystore', stmt: () => statement('softwareKeymint'), check: 'securityLevel', detail: /^keyMintSecurityLevel is Software/ },
    { name: 'an undefined security level', stmt: () => statement('levelThree'), check: 'securityLevel', detail: /attestationSecurityLevel is 3: only TrustedEnvironment \(1\) and StrongBox \(2\)/ },
    { name: 'no KeyDescription extension', stmt: () => statement('noExtension'), check: 'keyDescription', detail: /no certificate in the chain carries the Android KeyDescription extension \(1\.3\.6\.1\.4\.1\.11129\.2\.1\.17\)/ },
    { name: 'a KeyDescription that is not DER', stmt: () => statement('garbageExtension'), check: 'keyDescription', detail: /^Android KeyDescription: / },
    { name: 'a serial that is not UTF-8', stmt: () => statement('serialNotUtf8'), check: 'keyDescription', detail: /attestationIdSerial is not UTF-8/ },
    { name: 'sig over other data', stmt: () => statement('p256', -7, keys.p256, { sig: sigOver(-7, keys.p256, 'something else') }), check: 'sig', detail: /"sig" does not verify \(ES256\) with the attested key/ },
    { name: 'sig by another key', stmt: () => statement('p256', -7, keys.other), check: 'sig', detail: /does not verify/ },
    { name: 'sig by the forged leaf’s key, below the real attestation certificate', stmt: () => statement('p256', -7, keys.other, { x5c: [forgedLeaf.der, attestingCa.der, intermediate.der] }), check: 'sig', detail: /does not verify/ },
    { name: 'sig that is not a signature', stmt: () => statement('p256', -7, keys.p256, { sig: Buffer.from('junk') }), check: 'sig', detail: /does not verify/ },
    { name: 'sig missing', stmt: () => statement('p256', -7, keys.p256, { sig: undefined }), check: 'sig', detail: /^attStmt has no "sig"$/ },
    { name: 'sig a text string', stmt: () => statement('p256', -7, keys.p256, { sig: 'c2ln' }), check: 'sig', detail: /^attStmt "sig" is not a byte string$/ },
    { name: 'alg missing', stmt: () => statement('p256', -7, keys.p256, { alg: undefined }), check: 'alg', detail: /^attStmt has no "alg"$/ },
    { name: 'alg not an integer', stmt: () => statement('p256', -7, keys.p256, { alg: -7.5 }), check: 'alg', detail: /not an integer/ },
    { name: 'alg unsupported (PS256)', stmt: () => statement('p256', -7, keys.p256, { alg: -37 }), check: 'alg', detail: /^alg -37 is not supported/ },
    { name: 'alg not matching the attested key', stmt: () => statement('p256', -35, keys.p256), check: 'alg', detail: /alg -35 \(ES384\) needs an EC P-384 key, the attested key is an EC prime256v1 key/ },
    { name: 'a chain to a root with the trusted name but another key', stmt: () => statement('p256'), over: () => ({ anchors: [sameNameRoot.der] }), check: 'chain', detail: /^Android attestation chain: the signature on "CN=Test Droid CA" does not verify/ },
    { name: 'a chain to the real Google roots', stmt: () => statement('p256'), over: () => ({ anchors: googleAttestationRoots() }), check: 'chain', detail: /^Android attestation chain: / },
    { name: 'the intermediate missing', stmt: () => statement('p256', -7, keys.p256, { x5c: [leaves.p256!.der] }), check: 'chain', detail: /no path from "CN=Android Keystore Key"/ },
    { name: 'an expired leaf', stmt: () => statement('expired'), check: 'chain', detail: /certificate "CN=Android Keystore Key" expired at 2026-06-01T00:00:00.000Z/ },
    { name: 'a leaf not yet valid', stmt: () => statement('notYetValid'), check: 'chain', detail: /is not valid before 2026-12-01T00:00:00.000Z/ },
    { name: 'a revoked intermediate', stmt: () => statement('p256'), revoked: () => [`00${intermediate.cert.serialNumber.toUpperCase()}`], check: 'revoked', detail: /"CN=Test Droid CA" \(serial [0-9a-f]+\) is on Google's attestation revocation list/ },
    { name: 'x5c missing', stmt: () => statement('p256', -7, keys.p256, { x5c: undefined }), check: 'x5c', detail: /^attStmt has no "x5c"$/ },
    { name: 'x5c not an array', stmt: () => statement('p256', -7, keys.p256, { x5c: leaves.p256!.der }), check: 'x5c', detail: /is not an array/ },
    { name: 'x5c empty', stmt: () => statement('p256', -7, keys.p256, { x5c: [] }), check: 'x5c', detail: /^attStmt "x5c" is empty$/ },
    { name: 'an x5c element not bytes', stmt: () => statement('p256', -7, keys.p256, { x5c: [leaves.p256!.der, 'intermediate'] }), check: 'x5c', detail: /^x5c\[1\] is not a byte string$/ },
    { name: 'an x5c element that is not a certificate', stmt: () => statement('p256', -7, keys.p256, { x5c: [Buffer.from('garbage'), intermediate.der] }), check: 'x5c', detail: /^x5c\[0\] is not a DER X\.509 certificate/ },
    { name: 'a truncated leaf', stmt: () => statement('p256', -7, keys.p256, { x5c: [leaves.p256!.der.subarray(0, 100), intermediate.der] }), check: 'x5c', detail: /^x5c\[0\] is not a DER X\.509 certificate/ },
  ];
  for (const c of refusedCases) {
    test(`refused: ${c.name}`, () => {
      const verify = c.revoked ? androidKeyVerifier({ revokedSerials: new Set(c.revoked()) }) : verifyAndroidKey;
      refused(() => verify(input(c.stmt(), c.over?.())), c.check, c.detail);
    });
  }
});
