// The device simulator's stand-in for Apple's attestation PKI: a root and a "Sub CA" shaped like
// Apple Enterprise Attestation Root CA and Sub CA 1 (ECDSA P-384, ecdsa-with-SHA384; root
// basicConstraints CA:TRUE without pathLen; Sub CA pathLen 0; keyUsage keyCertSign+cRLSign;
// test/fixtures/apple/README.md lists the real ones). A server trusts it only when configured to
// (`attestca serve --attestation-root apple=DIR/root.pem`).
//
// TEST MATERIAL: the keys are written as UNENCRYPTED PKCS #8 PEM so that tests and MDM developers
// can use them without a passphrase. Whoever holds sub.key.pem can forge attestations for any
// serial number, so this root must never be trusted by a production CA.
//
// Files in DIR:  root.pem  root.key.pem  sub.pem  sub.key.pem  README.txt
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fromPem, toPem } from '../pki/pem.js';
import { x509 } from '../pki/x509.js';
import { ecSigner, type AttestationIssuer } from './attestation.js';

export const ROOT_CN = 'attestca Device Simulator Root';
export const SUB_CA_CN = 'attestca Device Simulator Attestation Sub CA';
// UTF8String, as in Apple's CA names.
const caName = (cn: string) => new x509.Name([{ CN: [{ utf8String: cn }] }, { O: [{ utf8String: 'attestca' }] }]);

export class SimHierarchyError extends Error {
  override name = 'SimHierarchyError';
}

export const simFiles = (dir: string) => ({
  root: path.join(dir, 'root.pem'),
  rootKey: path.join(dir, 'root.key.pem'),
  sub: path.join(dir, 'sub.pem'),
  subKey: path.join(dir, 'sub.key.pem'),
  readme: path.join(dir, 'README.txt'),
});

export interface SimHierarchy {
  rootDer: Buffer;
  subDer: Buffer;
  subKey: KeyObject;
}

const YEAR = 365 * 86_400_000;

/** 20 random bytes with the top bit clear, like Apple's CA serials (RFC 5280 §4.1.2.2: positive, ≤ 20 octets). */
function caSerial(): string {
  const b = randomBytes(20);
  b[0] = (b[0]! & 0x7f) | 0x01;
  return b.toString('hex');
}

const README = `attestca device simulator: TEST attestation hierarchy

root.pem       "attestca Device Simulator Root" (trust anchor for a TEST server:
               attestca serve --attestation-root apple=<this dir>/root.pem)
sub.pem        "attestca Device Simulator Attestation Sub CA" (sent in x5c after the leaf)
*.key.pem      UNENCRYPTED private keys. Anyone holding sub.key.pem can forge a device
               attestation for any serial number that a server trusting root.pem accepts.
               Never configure this root on a production CA.
`;

/** Builds the root and Sub CA in memory (pure apart from key generation). */
export async function buildSimHierarchy(now: Date): Promise<{ rootDer: Buffer; rootKey: KeyObject; subDer: Buffer; subKey: KeyObject }> {
  const rootKey = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
  const subKey = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
  const rootPublic = await x509.PublicKey.create(createPublicKey(rootKey).export({ type: 'spki', format: 'der' }));
  const subPublic = await x509.PublicKey.create(createPublicKey(subKey).export({ type: 'spki', format: 'der' }));
  const signer = await ecSigner(rootKey);
  const caUsage = new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true);
  const root = await x509.X509CertificateGenerator.create({
    serialNumber: caSerial(),
    subject: caName(ROOT_CN),
    issuer: caName(ROOT_CN),
    notBefore: now,
    notAfter: new Date(now.getTime() + 20 * YEAR),
    publicKey: rootPublic,
    signingKey: signer.cryptoKey,
    signingAlgorithm: signer.algorithm,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true), await x509.SubjectKeyIdentifierExtension.create(rootPublic), caUsage],
  });
  const sub = await x509.X509CertificateGenerator.create({
    serialNumber: caSerial(),
    subject: caName(SUB_CA_CN),
    issuer: root.subjectName,
    notBefore: now,
    notAfter: new Date(now.getTime() + 10 * YEAR),
    publicKey: subPublic,
    signingKey: signer.cryptoKey,
    signingAlgorithm: signer.algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      await x509.AuthorityKeyIdentifierExtension.create(rootPublic),
      await x509.SubjectKeyIdentifierExtension.create(subPublic),
      caUsage,
    ],
  });
  return { rootDer: Buffer.from(root.rawData), rootKey, subDer: Buffer.from(sub.rawData), subKey };
}

export function simHierarchyExists(dir: string): boolean {
  const f = simFiles(dir);
  return [f.root, f.rootKey, f.sub, f.subKey].some((file) => existsSync(file));
}

/** Writes a new hierarchy to `dir`; never overwrites one (not even part of one). */
export async function initSimHierarchy(dir: string, now: Date): Promise<ReturnType<typeof simFiles>> {
  const f = simFiles(dir);
  if (simHierarchyExists(dir)) throw new SimHierarchyError(`a simulator hierarchy already exists in ${dir}; it is never overwritten: remove that directory or choose another with --dir`);
  const h = await buildSimHierarchy(now);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // 'wx' fails if the file appeared meanwhile: two inits racing do not mix their files.
  const write = (file: string, text: string, mode = 0o644) => writeFileSync(file, text, { flag: 'wx', mode });
  write(f.root, toPem(h.rootDer));
  write(f.sub, toPem(h.subDer));
  write(f.rootKey, h.rootKey.export({ type: 'pkcs8', format: 'pem' }) as string, 0o600);
  write(f.subKey, h.subKey.export({ type: 'pkcs8', format: 'pem' }) as string, 0o600);
  if (!existsSync(f.readme)) write(f.readme, README);
  return f;
}

/** Reads what the simulator needs to issue attestation leaves, checking the files belong together. */
export function loadSimHierarchy(dir: string): SimHierarchy {
  const f = simFiles(dir);
  const read = (file: string) => {
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new SimHierarchyError(`${file} cannot be read (${code})${code === 'ENOENT' ? `; create the hierarchy first: attestca device-sim init --dir ${dir}` : ''}`);
    }
  };
  const [rootDer] = fromPem(read(f.root));
  const [subDer] = fromPem(read(f.sub));
  if (!rootDer || !subDer) throw new SimHierarchyError(`${f.root} and ${f.sub} must each hold a PEM certificate`);
  let subKey: KeyObject;
  try {
    subKey = createPrivateKey(read(f.subKey));
  } catch (err) {
    if (err instanceof SimHierarchyError) throw err;
    throw new SimHierarchyError(`${f.subKey} is not an unencrypted private key: ${(err as Error).message}`);
  }
  const sub = new x509.X509Certificate(subDer);
  if (!Buffer.from(sub.publicKey.rawData).equals(createPublicKey(subKey).export({ type: 'spki', format: 'der' }))) {
    throw new SimHierarchyError(`${f.subKey} does not belong to ${f.sub}`);
  }
  return { rootDer, subDer, subKey };
}

/** The Sub CA as the attestation builder wants it. */
export const issuerOf = (h: SimHierarchy): AttestationIssuer => ({ certDer: h.subDer, key: h.subKey });
