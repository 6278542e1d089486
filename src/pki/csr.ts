// Reads a PKCS #10 certification request (RFC 2986) as sent in an ACME finalize request
// (RFC 8555 §7.4): its signature, its public key and the names it asks for. Pure: no I/O.
// The DER is walked with der.ts's reader rather than decoded into objects by an ASN.1 library:
// only a handful of fields matter, and a full decode cost several percent of the CPU spent per
// certificate. Every field read is checked for the tag it must have; anything else is a CsrError.
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { children, DerError, readTlv, subjectPublicKeyInfo, type Tlv } from './der.js';
import { canonicalIp } from './ip.js';
import { OID } from './oids.js';
import { encodeOid, oidText, otherNameIdentifier } from './othernames.js';

export class CsrError extends Error {
  override name = 'CsrError';
}

/** Signature algorithms accepted on a CSR, the hash each uses and the key algorithm it needs. */
const SIGNATURE_ALGORITHMS: Record<string, { hash: string | null; key: string }> = {
  [OID.ecdsaWithSHA256]: { hash: 'sha256', key: OID.ecPublicKey },
  [OID.ecdsaWithSHA384]: { hash: 'sha384', key: OID.ecPublicKey },
  [OID.ecdsaWithSHA512]: { hash: 'sha512', key: OID.ecPublicKey },
  [OID.sha256WithRSAEncryption]: { hash: 'sha256', key: OID.rsaEncryption },
  [OID.sha384WithRSAEncryption]: { hash: 'sha384', key: OID.rsaEncryption },
  [OID.sha512WithRSAEncryption]: { hash: 'sha512', key: OID.rsaEncryption },
  [OID.ed25519]: { hash: null, key: OID.ed25519 },
};

export interface ParsedCsr {
  publicKey: KeyObject;
  /** DER SubjectPublicKeyInfo, as it goes into the certificate. */
  spki: Buffer;
  commonName: string | undefined;
  dnsNames: string[];
  ipAddresses: string[];
  /** PermanentIdentifier and HardwareModuleName otherNames, as identifier text (pki/othernames.ts). */
  deviceIdentifiers: { type: 'permanent-identifier' | 'hardware-module'; value: string }[];
  /** SAN entries of other kinds (email, URI, otherName…), named for the error message. */
  otherNames: string[];
}

/** Universal and context-specific tags read here (X.680 §8.4, X.690 §8.1.2). */
const TAG = {
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  oid: 0x06,
  utf8String: 0x0c,
  printableString: 0x13,
  ia5String: 0x16,
  sequence: 0x30,
  set: 0x31,
  /** CertificationRequestInfo attributes [0] IMPLICIT SET OF Attribute (RFC 2986 §4.1). */
  attributes: 0xa0,
} as const;

/** GeneralName tags (RFC 5280 §4.2.1.6): otherName [0] constructed; the IMPLICIT string forms primitive. */
const GENERAL_NAME = {
  otherName: 0xa0,
  rfc822Name: 0x81,
  dNSName: 0x82,
  uniformResourceIdentifier: 0x86,
  iPAddress: 0x87,
} as const;

/** Dotted text of the OIDs this file compares, keyed by their DER content in hex: no BigInt on the common path. */
const KNOWN_OIDS = new Map<string, string>(Object.values(OID).map((oid) => [encodeOid(oid).subarray(2).toString('hex'), oid]));

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function parseCsr(der: Uint8Array): ParsedCsr {
  try {
    return readCsr(der);
  } catch (err) {
    // The reader's own errors (and oidText's and the UTF-8 decoder's, rethrown as DerError below)
    // mean bytes that are not the structure they should be.
    if (err instanceof DerError) throw new CsrError(`CSR is not a DER PKCS #10 request: ${err.message}`);
    throw err;
  }
}

function readCsr(der: Uint8Array): ParsedCsr {
  // CertificationRequest ::= SEQUENCE { certificationRequestInfo, signatureAlgorithm, signature BIT STRING }
  const outer = readTlv(der, 0);
  if (outer.tag !== TAG.sequence || outer.end !== der.length) throw new DerError('not a single DER SEQUENCE');
  const [info, sigAlg, sig, extra] = children(der, outer);
  if (!info || !sigAlg || !sig || extra) throw new DerError('a signed structure has exactly three parts');
  expect(info, TAG.sequence, 'certificationRequestInfo');
  expect(sigAlg, TAG.sequence, 'signatureAlgorithm');
  expect(sig, TAG.bitString, 'signature');
  if (sig.end === sig.start || der[sig.start] !== 0) throw new DerError('signature is not a whole-byte BIT STRING');

  // CertificationRequestInfo ::= SEQUENCE { version INTEGER, subject Name,
  //   subjectPKInfo SubjectPublicKeyInfo, attributes [0] IMPLICIT SET OF Attribute } (RFC 2986 §4.1)
  const [version, subject, spkiTlv, attributes, more] = children(der, info);
  if (!version || !subject || !spkiTlv || more) throw new DerError('certificationRequestInfo does not have its four parts');
  expect(version, TAG.integer, 'version');
  expect(subject, TAG.sequence, 'subject');
  expect(spkiTlv, TAG.sequence, 'subjectPKInfo');
  if (attributes) expect(attributes, TAG.attributes, 'attributes');
  const v = der.subarray(version.start, version.end);
  if (v.length !== 1 || v[0] !== 0) throw new CsrError(`CSR version ${v.length > 0 && v.length <= 6 ? Buffer.from(v).readIntBE(0, v.length) : `0x${Buffer.from(v).toString('hex')}`} is not v1 (0)`);

  const spki = Buffer.from(der.subarray(spkiTlv.offset, spkiTlv.end));
  let publicKey: KeyObject;
  try {
    publicKey = importSpki(spki);
  } catch (err) {
    throw new CsrError(`CSR public key cannot be read: ${(err as Error).message}`);
  }
  // SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier, subjectPublicKey BIT STRING }
  const [keyAlgorithmId] = children(der, spkiTlv);
  if (!keyAlgorithmId) throw new DerError('subjectPKInfo is empty');
  const keyAlgorithm = algorithmOid(der, keyAlgorithmId, 'subjectPKInfo algorithm');

  const algorithm = algorithmOid(der, sigAlg, 'signature algorithm');
  const accepted = SIGNATURE_ALGORITHMS[algorithm];
  if (!accepted) throw new CsrError(`CSR signature algorithm ${algorithm} is not accepted (use ECDSA or RSA PKCS #1 v1.5 with SHA-256/384/512, or Ed25519)`);
  if (accepted.key !== keyAlgorithm) throw new CsrError(`CSR signature algorithm ${algorithm} does not fit its public key`);
  let ok = false;
  try {
    // The signature covers certificationRequestInfo as sent, tag and length included.
    ok = verify(accepted.hash, der.subarray(info.offset, info.end), publicKey, der.subarray(sig.start + 1, sig.end));
  } catch {
    ok = false;
  }
  if (!ok) throw new CsrError('CSR signature does not verify with the CSR public key');

  const out: ParsedCsr = { publicKey, spki, commonName: readCommonName(der, subject), dnsNames: [], ipAddresses: [], deviceIdentifiers: [], otherNames: [] };
  let extensionRequest: Tlv | undefined;
  // Attribute ::= SEQUENCE { type OBJECT IDENTIFIER, values SET OF AttributeValue } (RFC 2986 §4.1)
  for (const attr of attributes ? children(der, attributes) : []) {
    expect(attr, TAG.sequence, 'attribute');
    const [type, values, rest] = children(der, attr);
    if (!type || !values || rest) throw new DerError('attribute is not { type, values }');
    expect(values, TAG.set, 'attribute values');
    if (oid(der, type, 'attribute type') !== OID.extensionRequest) continue;
    const items = children(der, values);
    if (items.length !== 1 || extensionRequest) throw new CsrError('CSR has more than one extensionRequest');
    extensionRequest = items[0]!;
  }
  if (extensionRequest) readExtensions(der, extensionRequest, out);
  return out;
}

/** Extensions ::= SEQUENCE OF Extension; Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING } (RFC 5280 §4.1). */
function readExtensions(der: Uint8Array, extensions: Tlv, out: ParsedCsr): void {
  expect(extensions, TAG.sequence, 'extensionRequest');
  for (const ext of children(der, extensions)) {
    expect(ext, TAG.sequence, 'extension');
    const parts = children(der, ext);
    const id = parts[0];
    const value = parts[parts.length - 1];
    if (!id || !value || parts.length < 2 || parts.length > 3 || (parts.length === 3 && parts[1]!.tag !== 0x01)) throw new DerError('extension is not { extnID, critical, extnValue }');
    expect(value, TAG.octetString, 'extnValue');
    if (oid(der, id, 'extnID') !== OID.subjectAltName) continue;
    if (value.start === value.end) throw new DerError('subjectAltName is empty');
    readGeneralNames(der, readTlv(der, value.start), value, out);
  }
}

/** GeneralNames ::= SEQUENCE SIZE (1..MAX) OF GeneralName (RFC 5280 §4.2.1.6), the whole extnValue. */
function readGeneralNames(der: Uint8Array, names: Tlv, value: Tlv, out: ParsedCsr): void {
  if (names.tag !== TAG.sequence || names.end !== value.end) throw new DerError('subjectAltName is not a single GeneralNames SEQUENCE');
  for (const n of children(der, names)) {
    const content = der.subarray(n.start, n.end);
    switch (n.tag) {
      case GENERAL_NAME.dNSName:
        out.dnsNames.push(latin1(content).toLowerCase());
        break;
      case GENERAL_NAME.iPAddress: {
        const ip = content.length === 4 || content.length === 16 ? canonicalIp(ipText(content)) : undefined;
        if (!ip) throw new CsrError(`CSR has an IP address SAN that is not an address: ${Buffer.from(content).toString('hex') || '(empty)'}`);
        out.ipAddresses.push(ip);
        break;
      }
      case GENERAL_NAME.rfc822Name:
        out.otherNames.push(`email:${latin1(content)}`);
        break;
      case GENERAL_NAME.uniformResourceIdentifier:
        out.otherNames.push(`URI:${latin1(content)}`);
        break;
      case GENERAL_NAME.otherName: {
        // OtherName ::= SEQUENCE { type-id OBJECT IDENTIFIER, value [0] EXPLICIT ANY }
        const [type, explicit, rest] = children(der, n);
        if (!type || !explicit || rest || explicit.tag !== 0xa0) throw new DerError('otherName is not { type-id, [0] value }');
        const typeId = oid(der, type, 'otherName type-id');
        let device: ReturnType<typeof otherNameIdentifier>;
        try {
          device = otherNameIdentifier(typeId, der.subarray(explicit.start, explicit.end));
        } catch (err) {
          throw new CsrError(`CSR otherName ${typeId} is malformed: ${(err as Error).message}`);
        }
        if (device) out.deviceIdentifiers.push(device);
        else out.otherNames.push(`otherName:${typeId}`);
        break;
      }
      default:
        out.otherNames.push('an unsupported name form');
    }
  }
}

/**
 * The one commonName of a subject Name, if any. Name ::= SEQUENCE OF RelativeDistinguishedName,
 * RDN ::= SET OF AttributeTypeAndValue { type, value } (RFC 5280 §4.1.2.4). The value is read
 * from the three string types CAs and clients use; another (BMPString, TeletexString,
 * UniversalString, …) is refused, as a name the CA would have to transcode.
 */
function readCommonName(der: Uint8Array, subject: Tlv): string | undefined {
  let found: string | undefined;
  for (const rdn of children(der, subject)) {
    expect(rdn, TAG.set, 'RelativeDistinguishedName');
    for (const atv of children(der, rdn)) {
      expect(atv, TAG.sequence, 'AttributeTypeAndValue');
      const [type, value, rest] = children(der, atv);
      if (!type || !value || rest) throw new DerError('AttributeTypeAndValue is not { type, value }');
      if (oid(der, type, 'attribute type') !== OID.commonName) continue;
      if (found !== undefined) throw new CsrError('CSR subject has more than one commonName');
      const content = der.subarray(value.start, value.end);
      if (value.tag === TAG.utf8String) found = utf8Text(content);
      else if (value.tag === TAG.printableString || value.tag === TAG.ia5String) found = latin1(content);
      else throw new CsrError(`CSR commonName is a string of tag 0x${value.tag.toString(16)}, not UTF8String, PrintableString or IA5String`);
    }
  }
  return found;
}

/**
 * The DER SubjectPublicKeyInfo of an uncompressed P-256 key is these bytes followed by X and Y
 * (RFC 5480 §2: id-ecPublicKey with the named curve prime256v1, then the BIT STRING 00 04 X Y).
 */
const P256_SPKI_PREFIX = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200' + '04', 'hex');
const P256_SPKI_LENGTH = P256_SPKI_PREFIX.length + 64;

/** AlgorithmIdentifier of rsaEncryption with its NULL parameters (RFC 3279 §2.3.1), as DER. */
const RSA_ALGORITHM = Buffer.from('300d06092a864886f70d0101010500', 'hex');

/**
 * The modulus and exponent of an RSA SubjectPublicKeyInfo in its canonical form: the algorithm
 * above, then a BIT STRING with no unused bits holding RSAPublicKey ::= SEQUENCE { modulus
 * INTEGER, publicExponent INTEGER } (RFC 8017 §A.1.1), both positive and minimally encoded, and
 * nothing else. Undefined for anything else.
 */
function rsaComponents(spki: Buffer): { n: Buffer; e: Buffer } | undefined {
  try {
    const { publicKeyBits } = subjectPublicKeyInfo(spki);
    const algorithmId = readTlv(spki, readTlv(spki, 0).start);
    if (!spki.subarray(algorithmId.offset, algorithmId.end).equals(RSA_ALGORITHM)) return undefined;
    const rsa = readTlv(publicKeyBits, 0);
    if (rsa.tag !== TAG.sequence || rsa.end !== publicKeyBits.length) return undefined;
    const [n, e, more] = children(publicKeyBits, rsa);
    if (!n || !e || more || n.tag !== TAG.integer || e.tag !== TAG.integer) return undefined;
    const positive = (t: Tlv): Buffer | undefined => {
      const v = publicKeyBits.subarray(t.start, t.end);
      if (v.length === 0 || v[0]! & 0x80) return undefined; // empty or negative
      if (v[0] === 0) return v.length > 1 && v[1]! & 0x80 ? v.subarray(1) : undefined; // a zero byte only before a high bit
      return v;
    };
    const nv = positive(n);
    const ev = positive(e);
    return nv && ev ? { n: nv, e: ev } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A public key from its DER SubjectPublicKeyInfo. OpenSSL 3 decodes keys from DER slowly, and
 * finalize imports one per certificate, so the two common kinds go in as JWK instead when they
 * are in their one canonical form:
 * - P-256 through its coordinates: about 60% of the DER time (0.09 against 0.15 ms here, P-384
 *   is the slower one that way, so it stays on DER);
 * - RSA through its modulus and exponent: about 15 against 200 µs.
 * OpenSSL checks the key either way (an EC point must be on the curve). Every other key and
 * encoding is decoded from the DER as sent.
 */
export function importSpki(spki: Buffer): KeyObject {
  if (spki.length === P256_SPKI_LENGTH && spki.subarray(0, P256_SPKI_PREFIX.length).equals(P256_SPKI_PREFIX)) {
    const point = spki.subarray(P256_SPKI_PREFIX.length);
    return createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: point.subarray(0, 32).toString('base64url'), y: point.subarray(32).toString('base64url') }, format: 'jwk' });
  }
  const rsa = rsaComponents(spki);
  if (rsa) return createPublicKey({ key: { kty: 'RSA', n: rsa.n.toString('base64url'), e: rsa.e.toString('base64url') }, format: 'jwk' });
  return createPublicKey({ key: spki, format: 'der', type: 'spki' });
}

function expect(t: Tlv, tag: number, what: string): void {
  if (t.tag !== tag) throw new DerError(`${what} has tag 0x${t.tag.toString(16)}, not 0x${tag.toString(16)}`);
}

/** The OID of an AlgorithmIdentifier ::= SEQUENCE { algorithm OBJECT IDENTIFIER, parameters ANY OPTIONAL }. */
function algorithmOid(der: Uint8Array, alg: Tlv, what: string): string {
  expect(alg, TAG.sequence, what);
  const [id, , extra] = children(der, alg);
  if (!id || extra) throw new DerError(`${what} is not { algorithm, parameters }`);
  return oid(der, id, what);
}

function oid(der: Uint8Array, t: Tlv, what: string): string {
  expect(t, TAG.oid, what);
  const content = der.subarray(t.start, t.end);
  const known = KNOWN_OIDS.get(Buffer.from(content.buffer, content.byteOffset, content.length).toString('hex'));
  if (known) return known;
  try {
    return oidText(content);
  } catch (err) {
    throw new DerError(`${what}: ${(err as Error).message}`);
  }
}

/** IA5String and PrintableString content, one character per octet (what the ASN.1 library read them as). */
function latin1(content: Uint8Array): string {
  return Buffer.from(content.buffer, content.byteOffset, content.length).toString('latin1');
}

function utf8Text(content: Uint8Array): string {
  try {
    return utf8.decode(content);
  } catch {
    throw new DerError('commonName UTF8String is not UTF-8');
  }
}

/** Dotted quad or colon-hex text of 4 or 16 iPAddress octets, for canonicalIp. */
function ipText(octets: Uint8Array): string {
  if (octets.length === 4) return octets.join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((octets[i]! << 8) | octets[i + 1]!).toString(16));
  return groups.join(':');
}
