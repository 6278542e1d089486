// CA key material: generation, encryption at rest, and loading into a signing key.
// Private keys are stored as encrypted PKCS #8 (RFC 5958, PBES2 with AES-256-CBC), the form
// `openssl pkey -passin` reads, so operators can inspect or move them with standard tools.
import { constants, createPrivateKey, generateKeyPairSync, sign, webcrypto, type KeyObject } from 'node:crypto';
import type { KeyType } from '../config-schema.js';
import { OID } from '../pki/oids.js';

export class KeyError extends Error {
  override name = 'KeyError';
}

export function generateKey(type: KeyType): { privateKey: KeyObject; publicKey: KeyObject } {
  switch (type) {
    case 'ec-p256':
      return generateKeyPairSync('ec', { namedCurve: 'P-256' });
    case 'ec-p384':
      return generateKeyPairSync('ec', { namedCurve: 'P-384' });
    case 'rsa-2048':
    case 'rsa-3072':
    case 'rsa-4096':
      return generateKeyPairSync('rsa', { modulusLength: Number(type.slice(4)), publicExponent: 0x10001 });
  }
}

export function encryptKey(key: KeyObject, passphrase: string): string {
  return key.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase }) as string;
}

export function decryptKey(pem: string, passphrase: string | undefined, what: string): KeyObject {
  const encrypted = pem.includes('ENCRYPTED PRIVATE KEY');
  if (encrypted && !passphrase) {
    throw new KeyError(`${what} is encrypted: give its passphrase with --passphrase-file FILE, ca.passphraseFile in the config, or ATTESTCA_CA_PASSPHRASE`);
  }
  try {
    return createPrivateKey(encrypted ? { key: pem, format: 'pem', passphrase: passphrase! } : { key: pem, format: 'pem' });
  } catch (err) {
    throw new KeyError(`${what} cannot be read${encrypted ? ' (wrong passphrase?)' : ''}: ${(err as Error).message}`);
  }
}

/** WebCrypto algorithm and hash for signing with this key (RFC 5758 / RFC 4055 choices). */
export function signingAlgorithm(key: KeyObject): { importParams: webcrypto.EcKeyImportParams | webcrypto.RsaHashedImportParams; sign: webcrypto.EcdsaParams | webcrypto.Algorithm } {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'ec') {
    const curve = details.namedCurve === 'prime256v1' || details.namedCurve === 'P-256' ? 'P-256' : details.namedCurve === 'secp384r1' || details.namedCurve === 'P-384' ? 'P-384' : undefined;
    if (!curve) throw new KeyError(`CA key curve ${details.namedCurve} is not supported (use P-256 or P-384)`);
    const hash = curve === 'P-256' ? 'SHA-256' : 'SHA-384';
    return { importParams: { name: 'ECDSA', namedCurve: curve }, sign: { name: 'ECDSA', hash } };
  }
  if (key.asymmetricKeyType === 'rsa') {
    if ((details.modulusLength ?? 0) < 2048) throw new KeyError('CA RSA key is shorter than 2048 bits');
    return { importParams: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, sign: { name: 'RSASSA-PKCS1-v1_5' } };
  }
  throw new KeyError(`CA key type ${key.asymmetricKeyType} is not supported (use EC P-256/P-384 or RSA)`);
}

/**
 * The same choice as signingAlgorithm, for structures ca/ encodes and signs itself with node:crypto
 * (CRLs, end-entity certificates): the digest, and the signature AlgorithmIdentifier's OID and parameters. ECDSA has no
 * parameters (RFC 5758 §3.2); sha256WithRSAEncryption has NULL ones (RFC 4055 §5).
 */
export interface X509Signature {
  digest: 'sha256' | 'sha384';
  oid: string;
  nullParameters: boolean;
}

export function x509Signature(key: KeyObject): X509Signature {
  const { importParams } = signingAlgorithm(key);
  if (importParams.name === 'ECDSA') {
    return (importParams as webcrypto.EcKeyImportParams).namedCurve === 'P-384'
      ? { digest: 'sha384', oid: OID.ecdsaWithSHA384, nullParameters: false }
      : { digest: 'sha256', oid: OID.ecdsaWithSHA256, nullParameters: false };
  }
  return { digest: 'sha256', oid: OID.sha256WithRSAEncryption, nullParameters: true };
}

/**
 * node:crypto's sign, run on the thread pool rather than the event loop. ECDSA signatures come as
 * the DER Ecdsa-Sig-Value X.509 wants (RFC 5758 §3.2), not as r‖s; RSA is PKCS #1 v1.5 (RFC 8017 §8.2).
 */
export function signAsync(digest: string, data: Buffer, key: KeyObject): Promise<Buffer> {
  const options = key.asymmetricKeyType === 'rsa' ? { key, padding: constants.RSA_PKCS1_PADDING } : { key, dsaEncoding: 'der' as const };
  return new Promise((resolve, reject) => sign(digest, data, options, (err, signature) => (err ? reject(err) : resolve(signature))));
}

export async function toSigningKey(key: KeyObject): Promise<{ cryptoKey: webcrypto.CryptoKey; algorithm: webcrypto.EcdsaParams | webcrypto.Algorithm }> {
  const { importParams, sign } = signingAlgorithm(key);
  const pkcs8 = key.export({ type: 'pkcs8', format: 'der' });
  const cryptoKey = await webcrypto.subtle.importKey('pkcs8', pkcs8, importParams, false, ['sign']);
  return { cryptoKey, algorithm: sign };
}

export async function toPublicCryptoKey(key: KeyObject): Promise<webcrypto.CryptoKey> {
  const { importParams } = signingAlgorithm(key);
  const spki = key.export({ type: 'spki', format: 'der' });
  return webcrypto.subtle.importKey('spki', spki, importParams, true, ['verify']);
}
