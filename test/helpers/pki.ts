// Small certificate hierarchies for tests that need a chain the test controls (synthetic
// attestation statements, CAs with unusual properties), built with the CA's own X.509 library.
import { createPublicKey, generateKeyPairSync, webcrypto, type KeyObject } from 'node:crypto';
import { x509 } from '../../src/pki/x509.js';

export interface TestCert {
  der: Buffer;
  key: KeyObject;
  cert: InstanceType<typeof x509.X509Certificate>;
}

export interface CertSpec {
  subject: string;
  issuer?: TestCert;
  ca?: boolean | 'no-basic-constraints';
  pathLen?: number;
  key?: KeyObject;
  notBefore?: Date;
  notAfter?: Date;
  /** Extra extensions: [oid, critical, DER bytes of extnValue's content]. */
  extensions?: [string, boolean, Uint8Array][];
  /** Extra @peculiar/x509 extensions. */
  x509Extensions?: InstanceType<typeof x509.Extension>[];
}

const alg = (key: KeyObject) =>
  key.asymmetricKeyType === 'rsa'
    ? { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }
    : { name: 'ECDSA', namedCurve: key.asymmetricKeyDetails?.namedCurve === 'secp384r1' ? 'P-384' : 'P-256', hash: 'SHA-256' };

export async function makeCert(spec: CertSpec): Promise<TestCert> {
  const key = spec.key ?? generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const signer = spec.issuer?.key ?? key;
  const signingKey = await webcrypto.subtle.importKey('pkcs8', signer.export({ type: 'pkcs8', format: 'der' }), alg(signer), false, ['sign']);
  const publicKey = await x509.PublicKey.create(createPublicKey(key).export({ type: 'spki', format: 'der' }));
  const extensions: InstanceType<typeof x509.Extension>[] = [];
  if (spec.ca === true) {
    extensions.push(new x509.BasicConstraintsExtension(true, spec.pathLen, true));
    extensions.push(new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true));
  } else if (spec.ca === false || spec.ca === undefined) {
    extensions.push(new x509.BasicConstraintsExtension(false, undefined, true));
  }
  for (const [oid, critical, value] of spec.extensions ?? []) extensions.push(new x509.Extension(oid, critical, value));
  extensions.push(...(spec.x509Extensions ?? []));
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(8))).toString('hex').replace(/^[89a-f]/, '1'),
    subject: spec.subject,
    issuer: spec.issuer ? spec.issuer.cert.subject : spec.subject,
    notBefore: spec.notBefore ?? new Date(now - 3_600_000),
    notAfter: spec.notAfter ?? new Date(now + 86_400_000 * 365),
    publicKey,
    signingKey,
    signingAlgorithm: alg(signer),
    extensions,
  });
  return { der: Buffer.from(cert.rawData), key, cert };
}
