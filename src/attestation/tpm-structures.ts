// The TPM 2.0 structures a `tpm` attestation statement carries (WebAuthn §8.3), decoded from
// their canonical big-endian marshalling as defined in the TPM 2.0 Library specification,
// Part 2 "Structures" (TCG, rev. 1.59; section numbers below are from it). Every size is checked
// before it is used: a statement that is short, long or inconsistent yields an AttestationError
// naming the member (`pubArea`, `certInfo`, `sig`), never an out-of-range read.
import { createHash, createPublicKey } from 'node:crypto';
import { AttestationError } from './verifier.js';

// TPM_ALG_ID values, Part 2 §6.3 (Table 9).
export const TPM_ALG = {
  RSA: 0x0001,
  SHA1: 0x0004,
  AES: 0x0006,
  MGF1: 0x0007,
  SHA256: 0x000b,
  SHA384: 0x000c,
  SHA512: 0x000d,
  NULL: 0x0010,
  SM4: 0x0013,
  RSASSA: 0x0014,
  RSAES: 0x0015,
  RSAPSS: 0x0016,
  OAEP: 0x0017,
  ECDSA: 0x0018,
  ECDH: 0x0019,
  ECDAA: 0x001a,
  SM2: 0x001b,
  ECSCHNORR: 0x001c,
  ECMQV: 0x001d,
  KDF1_SP800_56A: 0x0020,
  KDF2: 0x0021,
  KDF1_SP800_108: 0x0022,
  ECC: 0x0023,
  CAMELLIA: 0x0026,
} as const;

/** TPM_GENERATED_VALUE, Part 2 §6.2: certInfo was produced by the TPM itself. */
export const TPM_GENERATED_VALUE = 0xff544347;
/** TPM_ST_ATTEST_CERTIFY, Part 2 §6.9: the TPMS_ATTEST of TPM2_Certify(). */
export const TPM_ST_ATTEST_CERTIFY = 0x8017;

/** TPMA_OBJECT bits, Part 2 §8.3.2 (Table 31). */
export const TPMA_OBJECT = {
  fixedTPM: 1 << 1,
  fixedParent: 1 << 4,
  sensitiveDataOrigin: 1 << 5,
  restricted: 1 << 16,
} as const;

/** Hash algorithms a name (Part 1, "Names") may be computed with, as node:crypto names. */
export const TPM_HASHES = new Map<number, { name: string; node: string }>([
  [TPM_ALG.SHA1, { name: 'SHA-1', node: 'sha1' }],
  [TPM_ALG.SHA256, { name: 'SHA-256', node: 'sha256' }],
  [TPM_ALG.SHA384, { name: 'SHA-384', node: 'sha384' }],
  [TPM_ALG.SHA512, { name: 'SHA-512', node: 'sha512' }],
]);

/** TPM_ECC_CURVE values (Part 2 §6.4) we accept, with their JWK name and coordinate size. */
const TPM_CURVES = new Map<number, { crv: string; bytes: number }>([
  [0x0003, { crv: 'P-256', bytes: 32 }], // TPM_ECC_NIST_P256
  [0x0004, { crv: 'P-384', bytes: 48 }], // TPM_ECC_NIST_P384
  [0x0005, { crv: 'P-521', bytes: 66 }], // TPM_ECC_NIST_P521
]);

type Member = 'pubArea' | 'certInfo' | 'sig';

/** A cursor over one marshalled structure; every read is bounds-checked. */
class Reader {
  private at = 0;
  constructor(
    private readonly buf: Buffer,
    private readonly what: Member,
  ) {}

  private take(n: number, field: string): Buffer {
    if (n > this.buf.length - this.at) {
      throw new AttestationError(this.what, `${this.what} is truncated: ${field} needs ${n} bytes at offset ${this.at}, ${this.buf.length - this.at} remain`);
    }
    const out = this.buf.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }
  u8(field: string): number {
    return this.take(1, field)[0]!;
  }
  u16(field: string): number {
    return this.take(2, field).readUInt16BE(0);
  }
  u32(field: string): number {
    return this.take(4, field).readUInt32BE(0);
  }
  u64(field: string): bigint {
    return this.take(8, field).readBigUInt64BE(0);
  }
  /** A TPM2B_*: UINT16 size, then that many bytes (Part 2 §10.4). */
  tpm2b(field: string): Buffer {
    const size = this.u16(`${field}.size`);
    return Buffer.from(this.take(size, field));
  }
  end(): void {
    if (this.at !== this.buf.length) throw new AttestationError(this.what, `${this.what} has ${this.buf.length - this.at} bytes after its end`);
  }
  fail(detail: string): never {
    throw new AttestationError(this.what, `${this.what}: ${detail}`);
  }
}

const hex4 = (n: number): string => `0x${n.toString(16).padStart(4, '0')}`;

// ---------------------------------------------------------------------------------------------
// TPMT_PUBLIC, Part 2 §12.2.4: the public area of the attested key.

interface TpmPublicCommon {
  nameAlg: number;
  objectAttributes: number;
  authPolicy: Buffer;
}
export type TpmPublic = TpmPublicCommon &
  ({ type: 'rsa'; keyBits: number; exponent: number; modulus: Buffer } | { type: 'ecc'; curveId: number; x: Buffer; y: Buffer });

/** TPMT_SYM_DEF_OBJECT, Part 2 §11.1.7: NULL for a signing key, else algorithm, keyBits, mode. */
function skipSymmetric(r: Reader): void {
  const alg = r.u16('parameters.symmetric.algorithm');
  if (alg === TPM_ALG.NULL) return;
  if (alg !== TPM_ALG.AES && alg !== TPM_ALG.SM4 && alg !== TPM_ALG.CAMELLIA) r.fail(`symmetric algorithm ${hex4(alg)} is not a TPMI_ALG_SYM_OBJECT`);
  r.u16('parameters.symmetric.keyBits');
  r.u16('parameters.symmetric.mode');
}

/** TPMT_RSA_SCHEME / TPMT_ECC_SCHEME (Part 2 §11.2.4.2, §11.2.5.6): scheme, then its details. */
function skipScheme(r: Reader, allowed: number[]): void {
  const scheme = r.u16('parameters.scheme.scheme');
  if (scheme === TPM_ALG.NULL) return;
  if (!allowed.includes(scheme)) r.fail(`key scheme ${hex4(scheme)} is not allowed for this key type`);
  if (scheme === TPM_ALG.RSAES) return; // TPMS_ENC_SCHEME_RSAES is empty
  r.u16('parameters.scheme.details.hashAlg');
  if (scheme === TPM_ALG.ECDAA) r.u16('parameters.scheme.details.count'); // TPMS_SCHEME_ECDAA
}

/** TPMI_ALG_KDF, Part 2 §9.32: the KDFs a TPMT_KDF_SCHEME may name. */
const KDF_SCHEMES = new Set<number>([TPM_ALG.MGF1, TPM_ALG.KDF1_SP800_56A, TPM_ALG.KDF2, TPM_ALG.KDF1_SP800_108]);

export function parsePubArea(bytes: Uint8Array): TpmPublic {
  const r = new Reader(Buffer.from(bytes), 'pubArea');
  const type = r.u16('type');
  const nameAlg = r.u16('nameAlg');
  if (!TPM_HASHES.has(nameAlg)) r.fail(`nameAlg ${hex4(nameAlg)} is not SHA-1, SHA-256, SHA-384 or SHA-512`);
  const objectAttributes = r.u32('objectAttributes');
  const authPolicy = r.tpm2b('authPolicy');
  if (type === TPM_ALG.RSA) {
    // TPMS_RSA_PARMS, Part 2 §12.2.3.5; unique is TPM2B_PUBLIC_KEY_RSA (§11.2.4.5).
    skipSymmetric(r);
    skipScheme(r, [TPM_ALG.RSASSA, TPM_ALG.RSAES, TPM_ALG.RSAPSS, TPM_ALG.OAEP]);
    const keyBits = r.u16('parameters.keyBits');
    const exponent = r.u32('parameters.exponent');
    const modulus = r.tpm2b('unique.rsa');
    r.end();
    // A TPM-generated modulus has exactly keyBits bits, so its top bit is set.
    if (keyBits === 0 || keyBits % 8 !== 0 || modulus.length !== keyBits / 8 || modulus[0]! < 0x80) r.fail(`RSA modulus is not a ${keyBits}-bit number`);
    return { type: 'rsa', nameAlg, objectAttributes, authPolicy, keyBits, exponent, modulus };
  }
  if (type === TPM_ALG.ECC) {
    // TPMS_ECC_PARMS, Part 2 §12.2.3.6; unique is TPMS_ECC_POINT (§11.2.5.2).
    skipSymmetric(r);
    skipScheme(r, [TPM_ALG.ECDSA, TPM_ALG.ECDH, TPM_ALG.ECDAA, TPM_ALG.SM2, TPM_ALG.ECSCHNORR, TPM_ALG.ECMQV]);
    const curveId = r.u16('parameters.curveID');
    const kdf = r.u16('parameters.kdf.scheme'); // TPMT_KDF_SCHEME, §11.2.3.3
    if (kdf !== TPM_ALG.NULL) {
      if (!KDF_SCHEMES.has(kdf)) r.fail(`KDF scheme ${hex4(kdf)} is unknown`);
      r.u16('parameters.kdf.details.hashAlg');
    }
    const x = r.tpm2b('unique.ecc.x');
    const y = r.tpm2b('unique.ecc.y');
    r.end();
    return { type: 'ecc', nameAlg, objectAttributes, authPolicy, curveId, x, y };
  }
  return r.fail(`type ${hex4(type)} is neither TPM_ALG_RSA nor TPM_ALG_ECC`);
}

/** The object's name (Part 1, "Names"; Part 2 §10.5.3 TPM2B_NAME): nameAlg (UINT16) ‖ H_nameAlg(marshalled TPMT_PUBLIC). */
export function tpmName(pubArea: Uint8Array, nameAlg: number): Buffer {
  const hash = TPM_HASHES.get(nameAlg);
  if (!hash) throw new AttestationError('pubArea', `pubArea: nameAlg ${hex4(nameAlg)} is not supported`);
  const alg = Buffer.alloc(2);
  alg.writeUInt16BE(nameAlg);
  return Buffer.concat([alg, createHash(hash.node).update(pubArea).digest()]);
}

/**
 * The attested key as a DER SubjectPublicKeyInfo, via a JWK (RFC 7518 §6.2, §6.3) that
 * node:crypto checks (an ECC point must be on its curve). RSA exponent 0 means the default
 * 2^16+1 (Part 2 §12.2.3.5).
 */
export function publicAreaSpki(pub: TpmPublic): Buffer {
  let jwk: Record<string, string>;
  if (pub.type === 'rsa') {
    const e = Buffer.alloc(4);
    e.writeUInt32BE(pub.exponent === 0 ? 65537 : pub.exponent);
    const firstNonZero = e.findIndex((b) => b !== 0);
    jwk = { kty: 'RSA', n: pub.modulus.toString('base64url'), e: e.subarray(firstNonZero).toString('base64url') };
  } else {
    const curve = TPM_CURVES.get(pub.curveId);
    if (!curve) throw new AttestationError('key', `attested ECC key is on TPM curve ${hex4(pub.curveId)}; only NIST P-256, P-384 and P-521 are accepted`);
    // TPM2B_ECC_PARAMETER may drop leading zero bytes; JWK wants the full field size.
    const coord = (c: Buffer, which: string): string => {
      if (c.length === 0 || c.length > curve.bytes) throw new AttestationError('pubArea', `pubArea: ECC ${which} is ${c.length} bytes, ${curve.crv} needs ${curve.bytes}`);
      return Buffer.concat([Buffer.alloc(curve.bytes - c.length), c]).toString('base64url');
    };
    jwk = { kty: 'EC', crv: curve.crv, x: coord(pub.x, 'x'), y: coord(pub.y, 'y') };
  }
  try {
    return createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'der' });
  } catch (err) {
    throw new AttestationError('pubArea', `pubArea does not hold a usable public key: ${(err as Error).message}`);
  }
}

// ---------------------------------------------------------------------------------------------
// TPMS_ATTEST, Part 2 §10.12.12, with TPMS_CERTIFY_INFO (§10.12.3) as the attested member.

export interface TpmCertifyAttest {
  magic: number;
  type: number;
  qualifiedSigner: Buffer;
  /** The caller's qualifyingData; in ACME (step-ca's construction) SHA-256(keyAuthorization). */
  extraData: Buffer;
  clockInfo: { clock: bigint; resetCount: number; restartCount: number; safe: boolean };
  firmwareVersion: bigint;
  attested: { name: Buffer; qualifiedName: Buffer };
}

export function parseCertInfo(bytes: Uint8Array): TpmCertifyAttest {
  const r = new Reader(Buffer.from(bytes), 'certInfo');
  const magic = r.u32('magic');
  if (magic !== TPM_GENERATED_VALUE) r.fail(`magic is 0x${magic.toString(16).padStart(8, '0')}, not TPM_GENERATED_VALUE 0xff544347`);
  const type = r.u16('type');
  if (type !== TPM_ST_ATTEST_CERTIFY) r.fail(`type is ${hex4(type)}, not TPM_ST_ATTEST_CERTIFY 0x8017`);
  const qualifiedSigner = r.tpm2b('qualifiedSigner');
  const extraData = r.tpm2b('extraData');
  // TPMS_CLOCK_INFO, §10.11.1.
  const clock = r.u64('clockInfo.clock');
  const resetCount = r.u32('clockInfo.resetCount');
  const restartCount = r.u32('clockInfo.restartCount');
  const safe = r.u8('clockInfo.safe');
  if (safe > 1) r.fail(`clockInfo.safe is ${safe}, not a TPMI_YES_NO`);
  const firmwareVersion = r.u64('firmwareVersion');
  const name = r.tpm2b('attested.name');
  const qualifiedName = r.tpm2b('attested.qualifiedName');
  r.end();
  return {
    magic,
    type,
    qualifiedSigner,
    extraData,
    clockInfo: { clock, resetCount, restartCount, safe: safe === 1 },
    firmwareVersion,
    attested: { name, qualifiedName },
  };
}

// ---------------------------------------------------------------------------------------------
// TPMT_SIGNATURE, Part 2 §11.3.4: sigAlg, then TPMS_SIGNATURE_RSA {hash, sig} (§11.3.1) or
// TPMS_SIGNATURE_ECC {hash, signatureR, signatureS} (§11.3.2).

export type TpmSignature = { sigAlg: number; hashAlg: number } & ({ kind: 'rsa'; sig: Buffer } | { kind: 'ecc'; r: Buffer; s: Buffer });

export function parseSignature(bytes: Uint8Array): TpmSignature {
  const r = new Reader(Buffer.from(bytes), 'sig');
  const sigAlg = r.u16('sigAlg');
  const hashAlg = r.u16('hash');
  let out: TpmSignature;
  if (sigAlg === TPM_ALG.RSASSA || sigAlg === TPM_ALG.RSAPSS) {
    out = { sigAlg, hashAlg, kind: 'rsa', sig: r.tpm2b('signature.sig') };
  } else if (sigAlg === TPM_ALG.ECDSA) {
    out = { sigAlg, hashAlg, kind: 'ecc', r: r.tpm2b('signature.signatureR'), s: r.tpm2b('signature.signatureS') };
  } else {
    return r.fail(`TPMT_SIGNATURE sigAlg ${hex4(sigAlg)} is not RSASSA, RSAPSS or ECDSA`);
  }
  r.end();
  return out;
}
