// Building and signing a CRL (RFC 5280 §5): a v2 CertificateList by the issuing intermediate, with
// the two extensions a conforming CA must include, the authority key identifier (§5.2.1) and a
// monotonically increasing CRL number (§5.2.3), and one entry per revoked certificate with its
// revocation date and reason code (§5.3.1). Only ca/ calls this: it takes the signing key.
//
// The DER is assembled here rather than by @peculiar/x509's X509CrlGenerator, whose time grows
// with the square of the entries (each new entry is compared with every earlier one, then the
// whole list goes through asn1-schema): about 7 s for 10,000 revoked certificates, minutes for
// 100,000, with the event loop blocked throughout. Each entry here is encoded once and the list
// joined once, so the time is linear in the entries.
import type { KeyObject } from 'node:crypto';
import { revocationReasons } from '../core.js';
import { bitString, enumerated, explicit, integer, integerFromHex, NULL, octetString, oid, sequence, time } from '../pki/der-write.js';
import { OID } from '../pki/oids.js';
import { signAsync, x509Signature } from './keys.js';

export interface CrlEntry {
  /** Lowercase hex, as stored. */
  serial: string;
  revokedAt: Date;
  /** RFC 5280 §5.3.1 reason code. */
  reason: number;
}

export interface CrlContent {
  /** RFC 5280 §5.2.3: strictly greater than every number this issuer used before. */
  number: number;
  thisUpdate: Date;
  nextUpdate: Date;
  entries: CrlEntry[];
}

export interface CrlSigner {
  /** The issuer's Name, DER, byte for byte as in its certificate's subject (RFC 5280 §5.1.2.3). */
  issuerName: Buffer;
  /** The authorityKeyIdentifier Extension, DER, as in the certificates this issuer signs (RFC 5280 §5.2.1). */
  aki: Buffer;
  /** The issuer's private key. */
  key: KeyObject;
}

/** Times in a CRL are whole seconds (UTCTime / GeneralizedTime without fractions, RFC 5280 §5.1.2.4). */
export const wholeSeconds = (d: Date): Date => new Date(Math.floor(d.getTime() / 1000) * 1000);

/** Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING } (RFC 5280 §4.1); non-critical, so critical is left out (X.690 §11.5). */
const extension = (id: string, value: Buffer): Buffer => sequence([oid(id), octetString(value)]);

// TBSCertList version v2 (RFC 5280 §5.1.2.1: required when the CRL has extensions).
const V2 = integer(1);

// crlEntryExtensions holding only reasonCode (RFC 5280 §5.3.1), one per assigned code, encoded once.
// unspecified (0) is not among them: §5.3.1 says to leave the extension out rather than use it.
const REASON_EXTENSIONS = new Map<number, Buffer>(
  Object.values(revocationReasons)
    .filter((code) => code !== revocationReasons.unspecified)
    .map((code) => [code, sequence([extension(OID.reasonCode, enumerated(code))])]),
);

/** One revokedCertificates entry: SEQUENCE { userCertificate, revocationDate, crlEntryExtensions OPTIONAL } (RFC 5280 §5.1). */
function revokedCertificate(serial: Buffer, e: CrlEntry): Buffer {
  if (e.reason === revocationReasons.unspecified) return sequence([serial, time(e.revokedAt)]);
  const reason = REASON_EXTENSIONS.get(e.reason);
  if (!reason) throw new Error(`certificate ${e.serial} has revocation reason ${e.reason}, which RFC 5280 §5.3.1 does not assign`);
  return sequence([serial, time(e.revokedAt), reason]);
}

export async function signCrl(signer: CrlSigner, content: CrlContent): Promise<Buffer> {
  if (!Number.isSafeInteger(content.number) || content.number < 1) throw new Error(`CRL number ${content.number} is not a positive integer`);
  // The same algorithm as the issuer's certificates (keys.ts signingAlgorithm); it appears twice,
  // inside the signed part and outside it, and the two must match (RFC 5280 §5.1.1.2).
  const alg = x509Signature(signer.key);
  const algorithm = sequence(alg.nullParameters ? [oid(alg.oid), NULL] : [oid(alg.oid)]);

  const seen = new Set<string>();
  const entries = content.entries.map((e) => {
    const serial = integerFromHex(e.serial);
    // RFC 5280 §5.1.2.6: revoked certificates are "uniquely identified by the certificate serial
    // number", so one listed twice is a fault upstream; a Set keeps the check linear.
    const key = serial.toString('latin1');
    if (seen.has(key)) throw new Error(`certificate ${e.serial} is listed twice in the CRL`);
    seen.add(key);
    return revokedCertificate(serial, e);
  });

  const tbs = sequence([
    V2,
    algorithm,
    signer.issuerName,
    time(content.thisUpdate),
    time(content.nextUpdate),
    // RFC 5280 §5.1.2.6: with no revoked certificates the field is absent, not an empty SEQUENCE.
    ...(entries.length ? [sequence(entries)] : []),
    explicit(0, sequence([signer.aki, extension(OID.crlNumber, integer(content.number))])),
  ]);
  const signature = await signAsync(alg.digest, tbs, signer.key);
  return sequence([tbs, algorithm, bitString(signature)]);
}
