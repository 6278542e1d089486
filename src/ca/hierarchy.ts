// The CA's certificates and keys on disk, under <dataDir>/ca:
//   roots.pem        the root certificate(s) clients trust (served at /ca/roots.pem)
//   issuer.pem       the intermediate that signs end-entity certificates
//   issuer.key.pem   its private key, encrypted PKCS #8
//   chain.pem        certificates between the issuer and the root, if any (imported hierarchies)
//   root.key.pem     the root's private key, encrypted, when attestca made the root
// `attestca init` creates a root and an intermediate, or imports an intermediate a company's own
// root has signed. Only ca/ reads the keys (STYLE.md habit 1).
import { X509Certificate as NodeCert, createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { x509 } from '../pki/x509.js';
import type { KeyType } from '../config-schema.js';
import { fromPem, toPem } from '../pki/pem.js';
import { decryptKey, encryptKey, generateKey, KeyError, toSigningKey } from './keys.js';


export const caFiles = (dir: string) => ({
  roots: path.join(dir, 'roots.pem'),
  issuer: path.join(dir, 'issuer.pem'),
  issuerKey: path.join(dir, 'issuer.key.pem'),
  chain: path.join(dir, 'chain.pem'),
  rootKey: path.join(dir, 'root.key.pem'),
  devPassphrase: path.join(dir, 'dev-passphrase'),
});

export interface Hierarchy {
  issuerCert: x509.X509Certificate;
  issuerKey: KeyObject;
  /** PEM of the issuer and any certificates above it short of the root. */
  intermediatesPem: string;
  rootsPem: string;
}

export function hierarchyExists(dir: string): boolean {
  return existsSync(caFiles(dir).issuer);
}

const YEAR = 365 * 86_400_000;

/** 16 random bytes with the top bit clear: a positive INTEGER of up to 127 bits (RFC 5280 §4.1.2.2). */
export function newSerial(): string {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x01;
  return b.toString('hex');
}

function writeSecret(file: string, text: string): void {
  writeFileSync(file, text, { mode: 0o600 });
  chmodSync(file, 0o600);
}

export interface CreateOptions {
  dir: string;
  keyType: KeyType;
  passphrase: string;
  organization: string;
  now: Date;
}

/** A new root (20 years) and intermediate (10 years, pathLen 0), both keys encrypted. */
export async function createHierarchy(o: CreateOptions): Promise<Hierarchy> {
  mkdirSync(o.dir, { recursive: true, mode: 0o700 });
  const rootKeys = generateKey(o.keyType);
  const issuerKeys = generateKey(o.keyType);
  const rootSigner = await toSigningKey(rootKeys.privateKey);
  const rootPublic = await x509.PublicKey.create(rootKeys.publicKey.export({ type: 'spki', format: 'der' }));
  const issuerPublic = await x509.PublicKey.create(issuerKeys.publicKey.export({ type: 'spki', format: 'der' }));
  const rootName = `CN=${o.organization} Root CA, O=${o.organization}`;
  const issuerName = `CN=${o.organization} Intermediate CA, O=${o.organization}`;
  const caUsages = x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature;

  const root = await x509.X509CertificateGenerator.create({
    serialNumber: newSerial(),
    subject: rootName,
    issuer: rootName,
    notBefore: o.now,
    notAfter: new Date(o.now.getTime() + 20 * YEAR),
    publicKey: rootPublic,
    signingKey: rootSigner.cryptoKey,
    signingAlgorithm: rootSigner.algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(caUsages, true),
      await x509.SubjectKeyIdentifierExtension.create(rootPublic),
    ],
  });
  const issuer = await x509.X509CertificateGenerator.create({
    serialNumber: newSerial(),
    subject: issuerName,
    issuer: rootName,
    notBefore: o.now,
    notAfter: new Date(o.now.getTime() + 10 * YEAR),
    publicKey: issuerPublic,
    signingKey: rootSigner.cryptoKey,
    signingAlgorithm: rootSigner.algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(caUsages, true),
      await x509.SubjectKeyIdentifierExtension.create(issuerPublic),
      await x509.AuthorityKeyIdentifierExtension.create(rootPublic),
    ],
  });

  const f = caFiles(o.dir);
  writeFileSync(f.roots, root.toString('pem') + '\n');
  writeFileSync(f.issuer, issuer.toString('pem') + '\n');
  writeFileSync(f.chain, '');
  writeSecret(f.rootKey, encryptKey(rootKeys.privateKey, o.passphrase));
  writeSecret(f.issuerKey, encryptKey(issuerKeys.privateKey, o.passphrase));
  return loadHierarchy(o.dir, o.passphrase);
}

export interface ImportOptions {
  dir: string;
  certPem: string;
  keyPem: string;
  /** Passphrase of the key being imported, when it is encrypted. */
  keyPassphrase: string | undefined;
  /** Certificates above the imported one, up to and including the root. */
  chainPem: string;
  passphrase: string;
  now: Date;
}

/** Adopts an intermediate signed by someone else's root, after checking it can serve as one. */
export function importHierarchy(o: ImportOptions): void {
  const [certDer, ...extra] = fromPem(o.certPem);
  if (!certDer || extra.length) throw new KeyError('the certificate file must hold exactly one certificate: the intermediate attestca will sign with');
  const cert = new NodeCert(certDer);
  const key = decryptKey(o.keyPem, o.keyPassphrase ?? o.passphrase, 'the imported key');
  const keySpki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  if (!keySpki.equals(cert.publicKey.export({ type: 'spki', format: 'der' }))) throw new KeyError('the imported key does not belong to the imported certificate');
  if (!cert.ca) throw new KeyError('the imported certificate is not a CA certificate (basicConstraints cA is not true)');
  if (new Date(cert.validTo) <= o.now) throw new KeyError(`the imported certificate expired on ${cert.validTo}`);

  const chain = fromPem(o.chainPem).map((d) => new NodeCert(d));
  if (!chain.length) throw new KeyError('the chain file must hold the certificates above the intermediate, ending with the root');
  let child = cert;
  for (const parent of chain) {
    if (!child.checkIssued(parent) || !child.verify(parent.publicKey)) {
      throw new KeyError(`"${child.subject.replace(/\n/g, ', ')}" is not signed by the next certificate in the chain, "${parent.subject.replace(/\n/g, ', ')}"`);
    }
    child = parent;
  }
  const root = chain.at(-1)!;
  if (!root.checkIssued(root) || !root.verify(root.publicKey)) throw new KeyError('the last certificate of the chain must be a self-signed root');

  mkdirSync(o.dir, { recursive: true, mode: 0o700 });
  const f = caFiles(o.dir);
  writeFileSync(f.roots, root.toString());
  writeFileSync(f.issuer, cert.toString());
  writeFileSync(f.chain, chain.slice(0, -1).map((c) => c.toString()).join(''));
  writeSecret(f.issuerKey, encryptKey(key, o.passphrase));
}

export function loadHierarchy(dir: string, passphrase: string | undefined): Hierarchy {
  const f = caFiles(dir);
  const issuerPem = readFileSync(f.issuer, 'utf8');
  const chainPem = existsSync(f.chain) ? readFileSync(f.chain, 'utf8') : '';
  const issuerKey = decryptKey(readFileSync(f.issuerKey, 'utf8'), passphrase, `the CA key ${f.issuerKey}`);
  const issuerCert = new x509.X509Certificate(issuerPem);
  const certSpki = Buffer.from(issuerCert.publicKey.rawData);
  if (!certSpki.equals(createPublicKey(issuerKey).export({ type: 'spki', format: 'der' }))) {
    throw new KeyError(`${f.issuerKey} does not belong to ${f.issuer}`);
  }
  const intermediatesPem = [issuerPem, chainPem].map((p) => fromPem(p).map((d) => toPem(d)).join('')).join('');
  return { issuerCert, issuerKey, intermediatesPem, rootsPem: readFileSync(f.roots, 'utf8') };
}

/** Development mode: a hierarchy whose passphrase sits beside it, made by `serve` on an empty data dir. */
export async function createDevHierarchy(dir: string, now: Date): Promise<Hierarchy> {
  const passphrase = randomBytes(24).toString('base64url');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeSecret(caFiles(dir).devPassphrase, passphrase + '\n');
  return createHierarchy({ dir, keyType: 'ec-p256', passphrase, organization: 'attestca Development', now });
}

export function devPassphrase(dir: string): string | undefined {
  const file = caFiles(dir).devPassphrase;
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined;
}
