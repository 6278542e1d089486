// The delegated OCSP signing certificate and its key on disk: <dataDir>/ca/ocsp-responder.pem holds
// the certificate followed by the key as encrypted PKCS #8 (the CA passphrase, as for issuer.key.pem),
// so `openssl x509 -in` and `openssl pkey -in … -passin file:…` both read it. One file, replaced with
// an atomic rename, so instances sharing the data directory never read a certificate with another
// instance's key. ra/ocsp-signer.ts decides when to make a new one; only ca/ touches the key.
import { X509Certificate, createPublicKey, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fromPem, toPem } from '../pki/pem.js';
import { decryptKey, encryptKey, generateKey } from './keys.js';
import type { CertificateAuthority, OcspSignerRequest } from './authority.js';
import type { OcspResponder, OcspSigner } from './ocsp.js';

export class OcspSignerStore {
  readonly file: string;

  constructor(
    caDir: string,
    private readonly passphrase: string | undefined,
  ) {
    this.file = path.join(caDir, 'ocsp-responder.pem');
  }

  /**
   * Puts the stored signer to use when it is valid now and has more than `minRemainingMs` left.
   * Returns false when there is none, or a problem with it (then the caller makes a new one).
   */
  useStored(responder: OcspResponder, now: Date, minRemainingMs: number): { used: boolean; problem?: string } {
    const stored = this.load();
    if (!stored) return { used: false };
    if ('problem' in stored) return { used: false, problem: stored.problem };
    if (stored.notBefore > now || stored.signer.notAfter.getTime() - now.getTime() <= minRemainingMs) return { used: false };
    responder.use(stored.signer);
    return { used: true };
  }

  private load(): { signer: OcspSigner; notBefore: Date } | { problem: string } | undefined {
    if (!existsSync(this.file)) return undefined;
    try {
      const text = readFileSync(this.file, 'utf8');
      const [certDer] = fromPem(text);
      if (!certDer) return { problem: 'it holds no certificate' };
      const cert = new X509Certificate(certDer);
      const keyPem = /-----BEGIN (ENCRYPTED )?PRIVATE KEY-----[\s\S]*?-----END (ENCRYPTED )?PRIVATE KEY-----/.exec(text)?.[0];
      if (!keyPem) return { problem: 'it holds no private key' };
      const key = decryptKey(keyPem, this.passphrase, this.file);
      const certSpki = cert.publicKey.export({ type: 'spki', format: 'der' });
      if (!certSpki.equals(createPublicKey(key).export({ type: 'spki', format: 'der' }))) return { problem: 'its key does not belong to its certificate' };
      return { signer: { certDer, key, notAfter: new Date(cert.validTo) }, notBefore: new Date(cert.validFrom) };
    } catch (err) {
      return { problem: (err as Error).message };
    }
  }

  save(signer: OcspSigner): void {
    if (!this.passphrase) throw new Error('the OCSP signing key cannot be stored without the CA passphrase');
    const text = toPem(signer.certDer) + encryptKey(signer.key, this.passphrase);
    const tmp = `${this.file}.${randomBytes(6).toString('hex')}.tmp`;
    writeFileSync(tmp, text, { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.file);
  }
}

/**
 * Makes a new signing certificate: a fresh EC P-256 key (whatever the intermediate's key type),
 * the certificate from the intermediate, the file, and the responder switched over to it. The
 * caller has recorded the serial first. Returns the certificate; the key stays in ca/.
 */
export async function renewOcspSigner(ca: CertificateAuthority, store: OcspSignerStore, responder: OcspResponder, req: Omit<OcspSignerRequest, 'spki'>): Promise<Buffer> {
  const { privateKey, publicKey } = generateKey('ec-p256');
  const certDer = await ca.issueOcspSigner({ ...req, spki: publicKey.export({ type: 'spki', format: 'der' }) });
  // The certificate's own notAfter (whole seconds), as a stored signer read back would have it.
  const signer = { certDer, key: privateKey, notAfter: new Date(new X509Certificate(certDer).validTo) };
  store.save(signer);
  responder.use(signer);
  return certDer;
}
