// The only holder of the signing key (DESIGN.md): builds and signs end-entity certificates.
// The profile follows what ACME clients expect from Let's Encrypt (Boulder): SANs exactly the
// order's identifiers, CN the first DNS name, CA:FALSE, EKU serverAuth + clientAuth.
import { createPublicKey, type KeyObject, type webcrypto } from 'node:crypto';
import { x509 } from '../pki/x509.js';
import type { Identifier } from '../core.js';
import { type Hierarchy } from './hierarchy.js';
import { toSigningKey } from './keys.js';

export interface LeafRequest {
  serial: string;
  /** DER SubjectPublicKeyInfo of the subscriber's key. */
  spki: Buffer;
  identifiers: Identifier[];
  notBefore: Date;
  notAfter: Date;
}

export class CertificateAuthority {
  private constructor(
    private readonly hierarchy: Hierarchy,
    private readonly signer: { cryptoKey: webcrypto.CryptoKey; algorithm: webcrypto.Algorithm },
    private readonly aki: InstanceType<typeof x509.AuthorityKeyIdentifierExtension>,
  ) {}

  static async create(hierarchy: Hierarchy): Promise<CertificateAuthority> {
    const signer = await toSigningKey(hierarchy.issuerKey);
    const issuerPublic = await x509.PublicKey.create(createPublicKey(hierarchy.issuerKey).export({ type: 'spki', format: 'der' }));
    const aki = await x509.AuthorityKeyIdentifierExtension.create(issuerPublic);
    return new CertificateAuthority(hierarchy, signer, aki);
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

  async issue(req: LeafRequest): Promise<Buffer> {
    const publicKey = await x509.PublicKey.create(req.spki);
    const keyType = createPublicKey({ key: req.spki, format: 'der', type: 'spki' }).asymmetricKeyType;
    // RFC 5280 §4.2.1.3: key encipherment only makes sense for RSA keys (TLS RSA key exchange).
    const usages = x509.KeyUsageFlags.digitalSignature | (keyType === 'rsa' ? x509.KeyUsageFlags.keyEncipherment : 0);
    const firstDns = req.identifiers.find((i) => i.type === 'dns' && i.value.length <= 64);
    // RFC 5280 §4.2.1.6: with an empty subject the SAN extension must be critical.
    const subject = firstDns ? [{ CN: [firstDns.value] }] : [];
    const names = req.identifiers.map((i) => ({ type: i.type === 'ip' ? 'ip' : 'dns', value: i.value }) as const);
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: req.serial,
      subject,
      issuer: this.hierarchy.issuerCert.subjectName,
      notBefore: req.notBefore,
      notAfter: req.notAfter,
      publicKey,
      signingKey: this.signer.cryptoKey,
      signingAlgorithm: this.signer.algorithm,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(usages, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth], false),
        await x509.SubjectKeyIdentifierExtension.create(publicKey),
        this.aki,
        new x509.SubjectAlternativeNameExtension(names, subject.length === 0),
      ],
    });
    return Buffer.from(cert.rawData);
  }
}

export type { KeyObject };
