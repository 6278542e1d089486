// CSRs for tests, built with the same X.509 library the CA uses, from keys made by node:crypto.
import { generateKeyPairSync, webcrypto, type KeyObject } from 'node:crypto';
import { x509 } from '../../src/pki/x509.js';

export interface CsrOptions {
  dns?: string[];
  ips?: string[];
  emails?: string[];
  commonName?: string;
  key?: KeyObject;
  keyType?: 'ec-p256' | 'ec-p384' | 'ec-p521' | 'rsa-1024' | 'rsa-2048';
}

export function makeKey(type: NonNullable<CsrOptions['keyType']> = 'ec-p256'): KeyObject {
  if (type.startsWith('rsa')) return generateKeyPairSync('rsa', { modulusLength: Number(type.slice(4)) }).privateKey;
  return generateKeyPairSync('ec', { namedCurve: { 'ec-p256': 'P-256', 'ec-p384': 'P-384', 'ec-p521': 'P-521' }[type as 'ec-p256'] }).privateKey;
}

export async function makeCsr(o: CsrOptions): Promise<{ der: Buffer; b64url: string; key: KeyObject }> {
  const key = o.key ?? makeKey(o.keyType);
  const isRsa = key.asymmetricKeyType === 'rsa';
  const curve = key.asymmetricKeyDetails?.namedCurve;
  const alg = isRsa
    ? { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }
    : { name: 'ECDSA', namedCurve: curve === 'prime256v1' ? 'P-256' : curve === 'secp384r1' ? 'P-384' : 'P-521', hash: 'SHA-256' };
  const { createPublicKey } = await import('node:crypto');
  const privateKey = await webcrypto.subtle.importKey('pkcs8', key.export({ type: 'pkcs8', format: 'der' }), alg, false, ['sign']);
  const publicKey = await webcrypto.subtle.importKey('spki', createPublicKey(key).export({ type: 'spki', format: 'der' }), alg, true, ['verify']);
  const names = [...(o.dns ?? []).map((value) => ({ type: 'dns' as const, value })), ...(o.ips ?? []).map((value) => ({ type: 'ip' as const, value })), ...(o.emails ?? []).map((value) => ({ type: 'email' as const, value }))];
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: o.commonName ? `CN=${o.commonName}` : '',
    keys: { privateKey, publicKey },
    signingAlgorithm: alg,
    extensions: names.length ? [new x509.SubjectAlternativeNameExtension(names)] : [],
  });
  const der = Buffer.from(csr.rawData);
  return { der, b64url: der.toString('base64url'), key };
}
