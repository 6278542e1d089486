// End-entity certificates (RFC 5280 §4.1) assembled in DER: the TBSCertificate is written out
// field by field and signed with node:crypto. Only ca/authority.ts calls this: it holds the key.
//
// The CA used @peculiar/x509's X509CertificateGenerator before; with its extension classes
// (asn1js / asn1-schema serialisation, WebCrypto signing) it cost about 8% of the server's CPU
// per issued certificate, where the signature alone costs 0.025 ms. What stays the same for an
// issuer (its Name, the signature algorithm, the authority key identifier, where revocation status
// is found) is encoded once, in issuerConstants; per certificate only the subscriber's fields are.
// CertificateAuthority.issue went from about 2.1 ms to 0.12 ms (P-256 issuer, 2 vCPU).
//
// test/leaf-der.test.ts compares the TBSCertificate, byte for byte, with what the library makes.
// Where they differ on purpose: the issuer's Name is copied from its certificate, not re-encoded;
// a device identifier goes into the CN as it is, where the library read it as RFC 4514 text
// ("#…" as hex, quotes and backslash escapes undone); a date before 1950 is a GeneralizedTime
// (RFC 5280 §4.1.2.5), where the library wrote a UTCTime.
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { subjectPublicKeyInfo } from '../pki/der.js';
import {
  bitString,
  explicit,
  ia5,
  implicitConstructed,
  implicitPrimitive,
  integer,
  integerFromHex,
  isPrintable,
  namedBits,
  NULL,
  octetString,
  oid,
  printableString,
  sequence,
  set,
  time,
  TRUE,
  utf8String,
} from '../pki/der-write.js';
import { ipOctets } from '../pki/ip.js';
import { OID } from '../pki/oids.js';
import { generalNames, hardwareModuleName, permanentIdentifierName } from '../pki/othernames.js';
import type { LeafRequest, OcspSignerRequest } from './authority.js';
import { signAsync, x509Signature } from './keys.js';

/** What an issuer writes into every certificate it signs, encoded once (CertificateAuthority.create). */
export interface IssuerConstants {
  /** The issuer's Name, byte for byte as its certificate's subject (RFC 5280 §4.1.2.4, §7.1 name matching). */
  name: Buffer;
  /** The signature AlgorithmIdentifier, in the TBSCertificate and after it (RFC 5280 §4.1.1.2, §4.1.2.3). */
  algorithm: Buffer;
  digest: 'sha256' | 'sha384';
  key: KeyObject;
  /** The authorityKeyIdentifier Extension (RFC 5280 §4.2.1.1); CRLs carry the same one (§5.2.1). */
  aki: Buffer;
  /** The cRLDistributionPoints and authorityInfoAccess Extensions, in this order. */
  status: readonly Buffer[];
}

export interface StatusLocations {
  crl: string;
  ocsp: string;
  caIssuers: string;
}

/** The few OIDs a certificate names, each encoded once. */
const OIDS = new Map<string, Buffer>();
function encodedOid(id: string): Buffer {
  let der = OIDS.get(id);
  if (!der) OIDS.set(id, (der = oid(id)));
  return der;
}

/** Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING } (RFC 5280 §4.1); DER leaves FALSE out (X.690 §11.5). */
const extension = (id: string, critical: boolean, value: Uint8Array): Buffer =>
  sequence(critical ? [encodedOid(id), TRUE, octetString(value)] : [encodedOid(id), octetString(value)]);

/** SHA-1 of the subjectPublicKey BIT STRING's key bits: RFC 5280 §4.2.1.2 method (1), as @peculiar/x509 computes it. */
const keyIdentifier = (keyBits: Uint8Array): Buffer => createHash('sha1').update(keyBits).digest();

/** A uniformResourceIdentifier GeneralName: [6] IA5String (RFC 5280 §4.2.1.6). */
const uri = (text: string): Buffer => implicitPrimitive(6, ia5(text));

export function issuerConstants(issuerName: Buffer, key: KeyObject, where: StatusLocations): IssuerConstants {
  const alg = x509Signature(key);
  const issuerKeyBits = subjectPublicKeyInfo(createPublicKey(key).export({ type: 'spki', format: 'der' })).publicKeyBits;
  // AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] KeyIdentifier OPTIONAL, … } (RFC 5280 §4.2.1.1).
  const aki = extension(OID.authorityKeyIdentifier, false, sequence([implicitPrimitive(0, keyIdentifier(issuerKeyBits))]));
  // CRLDistributionPoints ::= SEQUENCE OF DistributionPoint; one point, distributionPoint [0] holding
  // fullName [0] GeneralNames (RFC 5280 §4.2.1.13). DistributionPointName is a CHOICE, so its tag is explicit.
  const crlDp = extension(OID.crlDistributionPoints, false, sequence([sequence([explicit(0, implicitConstructed(0, [uri(where.crl)]))])]));
  // AuthorityInfoAccessSyntax ::= SEQUENCE OF AccessDescription { accessMethod, accessLocation } (RFC 5280 §4.2.2.1).
  const aia = extension(OID.authorityInfoAccess, false, sequence([sequence([oid(OID.adOcsp), uri(where.ocsp)]), sequence([oid(OID.adCaIssuers), uri(where.caIssuers)])]));
  return {
    name: issuerName,
    algorithm: sequence(alg.nullParameters ? [oid(alg.oid), NULL] : [oid(alg.oid)]),
    digest: alg.digest,
    key,
    aki,
    status: [crlDp, aia],
  };
}

// The extensions every certificate of a kind carries alike, encoded once.
const V3 = explicit(0, integer(2));
/** BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE, … }: CA:FALSE is the empty SEQUENCE (RFC 5280 §4.2.1.9). */
const BASIC_CONSTRAINTS = extension(OID.basicConstraints, true, sequence([]));
/** KeyUsage named bits (RFC 5280 §4.2.1.3): digitalSignature (0), and keyEncipherment (2) for RSA keys. */
const KEY_USAGE = {
  digitalSignature: extension(OID.keyUsage, true, namedBits([0])),
  withEncipherment: extension(OID.keyUsage, true, namedBits([0, 2])),
};
const KEY_PURPOSE = { serverAuth: oid(OID.serverAuth), clientAuth: oid(OID.clientAuth), ocspSigning: oid(OID.ocspSigning) };
/** ExtKeyUsageSyntax ::= SEQUENCE SIZE (1..MAX) OF KeyPurposeId (RFC 5280 §4.2.1.12), non-critical. */
const extKeyUsage = (purposes: readonly (keyof typeof KEY_PURPOSE)[]): Buffer => extension(OID.extKeyUsage, false, sequence(purposes.map((p) => KEY_PURPOSE[p])));
const EKU_SERVER_CLIENT = extKeyUsage(['serverAuth', 'clientAuth']);
const EKU_CLIENT = extKeyUsage(['clientAuth']);
/** id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1): extnValue is NULL. */
const OCSP_NOCHECK = extension(OID.ocspNoCheck, false, NULL);
const CN = oid(OID.commonName);
const RSA_ENCRYPTION = oid(OID.rsaEncryption);
const EMPTY_NAME = sequence([]);

/**
 * A Name of one RDN holding the CN (RFC 5280 §4.1.2.6), or the empty SEQUENCE. The value is a
 * PrintableString when its characters allow, else a UTF8String, as @peculiar/x509 chose; RFC 5280
 * §4.1.2.4 lets a CA use either for a DirectoryString.
 */
function subjectName(cn: string | undefined): Buffer {
  if (cn === undefined) return EMPTY_NAME;
  return sequence([set([sequence([CN, isPrintable(cn) ? printableString(cn) : utf8String(cn)])])]);
}

/** The SAN extension (RFC 5280 §4.2.1.6): critical when the subject is empty. */
const subjectAltName = (names: Buffer, subjectEmpty: boolean): Buffer => extension(OID.subjectAltName, subjectEmpty, names);

interface Names {
  cn: string | undefined;
  san: Buffer | undefined;
  eku: Buffer;
}

function serverNames(req: LeafRequest): Names {
  // CA/B Forum BR §7.1.4.3: the CN is optional and, when present, one of the SANs.
  const firstDns = req.usage?.omitCommonName ? undefined : req.identifiers.find((i) => i.type === 'dns' && i.value.length <= 64);
  // GeneralName dNSName [2] IA5String, iPAddress [7] OCTET STRING of 4 or 16 octets.
  const names = sequence(req.identifiers.map((i) => (i.type === 'ip' ? implicitPrimitive(7, ipOctets(i.value)) : implicitPrimitive(2, ia5(i.value)))));
  const eku = req.usage ? extKeyUsage(req.usage.extendedKeyUsage) : EKU_SERVER_CLIENT;
  return { cn: firstDns?.value, san: subjectAltName(names, !firstDns), eku };
}

function deviceNames(req: LeafRequest): Names {
  if (req.privacy) {
    // The certificate does not name the device; its CN is the key's own hash, as Apple's
    // attestation leaves do, so that it is still told apart from others.
    return { cn: createHash('sha256').update(req.spki).digest('hex'), san: undefined, eku: EKU_CLIENT };
  }
  const id = req.identifiers[0]!;
  const cn = id.value.length <= 64 ? id.value : undefined;
  const names = generalNames(req.identifiers.map((i) => (i.type === 'hardware-module' ? hardwareModuleName(i.value) : permanentIdentifierName(i.value))));
  return { cn, san: subjectAltName(names, cn === undefined), eku: EKU_CLIENT };
}

/**
 * TBSCertificate (RFC 5280 §4.1): version v3, serial, signature, issuer, validity, subject, the
 * subscriber's SubjectPublicKeyInfo as given, and the extensions.
 */
function tbsCertificate(issuer: IssuerConstants, req: { serial: string; spki: Buffer; notBefore: Date; notAfter: Date }, cn: string | undefined, extensions: readonly Buffer[]): Buffer {
  return sequence([
    V3,
    integerFromHex(req.serial),
    issuer.algorithm,
    issuer.name,
    sequence([time(req.notBefore), time(req.notAfter)]),
    subjectName(cn),
    req.spki,
    explicit(3, sequence(extensions)),
  ]);
}

/** The TBSCertificate of a subscriber's certificate: extensions in the order the CA always wrote them. */
export function leafTbs(issuer: IssuerConstants, req: LeafRequest): Buffer {
  // The key was read by node:crypto before it came here (pki/csr.ts, or a KeyObject exported); a
  // second createPublicKey would cost ~0.1 ms, most of this function. Its DER is checked for shape.
  const key = subjectPublicKeyInfo(req.spki);
  const usage = req.profile === 'server' ? req.usage : undefined;
  // RFC 5280 §4.2.1.3: key encipherment only makes sense for RSA keys (TLS RSA key exchange);
  // a profile may leave it out, as Let's Encrypt's do since TLS 1.3 has no RSA key exchange.
  // rsaEncryption is what node:crypto calls 'rsa' (RSASSA-PSS keys, 'rsa-pss', have their own OID).
  const encipherment = key.algorithm.equals(RSA_ENCRYPTION) && (usage?.keyEncipherment ?? true);
  const { cn, san, eku } = req.profile === 'device' ? deviceNames(req) : serverNames(req);
  return tbsCertificate(issuer, req, cn, [
    BASIC_CONSTRAINTS,
    encipherment ? KEY_USAGE.withEncipherment : KEY_USAGE.digitalSignature,
    eku,
    extension(OID.subjectKeyIdentifier, false, octetString(keyIdentifier(key.publicKeyBits))),
    issuer.aki,
    ...(san ? [san] : []),
    ...issuer.status,
  ]);
}

/**
 * The delegated OCSP signing certificate's TBSCertificate (RFC 6960 §4.2.2.2): EKU id-kp-OCSPSigning
 * only, and id-pkix-ocsp-nocheck (§4.2.2.2.1); CN `issuerCn` + " OCSP Responder".
 */
export function ocspSignerTbs(issuer: IssuerConstants, req: OcspSignerRequest, issuerCn: string): Buffer {
  const key = subjectPublicKeyInfo(req.spki);
  return tbsCertificate(issuer, req, `${issuerCn} OCSP Responder`, [
    BASIC_CONSTRAINTS,
    KEY_USAGE.digitalSignature,
    extKeyUsage(['ocspSigning']),
    OCSP_NOCHECK,
    extension(OID.subjectKeyIdentifier, false, octetString(keyIdentifier(key.publicKeyBits))),
    issuer.aki,
  ]);
}

/** Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING } (RFC 5280 §4.1). */
export async function signCertificate(issuer: IssuerConstants, tbs: Buffer): Promise<Buffer> {
  const signature = await signAsync(issuer.digest, tbs, issuer.key);
  return sequence([tbs, issuer.algorithm, bitString(signature)]);
}
