// The `tpm` verifier. No real ACME `tpm` statement exists publicly, so two kinds of evidence:
// (a) real Windows Hello WebAuthn statements (test/fixtures/tpm, provenance in its README): real
//     TPMT_PUBLIC / TPMS_ATTEST bytes, a bare RS1 signature and AIK chains to Microsoft's TPM
//     root, which must pass every check and then fail the ACME freshness check (their extraData
//     is the WebAuthn value);
// (b) ACME statements built here the way a TPM and step's client build them: an AK CA and AK
//     certificate with the TCG profile, TPMT_PUBLIC and TPMS_ATTEST marshalled by hand, certInfo
//     signed with the AK key. These give the accepted case and every refusal of notes §6 rows 21–26.
import assert from 'node:assert/strict';
import { constants, createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { before, describe, test } from 'node:test';
import { Decoder } from 'cbor-x';
import { AsnConvert } from '@peculiar/asn1-schema';
import { AttributeTypeAndValue, AttributeValue, GeneralName, GeneralNames, Name, OtherName, RelativeDistinguishedName } from '@peculiar/asn1-x509';
import { decodeAttObj } from '../src/attestation/attobj.js';
import { readAkCertificate, verifyTpm } from '../src/attestation/tpm.js';
import { parseCertInfo, parsePubArea, parseSignature, publicAreaSpki, tpmName } from '../src/attestation/tpm-structures.js';
import { AttestationError, type AttestationFacts, type AttestationInput } from '../src/attestation/verifier.js';
import { parseCert } from '../src/pki/chain.js';
import { fromPem } from '../src/pki/pem.js';
import { x509 } from '../src/pki/x509.js';
import { makeCert, type TestCert } from './helpers/pki.js';

const fixture = (f: string) => readFileSync(new URL(`./fixtures/tpm/${f}`, import.meta.url));
const expected = JSON.parse(fixture('expected.json').toString('utf8'));
const microsoftRoot = fromPem(fixture('microsoft-tpm-root-ca-2014.pem').toString('utf8'));

const TOKEN = 'tok_4n9R2xkq7W0bLmZp3YvQe8sJ';
const KEY_AUTH = `${TOKEN}.thumbprint_Vb1c2d3e4f5g6h7i8j9k0lmnopqrstu`;
const OTHER_ACCOUNT_KEY_AUTH = `${TOKEN}.thumbprint_of_another_account_0123456789a`;
const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest();

const refused = (fn: () => unknown, check: string, detail: RegExp) =>
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof AttestationError, `an AttestationError, not ${String(err)}`);
    assert.equal(err.check, check, `check (detail: ${err.detail})`);
    assert.match(err.detail, detail);
    return true;
  });

// ---------------------------------------------------------------------------------------------
// (a) Real Windows Hello statements.

describe('tpm: real Windows Hello statements (WebAuthn)', () => {
  const vectors = [
    { name: 'webauthn-tpm-rsa-intel-surface-pro-4', at: '2022-06-01T00:00:00Z', after: '2025-06-01T00:00:00Z', type: 'rsa', tpm: { manufacturer: 'id:494E5443', model: 'ICL', version: 'id:00020000' } },
    { name: 'webauthn-tpm-ecc-nuvoton', at: '2026-06-01T00:00:00Z', after: '2027-07-01T00:00:00Z', type: 'ecc', tpm: { manufacturer: 'id:4E544300', model: 'NPCT75x', version: 'id:00070002' } },
  ] as const;
  const raw = new Decoder({ mapsAsObjects: false, useRecords: false } as ConstructorParameters<typeof Decoder>[0]);

  for (const v of vectors) {
    const text = fixture(`${v.name}.attObj.b64url`).toString('utf8').trim();
    const want = expected.vectors[v.name];
    const attStmt = decodeAttObj(text).attStmt;
    const bytes = (k: string) => Buffer.from(attStmt.get(k) as Uint8Array);
    const x5c = attStmt.get('x5c') as Uint8Array[];
    const input = (over: Partial<AttestationInput> = {}): AttestationInput => ({ attStmt, token: TOKEN, keyAuthorization: KEY_AUTH, anchors: microsoftRoot, at: new Date(v.at), ...over });

    test(`${v.name}: certInfo (TPMS_ATTEST) decodes to the recorded values`, () => {
      assert.equal(sha256(Buffer.from(text, 'base64url')).toString('hex'), want.attObj_sha256);
      const c = parseCertInfo(bytes('certInfo'));
      assert.equal(`0x${c.magic.toString(16)}`, want.certInfo.magic);
      assert.equal(`0x${c.type.toString(16)}`, want.certInfo.type);
      assert.equal(c.qualifiedSigner.toString('hex'), want.certInfo.qualifiedSigner_hex);
      assert.equal(c.extraData.toString('hex'), want.certInfo.extraData_hex);
      assert.equal(c.attested.name.toString('hex'), want.certInfo.attested_name_hex);
      assert.equal(c.attested.qualifiedName.toString('hex'), want.certInfo.attested_qualifiedName_hex);
      assert.equal(`0x${c.firmwareVersion.toString(16)}`, want.certInfo.firmwareVersion);
    });

    test(`${v.name}: pubArea (TPMT_PUBLIC) decodes, its name is the one certInfo certifies, its SPKI is the recorded key`, () => {
      const p = parsePubArea(bytes('pubArea'));
      assert.equal(p.type, v.type);
      assert.equal(p.nameAlg, 0x000b);
      assert.equal(`0x${p.objectAttributes.toString(16).padStart(8, '0')}`, want.pubArea.objectAttributes);
      assert.equal(p.authPolicy.toString('hex'), want.pubArea.authPolicy_hex);
      if (p.type === 'rsa') assert.deepEqual([p.keyBits, p.exponent, p.modulus.length], [2048, 0, 256]);
      else assert.equal(p.curveId, 0x0003);
      assert.equal(tpmName(bytes('pubArea'), p.nameAlg).toString('hex'), want.certInfo.attested_name_hex);
      assert.equal(publicAreaSpki(p).toString('base64'), want.attested_key.spki_der_b64);
    });

    test(`${v.name}: extraData is the WebAuthn value SHA-1(authData || SHA-256(clientDataJSON)), not an ACME one`, () => {
      const authData = (raw.decode(Buffer.from(text, 'base64url')) as Map<string, unknown>).get('authData') as Uint8Array;
      const clientDataHash = sha256(fixture(`${v.name}.clientDataJSON.json`));
      const webauthn = createHash('sha1').update(authData).update(clientDataHash).digest();
      assert.deepEqual(parseCertInfo(bytes('certInfo')).extraData, webauthn);
    });

    test(`${v.name}: the AIK certificate meets the WebAuthn §8.3.1 profile and names no device identifier`, () => {
      assert.deepEqual(readAkCertificate(parseCert(x5c[0]!)), { ...v.tpm, permanentIdentifiers: [], hardwareModules: [] });
    });

    test(`${v.name}: chain, AIK profile, bare RS1 signature and name all pass; ACME freshness (extraData) refuses it`, () => {
      refused(() => verifyTpm(input()), 'extraData', /not SHA-256 of this challenge's key authorization/);
      // The same signature as a TPMT_SIGNATURE {TPM_ALG_RSASSA, TPM_ALG_SHA1, TPM2B} gets as far.
      const structured = Buffer.concat([Buffer.from([0x00, 0x14, 0x00, 0x04, 0x01, 0x00]), bytes('sig')]);
      refused(() => verifyTpm(input({ attStmt: new Map([...attStmt, ['sig', structured]]) })), 'extraData', /key authorization/);
    });

    const refusals: [string, () => AttestationInput, string, RegExp][] = [
      ['one certInfo byte changed (firmwareVersion)', () => {
        const c = bytes('certInfo');
        c[c.length - 80]! ^= 0x01;
        return input({ attStmt: new Map([...attStmt, ['certInfo', c]]) });
      }, 'sig', /does not verify over certInfo/],
      ['alg -257 (SHA-256) for a SHA-1 signature', () => input({ attStmt: new Map([...attStmt, ['alg', -257]]) }), 'sig', /does not verify/],
      ['verified after the AIK expired', () => input({ at: new Date(v.after) }), 'chain', /expired/],
      ['AIK intermediate left out of x5c', () => input({ attStmt: new Map([...attStmt, ['x5c', [x5c[0]]]]) }), 'chain', /no path|neither supplied nor trusted/],
      ['no TPM anchors configured', () => input({ anchors: [] }), 'chain', /no trust anchors/],
    ];
    for (const [name, build, check, detail] of refusals) test(`${v.name}: refused, ${name}`, () => refused(() => verifyTpm(build()), check, detail));
  }
});

// ---------------------------------------------------------------------------------------------
// (b) ACME statements built by the test: TPM 2.0 Part 2 marshalling, big-endian.

const u8 = (n: number) => Buffer.from([n]);
const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};
const u64 = (n: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(n);
  return b;
};
const tpm2b = (b: Uint8Array) => Buffer.concat([u16(b.length), b]);
const stripZeros = (b: Buffer) => b.subarray(Math.max(0, b.findIndex((x) => x !== 0)));

const ALG = { SHA1: 0x0004, SHA256: 0x000b, SHA384: 0x000c, SHA512: 0x000d, NULL: 0x0010, RSASSA: 0x0014, RSAPSS: 0x0016, ECDSA: 0x0018, RSA: 0x0001, ECC: 0x0023 };
const HASH_NAME: Record<number, string> = { [ALG.SHA1]: 'sha1', [ALG.SHA256]: 'sha256', [ALG.SHA384]: 'sha384', [ALG.SHA512]: 'sha512' };
// fixedTPM | fixedParent | sensitiveDataOrigin | userWithAuth | sign (TPMA_OBJECT, Part 2 §8.3)
const ATTRS = 0x2 | 0x10 | 0x20 | 0x40 | 0x40000;
const RESTRICTED = 0x10000;

interface PubAreaSpec {
  nameAlg?: number;
  attributes?: number;
  curveId?: number;
  type?: number;
}

/** TPMT_PUBLIC of `key`: RSA with an RSASSA/SHA-256 scheme, or ECC with an ECDSA/SHA-256 scheme. */
function pubAreaOf(key: KeyObject, s: PubAreaSpec = {}): Buffer {
  const jwk = key.export({ format: 'jwk' });
  const head = (type: number) => Buffer.concat([u16(s.type ?? type), u16(s.nameAlg ?? ALG.SHA256), u32(s.attributes ?? ATTRS), tpm2b(Buffer.alloc(0))]);
  if (jwk.kty === 'RSA') {
    const n = Buffer.from(jwk.n!, 'base64url');
    const e = Buffer.from(jwk.e!, 'base64url').readUIntBE(0, Buffer.from(jwk.e!, 'base64url').length);
    return Buffer.concat([head(ALG.RSA), u16(ALG.NULL), u16(ALG.RSASSA), u16(ALG.SHA256), u16(n.length * 8), u32(e === 65537 ? 0 : e), tpm2b(n)]);
  }
  const curve = s.curveId ?? { 'P-256': 0x0003, 'P-384': 0x0004, 'P-521': 0x0005 }[jwk.crv!]!;
  return Buffer.concat([head(ALG.ECC), u16(ALG.NULL), u16(ALG.ECDSA), u16(ALG.SHA256), u16(curve), u16(ALG.NULL), tpm2b(Buffer.from(jwk.x!, 'base64url')), tpm2b(Buffer.from(jwk.y!, 'base64url'))]);
}

const nameOf = (pubArea: Buffer, nameAlg = ALG.SHA256) => Buffer.concat([u16(nameAlg), createHash(HASH_NAME[nameAlg]!).update(pubArea).digest()]);

interface CertInfoSpec {
  magic?: number;
  type?: number;
  extraData?: Buffer;
  name: Buffer;
}

/** TPMS_ATTEST of TPM2_Certify: magic, type, qualifiedSigner, extraData, clockInfo, firmwareVersion, TPMS_CERTIFY_INFO. */
const certInfoOf = (c: CertInfoSpec) =>
  Buffer.concat([
    u32(c.magic ?? 0xff544347),
    u16(c.type ?? 0x8017),
    tpm2b(Buffer.concat([u16(ALG.SHA256), sha256('qualified signer')])),
    tpm2b(c.extraData ?? sha256(KEY_AUTH)),
    u64(123_456_789n),
    u32(7),
    u32(3),
    u8(1),
    u64(0x0001000200030004n),
    tpm2b(c.name),
    tpm2b(Buffer.concat([u16(ALG.SHA256), sha256('qualified name')])),
  ]);

/** The AK's signature over certInfo, as a TPMT_SIGNATURE or bare. */
function signCertInfo(certInfo: Buffer, ak: KeyObject, alg: number, form: 'tpmt' | 'bare'): Buffer {
  if (alg === -7) {
    if (form === 'bare') return sign('sha256', certInfo, { key: ak, dsaEncoding: 'der' });
    const rs = sign('sha256', certInfo, { key: ak, dsaEncoding: 'ieee-p1363' });
    const half = rs.length / 2;
    // TPM2B_ECC_PARAMETER without leading zeros, so the verifier's re-padding is exercised.
    return Buffer.concat([u16(ALG.ECDSA), u16(ALG.SHA256), tpm2b(stripZeros(rs.subarray(0, half))), tpm2b(stripZeros(rs.subarray(half)))]);
  }
  const sha1 = alg === -65535;
  const pss = alg === -37;
  const raw = sign(sha1 ? 'sha1' : 'sha256', certInfo, pss ? { key: ak, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } : { key: ak, padding: constants.RSA_PKCS1_PADDING });
  return form === 'bare' ? raw : Buffer.concat([u16(pss ? ALG.RSAPSS : ALG.RSASSA), u16(sha1 ? ALG.SHA1 : ALG.SHA256), tpm2b(raw)]);
}

// Just enough DER (X.690) for the otherName values of RFC 4043 and RFC 4108.
const der = (tag: number, content: Buffer) => {
  const n = content.length;
  const len = n < 0x80 ? u8(n) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([u8(tag), len, content]);
};
const oidDer = (dotted: string) => {
  const arcs = dotted.split('.').map(BigInt);
  const body = [arcs[0]! * 40n + arcs[1]!, ...arcs.slice(2)].flatMap((a) => {
    const out = [Number(a & 0x7fn)];
    for (a >>= 7n; a > 0n; a >>= 7n) out.unshift(Number(a & 0x7fn) | 0x80);
    return out;
  });
  return der(0x06, Buffer.from(body));
};
const permanentIdentifier = (value?: string, assigner?: string) =>
  der(0x30, Buffer.concat([value === undefined ? Buffer.alloc(0) : der(0x0c, Buffer.from(value, 'utf8')), assigner ? oidDer(assigner) : Buffer.alloc(0)]));
const hardwareModuleName = (type: string, serial: Buffer) => der(0x30, Buffer.concat([oidDer(type), der(0x04, serial)]));

const OID_SAN = '2.5.29.17';
const TCG = { manufacturer: '2.23.133.2.1', model: '2.23.133.2.2', version: '2.23.133.2.3' };
const PI_OID = '1.3.6.1.5.5.7.8.3';
const HMN_OID = '1.3.6.1.5.5.7.8.4';
const UUID_ARC_ASSIGNER = '2.25.329800735698586629295641978511506172918'; // an OID arc beyond 2^53
const HW_TYPE = '1.3.6.1.4.1.99999.2';

interface SanSpec {
  tpm?: Partial<Record<keyof typeof TCG, string>>;
  otherNames?: [string, Buffer][];
}
const DEFAULT_SAN: Required<SanSpec> = {
  tpm: { manufacturer: 'id:FFFFF1D0', model: 'attestca-swtpm', version: 'id:20191023' },
  otherNames: [
    [PI_OID, permanentIdentifier('TPM-EK-7d3c19a0')],
    [PI_OID, permanentIdentifier('SN-0042', UUID_ARC_ASSIGNER)],
    [HMN_OID, hardwareModuleName(HW_TYPE, Buffer.from('HWSN-0042'))],
  ],
};
const sanDer = (s: SanSpec) => {
  const rdns = Object.entries(s.tpm ?? {}).map(([k, v]) => new RelativeDistinguishedName([new AttributeTypeAndValue({ type: TCG[k as keyof typeof TCG], value: new AttributeValue({ utf8String: v }) })]));
  const names = [...(rdns.length ? [new GeneralName({ directoryName: new Name(rdns) })] : [])];
  for (const [typeId, value] of s.otherNames ?? []) names.push(new GeneralName({ otherName: new OtherName({ typeId, value: new Uint8Array(value).buffer }) }));
  return new Uint8Array(AsnConvert.serialize(new GeneralNames(names)));
};

interface AkSpec {
  subject?: string;
  ca?: boolean;
  eku?: string[] | null;
  san?: SanSpec | null;
  sanCritical?: boolean;
  notBefore?: Date;
  notAfter?: Date;
  issuer?: 'trusted' | 'untrusted';
  key?: 'rsa' | 'ec';
}

const AT = new Date('2026-06-01T00:00:00Z');
const VALID = { notBefore: new Date('2026-01-01T00:00:00Z'), notAfter: new Date('2027-01-01T00:00:00Z') };

describe('tpm: ACME statements (synthetic, step-ca construction)', () => {
  let akCa: TestCert;
  let otherCa: TestCert;
  const keys = {
    akRsa: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey,
    akEc: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey,
    rsa2048: generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey,
    rsa1024: generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey,
    p256: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey,
    p384: generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey,
  };
  const aks = new Map<string, TestCert>();
  const akSpecs: Record<string, AkSpec> = {
    good: {},
    goodEc: { key: 'ec' },
    noIdentifiers: { san: { tpm: DEFAULT_SAN.tpm } },
    subject: { subject: 'CN=not empty' },
    ca: { ca: true },
    noEku: { eku: null },
    ekuWithoutAik: { eku: ['1.3.6.1.5.5.7.3.2'] },
    noSan: { san: null },
    sanNotCritical: { sanCritical: false },
    noManufacturer: { san: { ...DEFAULT_SAN, tpm: { model: 'm', version: 'v' } } },
    noModel: { san: { ...DEFAULT_SAN, tpm: { manufacturer: 'id:FFFFF1D0', version: 'v' } } },
    noVersion: { san: { ...DEFAULT_SAN, tpm: { manufacturer: 'id:FFFFF1D0', model: 'm' } } },
    untrusted: { issuer: 'untrusted' },
    expired: { notBefore: new Date('2025-01-01T00:00:00Z'), notAfter: new Date('2026-03-01T00:00:00Z') },
    notYetValid: { notBefore: new Date('2026-09-01T00:00:00Z'), notAfter: new Date('2027-09-01T00:00:00Z') },
    piWithoutValue: { san: { ...DEFAULT_SAN, otherNames: [[PI_OID, permanentIdentifier(undefined, '1.2.3.4')]] } },
    piWithSlash: { san: { ...DEFAULT_SAN, otherNames: [[PI_OID, permanentIdentifier('SN/1.2.3')]] } },
    hmnNotUtf8: { san: { ...DEFAULT_SAN, otherNames: [[HMN_OID, hardwareModuleName(HW_TYPE, Buffer.from([0xff, 0xfe, 0x41]))]] } },
  };

  before(async () => {
    akCa = await makeCert({ subject: 'CN=attestca test AK CA, O=attestca', ca: true, ...VALID });
    otherCa = await makeCert({ subject: 'CN=attestca test AK CA, O=attestca', ca: true, ...VALID }); // same name, other key
    for (const [name, s] of Object.entries(akSpecs)) {
      const san = s.san === null ? [] : ([[OID_SAN, s.sanCritical ?? true, sanDer(s.san ?? DEFAULT_SAN)]] as [string, boolean, Uint8Array][]);
      aks.set(
        name,
        await makeCert({
          subject: s.subject ?? '',
          issuer: s.issuer === 'untrusted' ? otherCa : akCa,
          key: s.key === 'ec' ? keys.akEc : keys.akRsa,
          ca: s.ca ?? false,
          notBefore: s.notBefore ?? VALID.notBefore,
          notAfter: s.notAfter ?? VALID.notAfter,
          extensions: san,
          x509Extensions: s.eku === null ? [] : [new x509.ExtendedKeyUsageExtension(s.eku ?? ['2.23.133.8.3'])],
        }),
      );
    }
  });

  interface StatementSpec {
    ak?: string;
    alg?: number;
    form?: 'tpmt' | 'bare';
    attested?: KeyObject;
    pubArea?: PubAreaSpec;
    certInfo?: Partial<CertInfoSpec>;
    /** Name certInfo certifies, if not that of the pubArea sent. */
    certifies?: Buffer;
    /** Sign with this key instead of the AK certificate's. */
    signer?: KeyObject;
    sig?: (sig: Buffer) => Buffer;
    /** Change the certInfo bytes before they are signed. */
    mangle?: (certInfo: Buffer) => Buffer;
    edit?: (m: Map<string, unknown>) => void;
  }

  function statement(s: StatementSpec = {}): Map<string, unknown> {
    const akName = s.ak ?? (s.alg === -7 ? 'goodEc' : 'good');
    const ak = aks.get(akName)!;
    const alg = s.alg ?? -257;
    const pubArea = pubAreaOf(s.attested ?? keys.rsa2048, s.pubArea);
    const built = certInfoOf({ name: s.certifies ?? nameOf(pubArea, s.pubArea?.nameAlg), ...s.certInfo });
    const certInfo = s.mangle ? s.mangle(built) : built;
    let sig = signCertInfo(certInfo, s.signer ?? ak.key, alg, s.form ?? 'tpmt');
    if (s.sig) sig = s.sig(sig);
    const m = new Map<string, unknown>([
      ['ver', '2.0'],
      ['alg', alg],
      ['x5c', [ak.der]],
      ['sig', sig],
      ['certInfo', certInfo],
      ['pubArea', pubArea],
    ]);
    s.edit?.(m);
    return m;
  }
  const input = (attStmt: Map<string, unknown>, over: Partial<AttestationInput> = {}): AttestationInput => ({ attStmt, token: TOKEN, keyAuthorization: KEY_AUTH, anchors: [akCa.der], at: AT, ...over });
  const spki = (k: KeyObject) => k.export({ type: 'spki', format: 'der' });

  const accepted: [string, () => StatementSpec, KeyObject][] = [
    ['RS256, TPMT_SIGNATURE, RSA-2048 key', () => ({}), keys.rsa2048],
    ['RS256, bare signature', () => ({ form: 'bare' }), keys.rsa2048],
    ['PS256, TPMT_SIGNATURE', () => ({ alg: -37 }), keys.rsa2048],
    ['RS1 (SHA-1), bare signature as Windows sends it', () => ({ alg: -65535, form: 'bare' }), keys.rsa2048],
    ['ES256 AK, TPMT_SIGNATURE (r, s as TPM2B), ECC P-256 key', () => ({ alg: -7, attested: keys.p256 }), keys.p256],
    ['ES256 AK, bare DER signature, ECC P-384 key', () => ({ alg: -7, form: 'bare', attested: keys.p384 }), keys.p384],
    ['nameAlg SHA-1', () => ({ pubArea: { nameAlg: ALG.SHA1 } }), keys.rsa2048],
    ['nameAlg SHA-384', () => ({ pubArea: { nameAlg: ALG.SHA384 } }), keys.rsa2048],
    ['nameAlg SHA-512', () => ({ pubArea: { nameAlg: ALG.SHA512 } }), keys.rsa2048],
    ['unknown extra attStmt member (ignored, notes §6 row 34)', () => ({ edit: (m) => m.set('authData', Buffer.alloc(37)) }), keys.rsa2048],
  ];
  for (const [name, spec, attested] of accepted) {
    test(`accepted: ${name}`, () => {
      const s = spec();
      const facts: AttestationFacts = verifyTpm(input(statement(s)));
      assert.equal(facts.format, 'tpm');
      assert.deepEqual(facts.attestedSpki, spki(attested));
      assert.deepEqual(facts.permanentIdentifiers, ['TPM-EK-7d3c19a0', `SN-0042/${UUID_ARC_ASSIGNER}`]);
      assert.deepEqual(facts.hardwareModules, [{ type: HW_TYPE, serial: 'HWSN-0042' }]);
      assert.deepEqual(facts.claims, { manufacturer: 'id:FFFFF1D0', model: 'attestca-swtpm', version: 'id:20191023', firmwareVersion: '0x0001000200030004', alg: s.alg ?? -257 });
      assert.deepEqual(facts.chain, [aks.get(s.alg === -7 ? 'goodEc' : 'good')!.der, akCa.der]);
    });
  }

  test('an AK certificate without identifier SANs yields empty lists (va then refuses any identifier: notes §6 row 26)', () => {
    const facts = verifyTpm(input(statement({ ak: 'noIdentifiers' })));
    assert.deepEqual(facts.permanentIdentifiers, []);
    assert.deepEqual(facts.hardwareModules, []);
  });

  const refusals: [string, () => AttestationInput, string, RegExp][] = [
    // notes §6 row 22: the statement
    ['ver "1.2"', () => input(statement({ edit: (m) => m.set('ver', '1.2') })), 'ver', /"1.2", only TPM "2.0"/],
    ['ver missing', () => input(statement({ edit: (m) => m.delete('ver') })), 'ver', /no "ver"/],
    ['ver a number', () => input(statement({ edit: (m) => m.set('ver', 2) })), 'ver', /not a string/],
    ['alg missing', () => input(statement({ edit: (m) => m.delete('alg') })), 'alg', /no "alg"/],
    ['alg -8 (EdDSA)', () => input(statement({ edit: (m) => m.set('alg', -8) })), 'alg', /-8 is not/],
    ['alg -258 (RS384)', () => input(statement({ edit: (m) => m.set('alg', -258) })), 'alg', /-258 is not/],
    ['alg ES256 with an RSA AK', () => input(statement({ edit: (m) => m.set('alg', -7) })), 'alg', /needs an EC AK/],
    ['sig missing', () => input(statement({ edit: (m) => m.delete('sig') })), 'sig', /no "sig"/],
    ['sig not bytes', () => input(statement({ edit: (m) => m.set('sig', 'c2ln') })), 'sig', /not a byte string/],
    ['certInfo missing', () => input(statement({ edit: (m) => m.delete('certInfo') })), 'certInfo', /no "certInfo"/],
    ['pubArea missing', () => input(statement({ edit: (m) => m.delete('pubArea') })), 'pubArea', /no "pubArea"/],
    ['x5c missing', () => input(statement({ edit: (m) => m.delete('x5c') })), 'x5c', /no "x5c"/],
    ['x5c empty', () => input(statement({ edit: (m) => m.set('x5c', []) })), 'x5c', /empty/],
    ['x5c[0] not a certificate', () => input(statement({ edit: (m) => m.set('x5c', [Buffer.from('3003020101', 'hex')]) })), 'x5c', /not a certificate/],
    ['magic is not TPM_GENERATED_VALUE', () => input(statement({ certInfo: { magic: 0xff544348 } })), 'certInfo', /magic is 0xff544348/],
    ['type TPM_ST_ATTEST_QUOTE instead of CERTIFY', () => input(statement({ certInfo: { type: 0x8018 } })), 'certInfo', /type is 0x8018/],
    ['certInfo truncated inside attested.qualifiedName (signed as sent)', () => input(statement({ mangle: (c) => c.subarray(0, c.length - 10) })), 'certInfo', /truncated: attested\.qualifiedName needs 34 bytes/],
    ['certInfo with a trailing byte (signed as sent)', () => input(statement({ mangle: (c) => Buffer.concat([c, u8(0)]) })), 'certInfo', /1 bytes after its end/],
    ['certInfo with clockInfo.safe = 2', () => input(statement({ mangle: (c) => Buffer.concat([c.subarray(0, 92), u8(2), c.subarray(93)]) })), 'certInfo', /safe is 2/],
    ['certInfo names another key', () => input(statement({ certifies: nameOf(pubAreaOf(keys.p256)) })), 'name', /certifies the object named 000b/],
    ['certInfo name with another nameAlg', () => input(statement({ certifies: nameOf(pubAreaOf(keys.rsa2048), ALG.SHA384) })), 'name', /\(SHA-256\)/],
    ['sig with one bit flipped', () => input(statement({ sig: (s) => Buffer.concat([s.subarray(0, 20), u8(s[20]! ^ 1), s.subarray(21)]) })), 'sig', /does not verify over certInfo/],
    ['sig by a key other than the AK certificate\'s', () => input(statement({ signer: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey })), 'sig', /does not verify/],
    ['bare RS1 signature sent with alg RS256', () => input(statement({ alg: -65535, form: 'bare', edit: (m) => m.set('alg', -257) })), 'sig', /does not verify/],
    ['TPMT_SIGNATURE hash SHA-1 with alg RS256', () => input(statement({ alg: -65535, edit: (m) => m.set('alg', -257) })), 'sig', /hash 0x4, alg RS256/],
    ['TPMT_SIGNATURE truncated', () => input(statement({ sig: (s) => s.subarray(0, 100) })), 'sig', /truncated/],
    ['TPMT_SIGNATURE with an unknown sigAlg', () => input(statement({ sig: (s) => Buffer.concat([u16(0x0099), s.subarray(2)]) })), 'sig', /sigAlg 0x0099/],
    ['ECDSA TPMT_SIGNATURE with an oversized r', () => input(statement({ alg: -7, attested: keys.p256, sig: () => Buffer.concat([u16(ALG.ECDSA), u16(ALG.SHA256), tpm2b(Buffer.alloc(33, 1)), tpm2b(Buffer.alloc(32, 1))]) })), 'sig', /longer than the AK curve/],
    ['extraData for another account key', () => input(statement({ certInfo: { extraData: sha256(OTHER_ACCOUNT_KEY_AUTH) } })), 'extraData', /key authorization/],
    ['extraData = SHA-256(token) (the Apple construction)', () => input(statement({ certInfo: { extraData: sha256(TOKEN) } })), 'extraData', /key authorization/],
    ['extraData = SHA-1(keyAuthorization)', () => input(statement({ certInfo: { extraData: createHash('sha1').update(KEY_AUTH).digest() } })), 'extraData', /key authorization/],
    ['extraData empty', () => input(statement({ certInfo: { extraData: Buffer.alloc(0) } })), 'extraData', /key authorization/],
    ['statement for another challenge', () => input(statement(), { keyAuthorization: `other-token.${KEY_AUTH.split('.')[1]}` }), 'extraData', /key authorization/],
    ['key restricted', () => input(statement({ pubArea: { attributes: ATTRS | RESTRICTED } })), 'attributes', /0x00050072 must set/],
    ['key without fixedTPM', () => input(statement({ pubArea: { attributes: ATTRS & ~0x2 } })), 'attributes', /fixedTPM/],
    ['key without fixedParent', () => input(statement({ pubArea: { attributes: ATTRS & ~0x10 } })), 'attributes', /fixedParent/],
    ['key without sensitiveDataOrigin (imported)', () => input(statement({ pubArea: { attributes: ATTRS & ~0x20 } })), 'attributes', /sensitiveDataOrigin/],
    ['RSA-1024 key', () => input(statement({ attested: keys.rsa1024 })), 'key', /1024 bits, at least 2048/],
    ['ECC key on TPM_ECC_BN_P256', () => input(statement({ attested: keys.p256, pubArea: { curveId: 0x0010 } })), 'key', /curve 0x0010/],
    ['pubArea of type KEYEDHASH', () => input(statement({ pubArea: { type: 0x0008 } })), 'pubArea', /type 0x0008/],
    ['pubArea nameAlg SM3_256', () => input(statement({ pubArea: { nameAlg: 0x0012 }, certifies: Buffer.alloc(34) })), 'pubArea', /nameAlg 0x0012/],
    // notes §6 row 23: the AK certificate
    ['AK subject not empty', () => input(statement({ ak: 'subject' })), 'akCert', /subject must be empty, it is "CN=not empty"/],
    ['AK is a CA', () => input(statement({ ak: 'ca' })), 'akCert', /is a CA certificate/],
    ['AK without extendedKeyUsage', () => input(statement({ ak: 'noEku' })), 'akCert', /no extendedKeyUsage/],
    ['AK EKU without tcg-kp-AIKCertificate', () => input(statement({ ak: 'ekuWithoutAik' })), 'akCert', /lacks 2\.23\.133\.8\.3/],
    ['AK without subjectAltName', () => input(statement({ ak: 'noSan' })), 'akCert', /no subjectAltName/],
    ['AK subjectAltName not critical', () => input(statement({ ak: 'sanNotCritical' })), 'akCert', /must be critical/],
    ['AK SAN without tpmManufacturer', () => input(statement({ ak: 'noManufacturer' })), 'akCert', /no TPM manufacturer \(2\.23\.133\.2\.1\)/],
    ['AK SAN without tpmModel', () => input(statement({ ak: 'noModel' })), 'akCert', /no TPM model \(2\.23\.133\.2\.2\)/],
    ['AK SAN without tpmVersion', () => input(statement({ ak: 'noVersion' })), 'akCert', /no TPM version \(2\.23\.133\.2\.3\)/],
    ['AK from a CA with the same name but another key', () => input(statement({ ak: 'untrusted' })), 'chain', /does not verify with the key/],
    ['AK chain to a root not configured for tpm', () => input(statement(), { anchors: microsoftRoot }), 'chain', /neither supplied nor trusted/],
    ['AK expired', () => input(statement({ ak: 'expired' })), 'chain', /expired at 2026-03-01/],
    ['AK not yet valid', () => input(statement({ ak: 'notYetValid' })), 'chain', /not valid before 2026-09-01/],
    ['no anchors configured for tpm', () => input(statement(), { anchors: [] }), 'chain', /no trust anchors/],
    // identifiers the AK certificate names but that cannot be an order's value
    ['PermanentIdentifier without identifierValue', () => input(statement({ ak: 'piWithoutValue' })), 'identifiers', /no identifierValue/],
    ['PermanentIdentifier value containing "/"', () => input(statement({ ak: 'piWithSlash' })), 'identifiers', /contains "\/"/],
    ['HardwareModuleName serial not UTF-8', () => input(statement({ ak: 'hmnNotUtf8' })), 'identifiers', /1\.3\.6\.1\.5\.5\.7\.8\.4 is malformed/],
  ];
  for (const [name, build, check, detail] of refusals) test(`refused: ${name}`, () => refused(() => verifyTpm(build()), check, detail));

  test('every truncation and every single-byte change of pubArea, certInfo and sig ends in an AttestationError or a parse', () => {
    const pubAreas = [pubAreaOf(keys.rsa2048), pubAreaOf(keys.p384)];
    const certInfo = certInfoOf({ name: nameOf(pubAreas[0]!) });
    const sigs = [signCertInfo(certInfo, keys.akRsa, -257, 'tpmt'), signCertInfo(certInfo, keys.akEc, -7, 'tpmt')];
    const cases: [string, Buffer, (b: Buffer) => unknown][] = [
      ...pubAreas.map((b): [string, Buffer, (b: Buffer) => unknown] => ['pubArea', b, (x) => publicAreaSpki(parsePubArea(x))]),
      ['certInfo', certInfo, parseCertInfo],
      ...sigs.map((b): [string, Buffer, (b: Buffer) => unknown] => ['sig', b, parseSignature]),
    ];
    let refusedCount = 0;
    for (const [what, bytes, parse] of cases) {
      const variants = [...Array(bytes.length).keys()].flatMap((i) => [bytes.subarray(0, i), Buffer.concat([bytes.subarray(0, i), u8(bytes[i]! ^ 0xff), bytes.subarray(i + 1)])]);
      for (const v of variants) {
        try {
          parse(v);
        } catch (err) {
          assert.ok(err instanceof AttestationError, `${what} ${v.toString('hex')}: ${String(err)}`);
          assert.ok(['pubArea', 'certInfo', 'sig', 'key'].includes(err.check), err.check);
          refusedCount++;
        }
      }
      assert.ok(bytes.length > 0 && parse(bytes) !== undefined, `${what} itself parses`);
    }
    assert.ok(refusedCount > 1000, `only ${refusedCount} variants refused`);
  });
});
