// The only holder of the signing key (DESIGN.md): builds and signs end-entity certificates, the
// delegated OCSP signing certificate, and CRLs. The profile follows what ACME clients expect from
// Let's Encrypt (Boulder): SANs exactly the order's identifiers, CN the first DNS name, CA:FALSE,
// EKU serverAuth + clientAuth, and where to find revocation status (CRL DP, AIA OCSP and caIssuers).
import { createHash, createPublicKey, X509Certificate, type KeyObject, type webcrypto } from 'node:crypto';
import { x509 } from '../pki/x509.js';
import type { Identifier } from '../core.js';
import { OID } from '../pki/oids.js';
import { generalNames, hardwareModuleName, permanentIdentifierName } from '../pki/othernames.js';
import { certificateFields } from '../pki/der.js';
import { checkAlternateChains } from './alternate-chains.js';
import { signCrl, type CrlContent, type CrlSigner } from './crl.js';
import { type Hierarchy } from './hierarchy.js';
import { toSigningKey } from './keys.js';

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
    private readonly signer: { cryptoKey: webcrypto.CryptoKey; algorithm: webcrypto.Algorithm },
    private readonly aki: InstanceType<typeof x509.AuthorityKeyIdentifierExtension>,
    /** Stable name of this issuer in URLs: 16 hex digits of SHA-256 over its SubjectPublicKeyInfo. */
    readonly issuerId: string,
    private readonly statusExtensions: InstanceType<typeof x509.Extension>[],
    /** PEM of each alternate chain (ca.alternateChains): what follows a leaf at the certificate URL + "/n". */
    readonly alternateChainsPem: readonly string[],
    private readonly crlSigner: CrlSigner,
  ) {}

  /** `alternateChains`: the ca.alternateChains files, checked against the issuer here (ca/alternate-chains.ts). */
  static async create(hierarchy: Hierarchy, urls: StatusUrls, alternateChains: readonly { file: string; pem: string }[] = []): Promise<CertificateAuthority> {
    const alternateChainsPem = checkAlternateChains(Buffer.from(hierarchy.issuerCert.rawData), alternateChains);
    const signer = await toSigningKey(hierarchy.issuerKey);
    const issuerSpki = createPublicKey(hierarchy.issuerKey).export({ type: 'spki', format: 'der' });
    const issuerPublic = await x509.PublicKey.create(issuerSpki);
    const aki = await x509.AuthorityKeyIdentifierExtension.create(issuerPublic);
    const issuerId = createHash('sha256').update(issuerSpki).digest('hex').slice(0, 16);
    const statusExtensions = [
      new x509.CRLDistributionPointsExtension([urls.crl(issuerId)], false),
      new x509.AuthorityInfoAccessExtension({ ocsp: urls.ocsp, caIssuers: urls.issuerCert }, false),
    ];
    // The issuer's Name goes into the CRL as its certificate spells it, so that relying parties
    // match the CRL to the certificate byte for byte (RFC 5280 §5.1.2.3, §7.1).
    const crlSigner: CrlSigner = { issuerName: certificateFields(new Uint8Array(hierarchy.issuerCert.rawData)).subject, aki: Buffer.from(aki.rawData), key: hierarchy.issuerKey };
    return new CertificateAuthority(hierarchy, signer, aki, issuerId, statusExtensions, alternateChainsPem, crlSigner);
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

  async issue(req: LeafRequest): Promise<Buffer> {
    const publicKey = await x509.PublicKey.create(req.spki);
    const keyType = createPublicKey({ key: req.spki, format: 'der', type: 'spki' }).asymmetricKeyType;
    const usage = req.profile === 'server' ? req.usage : undefined;
    // RFC 5280 §4.2.1.3: key encipherment only makes sense for RSA keys (TLS RSA key exchange);
    // a profile may leave it out, as Let's Encrypt's do since TLS 1.3 has no RSA key exchange.
    const encipherment = keyType === 'rsa' && (usage?.keyEncipherment ?? true);
    const usages = x509.KeyUsageFlags.digitalSignature | (encipherment ? x509.KeyUsageFlags.keyEncipherment : 0);
    const { subject, san, eku } = req.profile === 'device' ? await deviceNames(req) : serverNames(req);
    return this.sign(req, subject, publicKey, [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(usages, true),
      new x509.ExtendedKeyUsageExtension(eku, false),
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
      this.aki,
      ...(san ? [san] : []),
      ...this.statusExtensions,
    ]);
  }

  /**
   * The delegated OCSP signing certificate (RFC 6960 §4.2.2.2): issued directly by this issuer,
   * EKU id-kp-OCSPSigning only, and id-pkix-ocsp-nocheck (§4.2.2.2.1) because a responder cannot
   * vouch for its own certificate; it is kept short-lived instead (config ocsp.signerValidity).
   */
  async issueOcspSigner(req: OcspSignerRequest): Promise<Buffer> {
    const publicKey = await x509.PublicKey.create(req.spki);
    const cn = this.hierarchy.issuerCert.subjectName.getField('CN')[0] ?? 'attestca';
    return this.sign(req, [{ CN: [`${cn} OCSP Responder`] }], publicKey, [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([OID.ocspSigning], false),
      // id-pkix-ocsp-nocheck: extnValue is NULL (05 00).
      new x509.Extension(OID.ocspNoCheck, false, new Uint8Array([0x05, 0x00])),
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
      this.aki,
    ]);
  }

  /** Signs an end-entity certificate with the issuer's key. */
  private async sign(
    validity: { serial: string; notBefore: Date; notAfter: Date },
    subject: { CN: string[] }[],
    publicKey: InstanceType<typeof x509.PublicKey>,
    extensions: InstanceType<typeof x509.Extension>[],
  ): Promise<Buffer> {
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: validity.serial,
      subject,
      issuer: this.hierarchy.issuerCert.subjectName,
      notBefore: validity.notBefore,
      notAfter: validity.notAfter,
      publicKey,
      signingKey: this.signer.cryptoKey,
      signingAlgorithm: this.signer.algorithm,
      extensions,
    });
    return Buffer.from(cert.rawData);
  }

  /** A CRL of this issuer (RFC 5280 §5), signed by the intermediate's key. */
  signCrl(content: CrlContent): Promise<Buffer> {
    return signCrl(this.crlSigner, content);
  }
}

type Names = { subject: { CN: string[] }[]; san: InstanceType<typeof x509.Extension> | undefined; eku: string[] };

function serverNames(req: LeafRequest): Names {
  // CA/B Forum BR §7.1.4.3: the CN is optional and, when present, one of the SANs.
  const firstDns = req.usage?.omitCommonName ? undefined : req.identifiers.find((i) => i.type === 'dns' && i.value.length <= 64);
  // RFC 5280 §4.2.1.6: with an empty subject the SAN extension must be critical.
  const subject = firstDns ? [{ CN: [firstDns.value] }] : [];
  const names = req.identifiers.map((i) => ({ type: i.type === 'ip' ? 'ip' : 'dns', value: i.value }) as const);
  const eku = (req.usage?.extendedKeyUsage ?? ['serverAuth', 'clientAuth']).map((u) => x509.ExtendedKeyUsage[u]);
  return { subject, san: new x509.SubjectAlternativeNameExtension(names, subject.length === 0), eku };
}

async function deviceNames(req: LeafRequest): Promise<Names> {
  const eku = [x509.ExtendedKeyUsage.clientAuth];
  if (req.privacy) {
    // The certificate does not name the device; its CN is the key's own hash, as Apple's
    // attestation leaves do, so that it is still told apart from others.
    const hash = Buffer.from(await crypto.subtle.digest('SHA-256', req.spki)).toString('hex');
    return { subject: [{ CN: [hash] }], san: undefined, eku };
  }
  const id = req.identifiers[0]!;
  const subject = id.value.length <= 64 ? [{ CN: [id.value] }] : [];
  const der = generalNames(req.identifiers.map((i) => (i.type === 'hardware-module' ? hardwareModuleName(i.value) : permanentIdentifierName(i.value))));
  return { subject, san: new x509.Extension('2.5.29.17', subject.length === 0, der), eku };
}

export type { KeyObject };
