// The only holder of the signing key (DESIGN.md): builds and signs end-entity certificates, the
// delegated OCSP signing certificate, and CRLs. The profile follows what ACME clients expect from
// Let's Encrypt (Boulder): SANs exactly the order's identifiers, CN the first DNS name, CA:FALSE,
// EKU serverAuth + clientAuth, and where to find revocation status (CRL DP, AIA OCSP and caIssuers).
import { createHash, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import type { Identifier } from '../core.js';
import { certificateFields } from '../pki/der.js';
import { checkAlternateChains } from './alternate-chains.js';
import { signCrl, type CrlContent, type CrlSigner } from './crl.js';
import { type Hierarchy } from './hierarchy.js';
import { issuerConstants, leafTbs, ocspSignerTbs, signCertificate, type IssuerConstants } from './leaf.js';

/** Where relying parties find revocation status; written into every certificate issued. */
export interface StatusUrls {
  /** The CRL of the issuer with this id (RFC 5280 §4.2.1.13). */
  crl(issuerId: string): string;
  /** The OCSP responder (RFC 5280 §4.2.2.1, id-ad-ocsp). */
  readonly ocsp: string;
  /** The issuer's certificate, DER (RFC 5280 §4.2.2.1, id-ad-caIssuers). */
  readonly issuerCert: string;
}

export interface LeafRequest {
  serial: string;
  /** DER SubjectPublicKeyInfo of the subscriber's key. */
  spki: Buffer;
  identifiers: Identifier[];
  notBefore: Date;
  notAfter: Date;
  /**
   * server: a TLS certificate for dns/ip names (EKU serverAuth + clientAuth). device: a device
   * identity for permanent-identifier / hardware-module (EKU clientAuth), the identifier in an
   * otherName SAN (draft-ietf-acme-device-attest §3, §4), or, with `privacy`, not at all.
   */
  profile: 'server' | 'device';
  privacy?: boolean;
  /**
   * How a server certificate departs from the built-in profile, from the order's acme.profiles
   * entry (draft-ietf-acme-profiles); absent: EKU serverAuth + clientAuth, keyEncipherment for
   * RSA keys, CN the first DNS name. Device certificates keep their own profile.
   */
  usage?: CertificateUsage;
}

export interface CertificateUsage {
  extendedKeyUsage: readonly ('serverAuth' | 'clientAuth')[];
  keyEncipherment: boolean;
  omitCommonName: boolean;
}

export interface OcspSignerRequest {
  serial: string;
  spki: Buffer;
  notBefore: Date;
  notAfter: Date;
}

export class CertificateAuthority {
  private issuerX509: X509Certificate | undefined;

  private constructor(
    private readonly hierarchy: Hierarchy,
    /** The issuer's Name, key, signature algorithm and the extensions it writes into every certificate (ca/leaf.ts). */
    private readonly issuer: IssuerConstants,
    /** Stable name of this issuer in URLs: 16 hex digits of SHA-256 over its SubjectPublicKeyInfo. */
    readonly issuerId: string,
    /** PEM of each alternate chain (ca.alternateChains): what follows a leaf at the certificate URL + "/n". */
    readonly alternateChainsPem: readonly string[],
    private readonly crlSigner: CrlSigner,
  ) {}

  /** `alternateChains`: the ca.alternateChains files, checked against the issuer here (ca/alternate-chains.ts). */
  static async create(hierarchy: Hierarchy, urls: StatusUrls, alternateChains: readonly { file: string; pem: string }[] = []): Promise<CertificateAuthority> {
    const alternateChainsPem = checkAlternateChains(Buffer.from(hierarchy.issuerCert.rawData), alternateChains);
    const issuerSpki = createPublicKey(hierarchy.issuerKey).export({ type: 'spki', format: 'der' });
    const issuerId = createHash('sha256').update(issuerSpki).digest('hex').slice(0, 16);
    // The issuer's Name goes into certificates and CRLs as its certificate spells it, so that relying
    // parties match them to the issuer byte for byte (RFC 5280 §4.1.2.4, §5.1.2.3, §7.1).
    const issuerName = certificateFields(new Uint8Array(hierarchy.issuerCert.rawData)).subject;
    const issuer = issuerConstants(issuerName, hierarchy.issuerKey, { crl: urls.crl(issuerId), ocsp: urls.ocsp, caIssuers: urls.issuerCert });
    const crlSigner: CrlSigner = { issuerName, aki: issuer.aki, key: hierarchy.issuerKey };
    return new CertificateAuthority(hierarchy, issuer, issuerId, alternateChainsPem, crlSigner);
  }

  get rootsPem(): string {
    return this.hierarchy.rootsPem;
  }

  /** Issuer plus any certificates above it, short of the root: what follows a leaf in a chain. */
  get intermediatesPem(): string {
    return this.hierarchy.intermediatesPem;
  }

  get issuerNotAfter(): Date {
    return this.hierarchy.issuerCert.notAfter;
  }

  /** The issuing intermediate's certificate, DER (served at the AIA caIssuers URL). */
  get issuerDer(): Buffer {
    return Buffer.from(this.hierarchy.issuerCert.rawData);
  }

  /** Did this issuer sign the certificate? Names, key identifiers and the signature must all agree. */
  issued(der: Buffer): boolean {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(der);
    } catch {
      return false;
    }
    this.issuerX509 ??= new X509Certificate(this.issuerDer);
    return cert.checkIssued(this.issuerX509) && cert.verify(this.issuerX509.publicKey);
  }

  /** A subscriber's certificate (ca/leaf.ts has the profile), signed by the issuer's key. */
  async issue(req: LeafRequest): Promise<Buffer> {
    return signCertificate(this.issuer, leafTbs(this.issuer, req));
  }

  /**
   * The delegated OCSP signing certificate (RFC 6960 §4.2.2.2): issued directly by this issuer,
   * EKU id-kp-OCSPSigning only, and id-pkix-ocsp-nocheck (§4.2.2.2.1) because a responder cannot
   * vouch for its own certificate; it is kept short-lived instead (config ocsp.signerValidity).
   */
  async issueOcspSigner(req: OcspSignerRequest): Promise<Buffer> {
    const cn = this.hierarchy.issuerCert.subjectName.getField('CN')[0] ?? 'attestca';
    return signCertificate(this.issuer, ocspSignerTbs(this.issuer, req, cn));
  }

  /** A CRL of this issuer (RFC 5280 §5), signed by the intermediate's key. */
  signCrl(content: CrlContent): Promise<Buffer> {
    return signCrl(this.crlSigner, content);
  }
}

export type { KeyObject };
