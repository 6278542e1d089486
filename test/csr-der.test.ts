// pki/csr.ts reads a PKCS #10 request by walking its DER (pki/der.ts) instead of decoding it with
// @peculiar/asn1-schema. This differential test keeps the asn1-schema reader it replaced (oldParseCsr,
// below, as it was) and checks, for a table of requests made by @peculiar/x509, by openssl and by
// hand, that both give the same fields or both refuse with a CsrError. Where the new reader is
// deliberately stricter (a commonName in BMPString or TeletexString) the test says so.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createPublicKey, generateKeyPairSync, sign, webcrypto, type KeyObject, verify } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { AsnConvert } from '@peculiar/asn1-schema';
import { CertificationRequest } from '@peculiar/asn1-csr';
import { AlgorithmIdentifier, Extensions, GeneralNames, Name, SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import { deviceCsr } from '../src/devicesim/device.js';
import { CsrError, importSpki, parseCsr, type ParsedCsr } from '../src/pki/csr.js';
import { children, readTlv, splitSigned } from '../src/pki/der.js';
import { bitString, explicit, implicitPrimitive, integer, NULL, octetString, oid, printableString, sequence, set, tlv, utf8String } from '../src/pki/der-write.js';
import { canonicalIp, ipOctets } from '../src/pki/ip.js';
import { OID } from '../src/pki/oids.js';
import { generalNames, hardwareModuleName, otherNameIdentifier, permanentIdentifierName } from '../src/pki/othernames.js';
import { x509 } from '../src/pki/x509.js';
import { makeCsr, makeKey } from './helpers/csr.js';

// ---- The reference: pki/csr.ts's parseCsr before the DER rewrite, verbatim but for names ----

const OLD_SIGNATURE_HASHES: Record<string, string | null> = {
  [OID.ecdsaWithSHA256]: 'sha256',
  [OID.ecdsaWithSHA384]: 'sha384',
  [OID.ecdsaWithSHA512]: 'sha512',
  [OID.sha256WithRSAEncryption]: 'sha256',
  [OID.sha384WithRSAEncryption]: 'sha384',
  [OID.sha512WithRSAEncryption]: 'sha512',
  [OID.ed25519]: null,
};

function oldParseCsr(der: Uint8Array): ParsedCsr & { extensionRequest: Extensions | undefined } {
  let csr: CertificationRequest;
  let parts: ReturnType<typeof splitSigned>;
  try {
    parts = splitSigned(der);
    csr = AsnConvert.parse(der, CertificationRequest);
  } catch (err) {
    throw new CsrError(`CSR is not a DER PKCS #10 request: ${(err as Error).message}`);
  }
  const info = csr.certificationRequestInfo;
  if (info.version !== 0) throw new CsrError(`CSR version ${info.version} is not v1 (0)`);
  const spki = Buffer.from(AsnConvert.serialize(info.subjectPKInfo));
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  } catch (err) {
    throw new CsrError(`CSR public key cannot be read: ${(err as Error).message}`);
  }
  const algorithm = oldParseDer(parts.algorithm, AlgorithmIdentifier, 'signature algorithm').algorithm;
  if (!(algorithm in OLD_SIGNATURE_HASHES)) throw new CsrError(`CSR signature algorithm ${algorithm} is not accepted`);
  if (!oldSignatureMatchesKey(algorithm, info.subjectPKInfo)) throw new CsrError(`CSR signature algorithm ${algorithm} does not fit its public key`);
  let ok = false;
  try {
    ok = verify(OLD_SIGNATURE_HASHES[algorithm] ?? null, parts.tbs, publicKey, parts.signature);
  } catch {
    ok = false;
  }
  if (!ok) throw new CsrError('CSR signature does not verify with the CSR public key');
  const commonName = oldReadCommonName(info.subject);
  const out: ParsedCsr & { extensionRequest: Extensions | undefined } = { publicKey, spki, commonName, dnsNames: [], ipAddresses: [], deviceIdentifiers: [], otherNames: [], extensionRequest: undefined };
  for (const attr of info.attributes) {
    if (attr.type !== OID.extensionRequest) continue;
    if (attr.values.length !== 1 || out.extensionRequest) throw new CsrError('CSR has more than one extensionRequest');
    out.extensionRequest = oldParseDer(attr.values[0]!, Extensions, 'extensionRequest');
  }
  for (const ext of out.extensionRequest ?? []) {
    if (ext.extnID !== OID.subjectAltName) continue;
    const names = oldParseDer(ext.extnValue, GeneralNames, 'subjectAltName');
    for (const n of names) {
      if (n.dNSName !== undefined) out.dnsNames.push(n.dNSName.toLowerCase());
      else if (n.iPAddress !== undefined) {
        const ip = canonicalIp(n.iPAddress);
        if (!ip) throw new CsrError(`CSR has an IP address SAN that is not an address: ${n.iPAddress}`);
        out.ipAddresses.push(ip);
      } else if (n.rfc822Name !== undefined) out.otherNames.push(`email:${n.rfc822Name}`);
      else if (n.uniformResourceIdentifier !== undefined) out.otherNames.push(`URI:${n.uniformResourceIdentifier}`);
      else if (n.otherName !== undefined) {
        let device: ReturnType<typeof otherNameIdentifier>;
        try {
          device = otherNameIdentifier(n.otherName.typeId, new Uint8Array(n.otherName.value));
        } catch (err) {
          throw new CsrError(`CSR otherName ${n.otherName.typeId} is malformed: ${(err as Error).message}`);
        }
        if (device) out.deviceIdentifiers.push(device);
        else out.otherNames.push(`otherName:${n.otherName.typeId}`);
      } else out.otherNames.push('an unsupported name form');
    }
  }
  return out;
}

function oldParseDer<T>(der: Parameters<typeof AsnConvert.parse>[0], schema: new () => T, what: string): T {
  try {
    return AsnConvert.parse(der, schema);
  } catch (err) {
    throw new CsrError(`CSR ${what} is not valid DER: ${(err as Error).message}`);
  }
}

function oldReadCommonName(subject: Name): string | undefined {
  const values: string[] = [];
  for (const rdn of subject) for (const atv of rdn) if (atv.type === OID.commonName) values.push(atv.value.toString());
  if (values.length > 1) throw new CsrError('CSR subject has more than one commonName');
  return values[0];
}

function oldSignatureMatchesKey(sigAlg: string, spki: SubjectPublicKeyInfo): boolean {
  const keyAlg = spki.algorithm.algorithm;
  if (sigAlg.startsWith('1.2.840.10045.4.')) return keyAlg === OID.ecPublicKey;
  if (sigAlg.startsWith('1.2.840.113549.1.1.')) return keyAlg === OID.rsaEncryption;
  return sigAlg === keyAlg;
}

// ---- Comparing the two ----

type Outcome = { ok: true; fields: Record<string, unknown> } | { ok: false; message: string };

function outcome(parse: (der: Uint8Array) => ParsedCsr, der: Uint8Array): Outcome {
  try {
    const r = parse(der);
    return {
      ok: true,
      fields: {
        publicKey: r.publicKey.export({ type: 'spki', format: 'der' }).toString('hex'),
        spki: r.spki.toString('hex'),
        commonName: r.commonName,
        dnsNames: r.dnsNames,
        ipAddresses: r.ipAddresses,
        deviceIdentifiers: r.deviceIdentifiers,
        otherNames: r.otherNames,
      },
    };
  } catch (err) {
    // Anything but a CsrError escaping is a failure of the reader itself.
    assert.ok(err instanceof CsrError, `${parse === parseCsr ? 'new' : 'old'} parseCsr threw ${(err as Error).name}: ${(err as Error).message}`);
    return { ok: false, message: err.message };
  }
}

function same(der: Uint8Array): Outcome {
  const now = outcome(parseCsr, der);
  const before = outcome(oldParseCsr, der);
  if (now.ok && before.ok) assert.deepEqual(now.fields, before.fields);
  else assert.equal(now.ok, before.ok, `new: ${JSON.stringify(now)}\nold: ${JSON.stringify(before)}`);
  return now;
}

// ---- Requests built by hand, for the shapes no generator makes ----

const ecKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;

interface HandCsr {
  key?: KeyObject;
  version?: number;
  subject?: Buffer;
  /** The [0] attributes; undefined leaves the field out. */
  attributes?: Buffer[] | undefined;
  sigAlg?: string;
}

function handCsr(o: HandCsr): Buffer {
  const key = o.key ?? ecKey;
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  const info = sequence([integer(o.version ?? 0), o.subject ?? name([['CN', utf8String('hand.example')]]), spki, ...('attributes' in o && o.attributes === undefined ? [] : [tlv(0xa0, o.attributes ?? [])])]);
  const kind = key.asymmetricKeyType;
  const sigAlg = o.sigAlg ?? (kind === 'ec' ? OID.ecdsaWithSHA256 : kind === 'rsa' ? OID.sha256WithRSAEncryption : OID.ed25519);
  const signature = sign(kind === 'ed25519' ? null : 'sha256', info, key);
  return sequence([info, sequence(kind === 'rsa' ? [oid(sigAlg), NULL] : [oid(sigAlg)]), bitString(signature)]);
}

/** A Name of one-attribute RDNs; each entry is [CN-or-OID, encoded value]. */
function name(rdns: [string, Buffer][][] | [string, Buffer][]): Buffer {
  const list = (Array.isArray(rdns[0]?.[0]) ? rdns : (rdns as [string, Buffer][]).map((a) => [a])) as [string, Buffer][][];
  return sequence(list.map((rdn) => set(rdn.map(([type, value]) => sequence([oid(type === 'CN' ? OID.commonName : type), value])))));
}

const extensionRequest = (...values: Buffer[]): Buffer => sequence([oid(OID.extensionRequest), set(values)]);
const extensions = (...exts: Buffer[]): Buffer => sequence(exts);
const san = (...names: Buffer[]): Buffer => sequence([oid(OID.subjectAltName), octetString(generalNames(names))]);
const dns = (n: string): Buffer => implicitPrimitive(2, Buffer.from(n, 'latin1'));
const ipName = (octets: Buffer): Buffer => implicitPrimitive(7, octets);

// ---- The table ----

const dir = mkdtempSync(path.join(os.tmpdir(), 'attestca-csr-der-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function opensslCsr(key: KeyObject, args: string[]): Buffer {
  const keyFile = path.join(dir, `k${Math.random().toString(36).slice(2)}.pem`);
  writeFileSync(keyFile, key.export({ type: 'pkcs8', format: 'pem' }));
  const out = `${keyFile}.csr`;
  execFileSync('openssl', ['req', '-new', '-key', keyFile, '-outform', 'DER', '-out', out, ...args], { stdio: 'pipe' });
  return readFileSync(out);
}

async function x509Csr(key: KeyObject, nameText: string, names: Buffer[] | undefined): Promise<Buffer> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = {
    privateKey: await webcrypto.subtle.importKey('pkcs8', key.export({ type: 'pkcs8', format: 'der' }), alg, false, ['sign']),
    publicKey: await webcrypto.subtle.importKey('spki', createPublicKey(key).export({ type: 'spki', format: 'der' }), alg, true, ['verify']),
  };
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: nameText, keys, signingAlgorithm: alg, extensions: names ? [new x509.Extension(OID.subjectAltName, false, generalNames(names))] : [] });
  return Buffer.from(csr.rawData);
}

function corruptSignature(der: Buffer): Buffer {
  const out = Buffer.from(der);
  out[out.length - 3]! ^= 0x01;
  return out;
}

describe('parseCsr reads DER as the asn1-schema reader did', () => {
  // 'stricter': the old reader accepted it (asn1-schema ignores what follows a parsed value);
  // the new one refuses, as bytes a signed request should not carry unread.
  const table: [string, () => Promise<Buffer> | Buffer, 'ok' | 'refused' | 'stricter'][] = [
    ['P-256, CN only', async () => (await makeCsr({ commonName: 'a.example' })).der, 'ok'],
    ['P-256, no subject, one SAN', async () => (await makeCsr({ dns: ['One.Example'] })).der, 'ok'],
    ['P-384, dns + IPv4 + IPv6 + email', async () => (await makeCsr({ keyType: 'ec-p384', commonName: 'b.example', dns: ['b.example', 'WWW.b.example'], ips: ['192.0.2.7', '2001:db8:0:0:0:0:0:1'], emails: ['x@b.example'] })).der, 'ok'],
    ['RSA 2048, dns', async () => (await makeCsr({ keyType: 'rsa-2048', dns: ['rsa.example'] })).der, 'ok'],
    ['Ed25519 from openssl, every supported SAN form', () => opensslCsr(generateKeyPairSync('ed25519').privateKey, ['-subj', '/CN=ed.example/O=Org', '-addext', 'subjectAltName=DNS:Ed.Example,IP:198.51.100.1,IP:::ffff:192.0.2.1,email:e@ed.example,URI:https://ed.example/x']), 'ok'],
    ['P-256 from openssl, PrintableString CN', () => opensslCsr(ecKey, ['-subj', '/CN=printable.example', '-utf8', '-addext', 'subjectAltName=DNS:printable.example']), 'ok'],
    ['RSA from openssl, SHA-384', () => opensslCsr(makeKey('rsa-2048'), ['-sha384', '-subj', '/CN=r.example']), 'ok'],
    ['device CSR (devicesim)', async () => deviceCsr(ecKey, 'C02ACME777'), 'ok'],
    ['PermanentIdentifier + HardwareModuleName otherNames', () => x509Csr(ecKey, 'CN=C02ACME001, O=Example Fleet', [permanentIdentifierName('C02ACME001'), permanentIdentifierName('C02X/1.2.3.4'), hardwareModuleName('SN123/1.3.6.1.4.1.99.1')]), 'ok'],
    ['otherName of another type', () => handCsr({ attributes: [extensionRequest(extensions(san(tlv(0xa0, [oid('1.3.6.1.4.1.311.20.2.3'), explicit(0, utf8String('upn@example'))]))))] }), 'ok'],
    ['malformed PermanentIdentifier', () => x509Csr(ecKey, 'CN=x', [permanentIdentifierName('has/slash')]), 'refused'],
    ['PermanentIdentifier without identifierValue', () => handCsr({ attributes: [extensionRequest(extensions(san(tlv(0xa0, [oid('1.3.6.1.5.5.7.8.3'), explicit(0, sequence([oid('1.2.3')]))]))))] }), 'refused'],
    ['directoryName and registeredID SANs', () => handCsr({ attributes: [extensionRequest(extensions(san(explicit(4, name([['CN', utf8String('dir')]])), implicitPrimitive(8, oid('1.2.3.4').subarray(2)))))] }), 'ok'],
    ['two SAN extensions and another extension', () => handCsr({ attributes: [extensionRequest(extensions(sequence([oid(OID.basicConstraints), octetString(sequence([]))]), san(dns('a.example')), san(dns('b.example'))))] }), 'ok'],
    ['critical SAN', () => handCsr({ attributes: [extensionRequest(extensions(sequence([oid(OID.subjectAltName), Buffer.from([1, 1, 0xff]), octetString(generalNames([dns('c.example')]))])))] }), 'ok'],
    ['other attribute beside extensionRequest', () => handCsr({ attributes: [sequence([oid('1.2.840.113549.1.9.7'), set([utf8String('challenge')])]), extensionRequest(extensions(san(dns('a.example'))))] }), 'ok'],
    ['no attributes field', () => handCsr({ attributes: undefined }), 'ok'],
    ['empty attributes', () => handCsr({ attributes: [] }), 'ok'],
    ['IA5String CN', () => handCsr({ subject: name([['CN', tlv(0x16, Buffer.from('ia5.example'))]]) }), 'ok'],
    ['PrintableString CN', () => handCsr({ subject: name([['CN', printableString('p.example')]]) }), 'ok'],
    ['empty CN', () => handCsr({ subject: name([['CN', utf8String('')]]) }), 'ok'],
    ['non-ASCII UTF8String CN', () => handCsr({ subject: name([['CN', utf8String('bücher.example')]]) }), 'ok'],
    ['two CNs', () => x509Csr(ecKey, 'CN=a.example, CN=b.example', undefined), 'refused'],
    ['two CNs in one RDN', () => handCsr({ subject: name([[['CN', utf8String('a')], ['CN', utf8String('b')]]]) }), 'refused'],
    ['two extensionRequests', () => handCsr({ attributes: [extensionRequest(extensions(san(dns('a.example')))), extensionRequest(extensions(san(dns('b.example'))))] }), 'refused'],
    ['extensionRequest with two values', () => handCsr({ attributes: [extensionRequest(extensions(san(dns('a.example'))), extensions(san(dns('b.example'))))] }), 'refused'],
    ['extensionRequest with no value', () => handCsr({ attributes: [sequence([oid(OID.extensionRequest), set([])])] }), 'refused'],
    ['extensionRequest that is not Extensions', () => handCsr({ attributes: [extensionRequest(utf8String('no'))] }), 'refused'],
    ['SAN extnValue that is not GeneralNames', () => handCsr({ attributes: [extensionRequest(extensions(sequence([oid(OID.subjectAltName), octetString(utf8String('no'))])))] }), 'refused'],
    ['SAN with trailing bytes', () => handCsr({ attributes: [extensionRequest(extensions(sequence([oid(OID.subjectAltName), octetString(Buffer.concat([generalNames([dns('a.example')]), Buffer.from([0])]))])))] }), 'stricter'],
    ['iPAddress of 5 octets', () => handCsr({ attributes: [extensionRequest(extensions(san(ipName(Buffer.from([192, 0, 2, 1, 9])))))] }), 'refused'],
    ['iPAddress of 8 octets (a name constraint, not an address)', () => handCsr({ attributes: [extensionRequest(extensions(san(ipName(Buffer.from([192, 0, 2, 0, 255, 255, 255, 0])))))] }), 'refused'],
    ['iPAddress of 16 octets, IPv4-mapped', () => handCsr({ attributes: [extensionRequest(extensions(san(ipName(ipOctets('::ffff:192.0.2.1')))))] }), 'ok'],
    ['wrong signature', async () => corruptSignature((await makeCsr({ dns: ['a.example'] })).der), 'refused'],
    ['signed by another key', async () => { const a = (await makeCsr({ dns: ['a.example'] })).der; const b = (await makeCsr({ dns: ['a.example'] })).der; return sequence([splitSigned(a).tbs, splitSigned(b).algorithm, bitString(splitSigned(b).signature)]); }, 'refused'],
    ['truncated', async () => (await makeCsr({ dns: ['a.example'] })).der.subarray(0, -5), 'refused'],
    ['trailing bytes', async () => Buffer.concat([(await makeCsr({ dns: ['a.example'] })).der, Buffer.from([0])]), 'refused'],
    ['version 1', () => handCsr({ version: 1 }), 'refused'],
    ['version 256', () => handCsr({ version: 256 }), 'refused'],
    ['RSA signature algorithm on an EC key', () => handCsr({ sigAlg: OID.sha256WithRSAEncryption }), 'refused'],
    ['ECDSA with SHA-1', () => handCsr({ sigAlg: '1.2.840.10045.4.1' }), 'refused'],
    ['Ed25519 algorithm on an EC key', () => handCsr({ sigAlg: OID.ed25519 }), 'refused'],
    ['RSA key, ECDSA algorithm', () => handCsr({ key: makeKey('rsa-2048'), sigAlg: OID.ecdsaWithSHA256 }), 'refused'],
    ['unreadable public key', () => { const good = handCsr({}); const info = children(good, readTlv(good, 0))[0]!; const spki = children(good, info)[2]!; const bad = Buffer.from(good); bad[spki.end - 1]! ^= 0xff; bad[spki.end - 2]! ^= 0xff; return bad; }, 'refused'],
    ['empty', () => Buffer.alloc(0), 'refused'],
    ['not DER', () => Buffer.from('-----BEGIN CERTIFICATE REQUEST-----'), 'refused'],
    ['indefinite length', () => Buffer.from([0x30, 0x80, 0x30, 0x00, 0x00, 0x00]), 'refused'],
    ['five-byte length', () => Buffer.from([0x30, 0x85, 0, 0, 0, 0, 3, 1, 1, 0]), 'refused'],
  ];
  for (const [title, build, expected] of table) {
    test(title, async () => {
      const der = await build();
      if (expected === 'stricter') {
        assert.equal(outcome(oldParseCsr, der).ok, true);
        assert.equal(outcome(parseCsr, der).ok, false);
        return;
      }
      const r = same(der);
      assert.equal(r.ok ? 'ok' : 'refused', expected, JSON.stringify(r));
    });
  }

  test('the fields read out are the ones asked for', async () => {
    const r = parseCsr(opensslCsr(generateKeyPairSync('ed25519').privateKey, ['-subj', '/CN=ed.example', '-addext', 'subjectAltName=DNS:Ed.Example,IP:2001:DB8::0:1,email:e@ed.example,URI:https://ed.example/x,IP:192.0.2.1']));
    assert.equal(r.commonName, 'ed.example');
    assert.deepEqual(r.dnsNames, ['ed.example']);
    assert.deepEqual(r.ipAddresses, ['2001:db8::1', '192.0.2.1']);
    assert.deepEqual(r.otherNames, ['email:e@ed.example', 'URI:https://ed.example/x']);
    assert.equal(r.publicKey.asymmetricKeyType, 'ed25519');
    const dev = parseCsr(await x509Csr(ecKey, 'CN=C02ACME001', [permanentIdentifierName('C02ACME001/1.2.3.4'), hardwareModuleName('SN1/1.3.6.1.4.1.99.1')]));
    assert.deepEqual(dev.deviceIdentifiers, [{ type: 'permanent-identifier', value: 'C02ACME001/1.2.3.4' }, { type: 'hardware-module', value: 'SN1/1.3.6.1.4.1.99.1' }]);
  });

  test('an iPAddress of the wrong length is named in the error', () => {
    assert.throws(() => parseCsr(handCsr({ attributes: [extensionRequest(extensions(san(ipName(Buffer.from([192, 0, 2, 1, 9])))))] })), /IP address SAN that is not an address: c000020109/);
  });

  test('deliberately stricter: a commonName in BMPString or TeletexString is refused', () => {
    const bmp = handCsr({ subject: name([['CN', tlv(0x1e, Buffer.from('\u0000b\u0000.\u0000e'))]]) });
    assert.equal(oldParseCsr(bmp).commonName, 'b.e');
    assert.throws(() => parseCsr(bmp), (err: Error) => err instanceof CsrError && /commonName is a string of tag 0x1e/.test(err.message));
    const teletex = handCsr({ subject: name([['CN', tlv(0x14, Buffer.from('t.example'))]]) });
    assert.equal(oldParseCsr(teletex).commonName, 't.example');
    assert.throws(() => parseCsr(teletex), CsrError);
  });

  test('deliberately stricter: a UTF8String commonName that is not UTF-8 is refused', () => {
    const bad = handCsr({ subject: name([['CN', tlv(0x0c, Buffer.from([0x61, 0xff, 0x62]))]]) });
    assert.throws(() => parseCsr(bad), CsrError);
  });

  test('an element whose length runs past its parent is refused', () => {
    // A SEQUENCE { SEQUENCE (length 5, but the parent holds 3 content bytes) } followed by padding.
    const der = Buffer.from([0x30, 0x05, 0x30, 0x05, 0x02, 0x01, 0x00, 0x00, 0x00]);
    assert.throws(() => children(der, { tag: 0x30, offset: 0, start: 2, end: 5 }), /past the end of its parent/);
    const good = handCsr({});
    const bad = Buffer.from(good);
    // Lengthen the version INTEGER so it swallows the subject: inside the input, outside its parent only if read naively.
    const info = children(good, readTlv(good, 0))[0]!;
    const version = children(good, info)[0]!;
    bad[version.offset + 1] = 0x7f;
    assert.throws(() => parseCsr(bad), CsrError);
  });

  // The old reader accepted some of these (a signatureAlgorithm with its SEQUENCE tag changed,
  // say: the signature covers only the TBS); neither may throw anything but a CsrError.
  test('every one-byte corruption of a request is refused with a CsrError', async () => {
    const der = (await makeCsr({ commonName: 'f.example', dns: ['f.example'], ips: ['192.0.2.9'] })).der;
    for (let i = 0; i < der.length; i++) {
      for (const flip of [0x01, 0x80, 0xff]) {
        const bad = Buffer.from(der);
        bad[i]! ^= flip;
        const now = outcome(parseCsr, bad);
        outcome(oldParseCsr, bad);
        assert.equal(now.ok, false, `byte ${i} ^ ${flip} of ${der.toString('hex')}`);
      }
      const cut = outcome(parseCsr, der.subarray(0, i));
      assert.equal(cut.ok, false);
    }
  });
});

describe('importSpki: the CSR key, P-256 through its JWK coordinates', () => {
  const keys = {
    'P-256': generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey,
    'P-384': generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey,
    'RSA 2048': generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey,
    'RSA 3072, exponent 3': generateKeyPairSync('rsa', { modulusLength: 3072, publicExponent: 3 }).publicKey,
    'RSA 4096': generateKeyPairSync('rsa', { modulusLength: 4096 }).publicKey,
    'RSA-PSS 2048': generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).publicKey,
    Ed25519: generateKeyPairSync('ed25519').publicKey,
  };
  for (const [name, key] of Object.entries(keys)) {
    test(`${name}: the same key as decoding the DER`, () => {
      const der = key.export({ type: 'spki', format: 'der' });
      const imported = importSpki(der);
      assert.ok(imported.equals(key));
      assert.ok(imported.equals(createPublicKey({ key: der, format: 'der', type: 'spki' })));
      assert.deepEqual(imported.asymmetricKeyDetails, key.asymmetricKeyDetails);
    });
  }

  test('an RSA key in another encoding is decoded from the DER, with the DER decoder\'s verdict', () => {
    const der = keys['RSA 2048'].export({ type: 'spki', format: 'der' });
    // SPKI = SEQUENCE { algorithm, BIT STRING { 00, RSAPublicKey SEQUENCE { n, e } } }
    const [, bits] = children(der, readTlv(der, 0));
    const [nTlv, eTlv] = children(der, readTlv(der, bits!.start + 1));
    const n = der.subarray(nTlv!.start, nTlv!.end);
    const e = der.subarray(eTlv!.start, eTlv!.end);
    const spkiOf = (algorithm: Buffer, nBytes: Buffer, eBytes: Buffer) => sequence([algorithm, bitString(sequence([tlv(0x02, nBytes), tlv(0x02, eBytes)]))]);
    const alg = Buffer.from('300d06092a864886f70d0101010500', 'hex');
    const variants = {
      canonical: spkiOf(alg, n, e),
      'extra leading zero in the modulus': spkiOf(alg, Buffer.concat([Buffer.from([0]), n]), e),
      'negative modulus': spkiOf(alg, n.subarray(1), e),
      'absent NULL parameters': spkiOf(Buffer.from('300b06092a864886f70d010101', 'hex'), n, e),
    };
    assert.ok(variants.canonical.equals(der), 'the hand-built canonical form is what OpenSSL writes');
    for (const [name, spki] of Object.entries(variants)) {
      let viaDer: KeyObject | Error;
      try {
        viaDer = createPublicKey({ key: spki, format: 'der', type: 'spki' });
      } catch (err) {
        viaDer = err as Error;
      }
      if (viaDer instanceof Error) assert.throws(() => importSpki(spki), Error, name);
      else assert.ok(importSpki(spki).equals(viaDer), name);
    }
  });

  test('a P-256 point off the curve is refused, as decoding the DER refuses it', () => {
    const der = Buffer.from(keys['P-256'].export({ type: 'spki', format: 'der' }));
    der[der.length - 1]! ^= 1;
    assert.throws(() => importSpki(der));
    assert.throws(() => createPublicKey({ key: der, format: 'der', type: 'spki' }));
  });

  test('a P-256 SPKI of another length goes to the DER decoder, which refuses a truncated one', () => {
    const der = keys['P-256'].export({ type: 'spki', format: 'der' });
    const truncated = der.subarray(0, der.length - 1);
    assert.throws(() => importSpki(truncated));
  });
});
