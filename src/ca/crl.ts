// Building and signing a CRL (RFC 5280 §5): a v2 CertificateList by the issuing intermediate, with
// the two extensions a conforming CA must include, the authority key identifier (§5.2.1) and a
// monotonically increasing CRL number (§5.2.3), and one entry per revoked certificate with its
// revocation date and reason code (§5.3.1). Only ca/ calls this: it takes the signing key.
import { AsnConvert } from '@peculiar/asn1-schema';
import { CRLNumber } from '@peculiar/asn1-x509';
import type { webcrypto } from 'node:crypto';
import { OID } from '../pki/oids.js';
import { x509 } from '../pki/x509.js';

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
  issuer: x509.Name;
  aki: x509.Extension;
  signingKey: webcrypto.CryptoKey;
  algorithm: webcrypto.Algorithm | webcrypto.EcdsaParams;
}

/** Times in a CRL are whole seconds (UTCTime / GeneralizedTime without fractions, RFC 5280 §5.1.2.4). */
export const wholeSeconds = (d: Date): Date => new Date(Math.floor(d.getTime() / 1000) * 1000);

export async function signCrl(signer: CrlSigner, content: CrlContent): Promise<Buffer> {
  if (!Number.isSafeInteger(content.number) || content.number < 1) throw new Error(`CRL number ${content.number} is not a positive integer`);
  const crl = await x509.X509CrlGenerator.create({
    issuer: signer.issuer,
    thisUpdate: wholeSeconds(content.thisUpdate),
    nextUpdate: wholeSeconds(content.nextUpdate),
    signingKey: signer.signingKey,
    signingAlgorithm: signer.algorithm,
    extensions: [signer.aki, new x509.Extension(OID.crlNumber, false, AsnConvert.serialize(new CRLNumber(content.number)))],
    entries: content.entries.map((e) => ({
      serialNumber: e.serial,
      revocationDate: wholeSeconds(e.revokedAt),
      // RFC 5280 §5.3.1: the reason code extension is left out rather than saying unspecified (0);
      // the generator adds it for any other code.
      ...(e.reason === 0 ? {} : { reason: e.reason as x509.X509CrlReason }),
    })),
  });
  return Buffer.from(crl.rawData);
}
