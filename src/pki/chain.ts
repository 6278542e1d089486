// Certification path validation (RFC 5280 §6, the parts attestation chains need): build a path
// from a leaf through the supplied intermediates to one of the given trust anchors, checking
// every signature, validity at a given time, basicConstraints and pathLenConstraint, keyUsage
// of issuers, and refusing unknown critical extensions. Pure: the time is an argument.
// Anchors are matched by name and key, so a root re-issued with the same key (Google's
// attestation root) verifies whichever issuance a chain carries.
import { X509Certificate } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { BasicConstraints, Certificate, KeyUsage, KeyUsageFlags } from '@peculiar/asn1-x509';

export class ChainError extends Error {
  override name = 'ChainError';
}

/** Extensions a verifier here understands, so they may be critical (RFC 5280 §4.2). */
const KNOWN_EXTENSIONS = new Set([
  '2.5.29.19', // basicConstraints, RFC 5280 §4.2.1.9
  '2.5.29.15', // keyUsage, §4.2.1.3
  '2.5.29.37', // extKeyUsage, §4.2.1.12 (checked by each format where it matters)
  '2.5.29.17', // subjectAltName, §4.2.1.6 (read by the formats)
  '2.5.29.32', // certificatePolicies, §4.2.1.4 (no policy constraints are in force here)
  '2.5.29.14', // subjectKeyIdentifier
  '2.5.29.35', // authorityKeyIdentifier
]);

export interface ParsedCert {
  x509: X509Certificate;
  der: Buffer;
  asn: Certificate;
  /** A readable name for error messages. */
  name: string;
  /** Its public key as DER SubjectPublicKeyInfo, once asked for (spkiOf). */
  spki?: Buffer;
  /**
   * Issuers whose key this certificate's signature was found to verify with. Kept on the
   * certificates that recur (anchors and intermediates, see parseRecurring), so that a vendor
   * intermediate shared by a whole fleet has its signature checked once per instance, not once
   * per device. A signature over fixed bytes under a fixed key verifies once or never; validity,
   * extensions and constraints are still checked on every path.
   */
  verifiedBy?: Set<ParsedCert>;
}

export function parseCert(der: Uint8Array): ParsedCert {
  let x509: X509Certificate;
  let asn: Certificate;
  try {
    x509 = new X509Certificate(der);
    asn = AsnConvert.parse(der, Certificate);
  } catch (err) {
    throw new ChainError(`not a DER X.509 certificate: ${(err as Error).message}`);
  }
  return { x509, der: Buffer.from(der), asn, name: (x509.subject ?? '').replace(/\n/g, ', ') || '(empty subject)' };
}

/** The certificate's public key as DER SubjectPublicKeyInfo (OpenSSL's encoding), computed once. */
export function spkiOf(cert: ParsedCert): Buffer {
  cert.spki ??= cert.x509.publicKey.export({ type: 'spki', format: 'der' });
  return cert.spki;
}

/**
 * Anchors and intermediates recur: every device of a fleet sends its vendor's intermediate, and
 * the anchors are configuration. They are parsed once and kept, by their DER, up to this many.
 */
const RECURRING_LIMIT = 256;
const recurring = new Map<string, ParsedCert>();

function parseRecurring(der: Uint8Array): ParsedCert {
  const key = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  let cert = recurring.get(key);
  if (cert) {
    // Most recently used last, so that the oldest is the one dropped.
    recurring.delete(key);
  } else {
    cert = { ...parseCert(der), verifiedBy: new Set() };
    if (recurring.size >= RECURRING_LIMIT) recurring.delete(recurring.keys().next().value!);
  }
  recurring.set(key, cert);
  return cert;
}

export function extension(cert: ParsedCert, oid: string): { critical: boolean; value: Buffer } | undefined {
  const ext = cert.asn.tbsCertificate.extensions?.find((e) => e.extnID === oid);
  return ext && { critical: ext.critical, value: Buffer.from(ext.extnValue.buffer) };
}

function basicConstraints(cert: ParsedCert): BasicConstraints | undefined {
  const ext = extension(cert, '2.5.29.19');
  return ext && AsnConvert.parse(ext.value, BasicConstraints);
}

function keyUsage(cert: ParsedCert): number | undefined {
  const ext = extension(cert, '2.5.29.15');
  return ext && AsnConvert.parse(ext.value, KeyUsage).toNumber();
}

export interface VerifyOptions {
  /** The verification time. */
  at: Date;
  /** At most this many certificates between leaf and anchor. */
  maxIntermediates?: number;
  /**
   * Accept an intermediate that lacks basicConstraints (never one that says cA false). Only
   * for formats whose vendor ships such intermediates (some YubiKey f9 certificates).
   */
  allowIntermediateWithoutBasicConstraints?: boolean;
}

export interface VerifiedChain {
  /** Leaf first, the matched trust anchor last. */
  path: ParsedCert[];
  anchor: ParsedCert;
}

function checkValidity(c: ParsedCert, at: Date): void {
  const from = new Date(c.x509.validFrom);
  const to = new Date(c.x509.validTo);
  if (at < from) throw new ChainError(`certificate "${c.name}" is not valid before ${from.toISOString()} (checked at ${at.toISOString()})`);
  if (at > to) throw new ChainError(`certificate "${c.name}" expired at ${to.toISOString()} (checked at ${at.toISOString()})`);
}

function checkCriticalExtensions(c: ParsedCert): void {
  for (const e of c.asn.tbsCertificate.extensions ?? []) {
    if (e.critical && !KNOWN_EXTENSIONS.has(e.extnID)) throw new ChainError(`certificate "${c.name}" has an unsupported critical extension ${e.extnID}`);
  }
}

/** Can `issuer` sign certificates, with `below` CA certificates already under it in the path? */
function checkIssuer(issuer: ParsedCert, below: number, o: VerifyOptions, isAnchor: boolean): void {
  const bc = basicConstraints(issuer);
  if (!bc) {
    if (!isAnchor && !o.allowIntermediateWithoutBasicConstraints) throw new ChainError(`issuer "${issuer.name}" has no basicConstraints extension, so it is not a CA (RFC 5280 §4.2.1.9)`);
  } else {
    if (!bc.cA) throw new ChainError(`issuer "${issuer.name}" is not a CA (basicConstraints cA is false)`);
    if (bc.pathLenConstraint !== undefined && below > bc.pathLenConstraint) {
      throw new ChainError(`issuer "${issuer.name}" allows ${bc.pathLenConstraint} CA certificates below it, the path has ${below}`);
    }
  }
  const ku = keyUsage(issuer);
  if (ku !== undefined && !(ku & KeyUsageFlags.keyCertSign)) throw new ChainError(`issuer "${issuer.name}" may not sign certificates (keyUsage lacks keyCertSign)`);
}

/** 'yes', 'no' (not this issuer's name) or 'bad-signature' (the right name, a wrong signature). */
function signedBy(child: ParsedCert, issuer: ParsedCert): 'yes' | 'no' | 'bad-signature' {
  // Name chaining (RFC 5280 §6.1.3 (a)(4)); node also compares AKI/SKI when both are present.
  if (!child.x509.checkIssued(issuer.x509)) return 'no';
  if (child.verifiedBy?.has(issuer)) return 'yes';
  let verified: boolean;
  try {
    verified = child.x509.verify(issuer.x509.publicKey);
  } catch {
    verified = false;
  }
  if (!verified) return 'bad-signature';
  child.verifiedBy?.add(issuer);
  return 'yes';
}

const sameKey = (a: ParsedCert, b: ParsedCert): boolean => spkiOf(a).equals(spkiOf(b));

export function verifyChain(leafDer: Uint8Array, intermediatesDer: Uint8Array[], anchorsDer: Uint8Array[], o: VerifyOptions): VerifiedChain {
  if (!anchorsDer.length) throw new ChainError('no trust anchors are configured for this format');
  const leaf = parseCert(leafDer);
  const pool = intermediatesDer.map(parseRecurring);
  const anchors = anchorsDer.map(parseRecurring);
  const max = o.maxIntermediates ?? 4;

  checkValidity(leaf, o.at);
  checkCriticalExtensions(leaf);

  let lastProblem: string | undefined;
  const issuedBy = (child: ParsedCert, issuer: ParsedCert): boolean => {
    const r = signedBy(child, issuer);
    if (r === 'bad-signature') lastProblem = `the signature on "${child.name}" does not verify with the key of "${issuer.name}"`;
    return r === 'yes';
  };
  // Depth-first over candidate issuers; paths are short, pools are a handful of certificates.
  const extend = (path: ParsedCert[]): VerifiedChain | undefined => {
    const current = path.at(-1)!;
    const below = path.length - 1; // CA certificates already under the next issuer
    // A supplied certificate that is itself an anchor (same name and key) ends the path.
    for (const anchor of anchors) {
      if (path.length > 1 && sameKey(current, anchor) && current.x509.subject === anchor.x509.subject) {
        return { path: [...path.slice(0, -1), anchor], anchor };
      }
    }
    for (const anchor of anchors) {
      if (!issuedBy(current, anchor)) continue;
      try {
        checkIssuer(anchor, below, o, true);
        return { path: [...path, anchor], anchor };
      } catch (err) {
        lastProblem = (err as Error).message;
      }
    }
    if (below >= max) return undefined;
    for (const candidate of pool) {
      if (path.includes(candidate) || !issuedBy(current, candidate)) continue;
      try {
        checkValidity(candidate, o.at);
        checkCriticalExtensions(candidate);
        checkIssuer(candidate, below, o, false);
      } catch (err) {
        lastProblem = (err as Error).message;
        continue;
      }
      const found = extend([...path, candidate]);
      if (found) return found;
    }
    return undefined;
  };

  const found = extend([leaf]);
  if (!found) {
    throw new ChainError(lastProblem ?? `no path from "${leaf.name}" to a trusted root: the issuer "${(leaf.x509.issuer ?? '').replace(/\n/g, ', ')}" is neither supplied nor trusted`);
  }
  return found;
}
