// The `android-key` format in ACME: WebAuthn's Android Key Attestation statement (WebAuthn §8.4,
// attStmt = { alg, sig, x5c }) with draft-ietf-acme-device-attest §5's attToBeSigned, in the
// construction step-ca uses (smallstep/certificates PR #2322, acme/challenge.go
// doAndroidKeyAttestationFormat):
//   - x5c chains to Google's attestation roots; the certificate closest to the root that carries
//     the KeyDescription extension is the attestation certificate, its key the attested key;
//   - KeyDescription.attestationChallenge is the key authorization itself (raw UTF-8 bytes): the
//     app passes it to KeyGenParameterSpec.setAttestationChallenge when generating the key;
//   - `sig` is the attested key's signature over the key authorization, proving the client holds
//     that key now.
// Android Keystore attestation: https://source.android.com/docs/security/features/keystore/attestation
// and https://developer.android.com/privacy-and-security/security-key-attestation .
import { timingSafeEqual, verify, type KeyObject } from 'node:crypto';
import type { OctetString } from '@peculiar/asn1-schema';
import { ChainError, extension, parseCert, verifyChain, type ParsedCert } from '../pki/chain.js';
import { OID_ANDROID_KEY_DESCRIPTION, SECURITY_LEVELS, parseKeyDescription, type KeyDescription } from './android-key-description.js';
import { AttestationError, member, x5c, type AttestationFacts, type AttestationInput, type AttestationVerifier } from './verifier.js';

export interface AndroidKeyOptions {
  /**
   * Serial numbers (hex, any case, leading zeros ignored) of revoked attestation certificates.
   * Google publishes them at https://android.googleapis.com/attestation/status ; fetching needs
   * the network and a verifier does no I/O (STYLE.md habit 1), so the caller fetches and caches
   * the list and passes it here. Without it, revocation is not checked.
   */
  revokedSerials?: ReadonlySet<string>;
}

interface SignatureScheme {
  name: string;
  /** Digest for node's crypto.verify; null for Ed25519, which signs the message itself. */
  hash: string | null;
  fits: (key: KeyObject) => boolean;
  needs: string;
}

const curve = (key: KeyObject): string | undefined => key.asymmetricKeyDetails?.namedCurve;

/**
 * COSE algorithm identifiers accepted for `sig` (IANA "COSE Algorithms"): ES256 and ES384
 * (RFC 9053 §2.1; ECDSA with the curve each is meant for, DER signature as in WebAuthn §8.4),
 * RS256 (RFC 8812 §2, RSASSA-PKCS1-v1_5 with SHA-256) and EdDSA (RFC 9053 §2.2, Ed25519 over the
 * raw key authorization). The attested key must be of the kind `alg` names.
 */
const SCHEMES = new Map<number, SignatureScheme>([
  [-7, { name: 'ES256', hash: 'sha256', fits: (k) => k.asymmetricKeyType === 'ec' && curve(k) === 'prime256v1', needs: 'an EC P-256 key' }],
  [-35, { name: 'ES384', hash: 'sha384', fits: (k) => k.asymmetricKeyType === 'ec' && curve(k) === 'secp384r1', needs: 'an EC P-384 key' }],
  [-257, { name: 'RS256', hash: 'sha256', fits: (k) => k.asymmetricKeyType === 'rsa', needs: 'an RSA key' }],
  [-8, { name: 'EdDSA', hash: null, fits: (k) => k.asymmetricKeyType === 'ed25519', needs: 'an Ed25519 key' }],
]);

const describeKey = (k: KeyObject): string =>
  k.asymmetricKeyType === 'ec'
    ? `an EC ${curve(k)} key`
    : k.asymmetricKeyType === 'rsa'
      ? `an RSA-${k.asymmetricKeyDetails?.modulusLength} key`
      : `a ${k.asymmetricKeyType} key`;

/** RootOfTrust.verifiedBootState (source.android.com, "Verified boot state values"). */
const BOOT_STATES: Record<number, string> = { 0: 'Verified', 1: 'SelfSigned', 2: 'Unverified', 3: 'Failed' };

/** Tag 702 origin (KeyMint KeyOrigin.aidl). */
const KEY_ORIGINS: Record<number, string> = { 0: 'generated', 1: 'derived', 2: 'imported', 3: 'reserved', 4: 'securelyImported' };

const normalizeSerial = (hex: string): string => hex.toLowerCase().replace(/^0+(?=.)/, '');

/**
 * Verifies `sig` over `data` with `key` as `alg` says, or throws AttestationError ('alg' when the
 * algorithm is unknown or does not fit the key, 'sig' when the signature does not verify).
 */
export function checkStatementSignature(alg: number, key: KeyObject, data: Uint8Array, sig: Uint8Array): void {
  const scheme = SCHEMES.get(alg);
  if (!scheme) throw new AttestationError('alg', `alg ${alg} is not supported (ES256 -7, ES384 -35, RS256 -257, EdDSA -8)`);
  if (!scheme.fits(key)) throw new AttestationError('alg', `alg ${alg} (${scheme.name}) needs ${scheme.needs}, the attested key is ${describeKey(key)}`);
  let ok: boolean;
  try {
    ok = verify(scheme.hash, data, key, sig);
  } catch {
    ok = false; // a malformed signature (bad DER, wrong length) is just a signature that does not verify
  }
  if (!ok) throw new AttestationError('sig', `"sig" does not verify (${scheme.name}) with the attested key over this challenge's key authorization`);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function text(value: OctetString | undefined, what: string): string | undefined {
  if (value === undefined) return undefined;
  try {
    return utf8.decode(value.buffer);
  } catch {
    throw new AttestationError('keyDescription', `Android KeyDescription: hardwareEnforced ${what} is not UTF-8`);
  }
}

/** INTEGER values arrive as numbers, or as decimal strings when 4 bytes or longer. */
function integer(value: number | string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : undefined;
}

/**
 * What the KeyDescription says about the device, for policy and the record. Only hardwareEnforced
 * values: softwareEnforced ones are written by Android itself and vouched for by nobody.
 */
export function androidKeyClaims(kd: KeyDescription): Record<string, string | number | boolean> {
  const claims: Record<string, string | number | boolean> = {
    attestationVersion: kd.attestationVersion,
    securityLevel: SECURITY_LEVELS[kd.attestationSecurityLevel] ?? String(kd.attestationSecurityLevel),
    keymasterVersion: kd.keymasterVersion,
    keymasterSecurityLevel: SECURITY_LEVELS[kd.keymasterSecurityLevel] ?? String(kd.keymasterSecurityLevel),
  };
  const put = (key: string, value: string | number | boolean | undefined) => {
    if (value !== undefined && value !== '') claims[key] = value;
  };
  const hw = kd.hardwareEnforced.values;
  put('osVersion', integer(hw.osVersion));
  put('osPatchLevel', integer(hw.osPatchLevel));
  put('vendorPatchLevel', integer(hw.vendorPatchLevel));
  put('bootPatchLevel', integer(hw.bootPatchLevel));
  if (hw.rootOfTrust) {
    put('verifiedBootState', BOOT_STATES[hw.rootOfTrust.verifiedBootState] ?? String(hw.rootOfTrust.verifiedBootState));
    put('deviceLocked', hw.rootOfTrust.deviceLocked);
  }
  if (hw.origin !== undefined) put('keyOrigin', KEY_ORIGINS[hw.origin] ?? String(hw.origin));
  put('brand', text(hw.attestationIdBrand, 'attestationIdBrand'));
  put('device', text(hw.attestationIdDevice, 'attestationIdDevice'));
  put('product', text(hw.attestationIdProduct, 'attestationIdProduct'));
  put('manufacturer', text(hw.attestationIdManufacturer, 'attestationIdManufacturer'));
  put('model', text(hw.attestationIdModel, 'attestationIdModel'));
  return claims;
}

/**
 * The attestation certificate: of the verified path (the anchor excluded), the one closest to the
 * root that carries a KeyDescription. Android's guidance is to take that one, not simply the
 * leaf: an attested signing key could certify a further "leaf" with a KeyDescription of its own
 * making, and that one must not count.
 */
function attestationCertificate(path: ParsedCert[]): ParsedCert {
  for (let i = path.length - 2; i >= 0; i--) if (extension(path[i]!, OID_ANDROID_KEY_DESCRIPTION)) return path[i]!;
  throw new AttestationError('keyDescription', `no certificate in the chain carries the Android KeyDescription extension (${OID_ANDROID_KEY_DESCRIPTION})`);
}

export function androidKeyVerifier(options: AndroidKeyOptions = {}): AttestationVerifier {
  const revoked = new Set([...(options.revokedSerials ?? [])].map(normalizeSerial));

  return function verifyAndroidKey(input: AttestationInput): AttestationFacts {
    // The statement's shape first: every member present and of the right type.
    const certs = x5c(input.attStmt);
    certs.forEach((der, i) => {
      try {
        parseCert(der);
      } catch (err) {
        if (err instanceof ChainError) throw new AttestationError('x5c', `x5c[${i}] is ${err.message}`);
        throw err;
      }
    });
    const alg = member<number>(input.attStmt, 'alg', 'number', 'alg');
    if (!Number.isInteger(alg)) throw new AttestationError('alg', 'attStmt "alg" is not an integer');
    const sig = member<Uint8Array>(input.attStmt, 'sig', 'bytes', 'sig');

    // Leaf first, then intermediates; a root the device sends is accepted when it is one of the
    // anchors by name and key (Google's root has several issuances with one key). RKP chains
    // (leaf, TEE key, Droid CA3, Droid CA2, root) have three intermediates.
    let path: ParsedCert[];
    try {
      ({ path } = verifyChain(certs[0]!, certs.slice(1), input.anchors, { at: input.at, maxIntermediates: 4 }));
    } catch (err) {
      if (err instanceof ChainError) throw new AttestationError('chain', `Android attestation chain: ${err.message}`);
      throw err;
    }
    for (const c of path) {
      const serial = normalizeSerial(c.x509.serialNumber);
      if (revoked.has(serial)) throw new AttestationError('revoked', `certificate "${c.name}" (serial ${serial}) is on Google's attestation revocation list`);
    }

    const cert = attestationCertificate(path);
    const kd = parseKeyDescription(extension(cert, OID_ANDROID_KEY_DESCRIPTION)!.value);

    // Freshness and account binding: the key was generated for this very key authorization.
    const expected = Buffer.from(input.keyAuthorization, 'utf8');
    const challenge = kd.attestationChallenge;
    if (challenge.length !== expected.length || !timingSafeEqual(challenge, expected)) {
      throw new AttestationError('challenge', `the KeyDescription attestationChallenge (${challenge.length} bytes) is not this challenge's key authorization: the key was attested for another challenge or account`);
    }

    // Software attestation is signed by a key Android itself holds: it proves nothing about the
    // device. Both the attestation and the key's keystore must be in the TEE or a StrongBox.
    for (const [field, level] of [
      ['attestationSecurityLevel', kd.attestationSecurityLevel],
      ['keyMintSecurityLevel', kd.keymasterSecurityLevel],
    ] as const) {
      if (level !== 1 && level !== 2) {
        const name = SECURITY_LEVELS[level];
        throw new AttestationError(
          'securityLevel',
          `${field} is ${name ?? level}: ${level === 0 ? "the key was attested by Android's software keystore, not by a TEE or StrongBox" : 'only TrustedEnvironment (1) and StrongBox (2) are accepted'}`,
        );
      }
    }

    const key = cert.x509.publicKey;
    checkStatementSignature(alg, key, expected, sig);

    // ID attestation (tag 713) exists only when a device-owner or managed-profile app asked for it
    // (and the device supports it). Without it the facts name no identifier, and the caller then
    // refuses a permanent-identifier order: nothing in the statement names the device.
    const serial = text(kd.hardwareEnforced.values.attestationIdSerial, 'attestationIdSerial');
    return {
      format: 'android-key',
      permanentIdentifiers: serial ? [serial] : [],
      hardwareModules: [],
      attestedSpki: key.export({ type: 'spki', format: 'der' }),
      claims: androidKeyClaims(kd),
      chain: path.map((c) => c.der),
    };
  };
}

/** The verifier without a revocation list. */
export const verifyAndroidKey: AttestationVerifier = androidKeyVerifier();
