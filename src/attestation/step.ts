// The `step` format (Smallstep's, for YubiKey PIV and similar keys; not in the WebAuthn registry):
// attStmt = { alg, sig, x5c: [attestation cert, f9 cert, …] }. The YubiKey certifies the key it
// generated (the attestation certificate, signed by the device's factory key in slot f9, which
// Yubico signed). Those certificates carry no freshness, so the proof is `sig`: the attested key's
// signature over the key authorization (SHA-256 for ECDSA and RSA, raw for Ed25519), CBOR-encoded
// once more as a byte string, as smallstep/cli sends it.
import { verify, type KeyObject } from 'node:crypto';
import { Decoder } from 'cbor-x';
import { ChainError, extension, verifyChain, type ParsedCert } from '../pki/chain.js';
import { AttestationError, member, x5c, type AttestationFacts, type AttestationInput } from './verifier.js';

/** Yubico PIV attestation extensions (docs.yubico.com/hardware/oid/oid-piv-arc.html). */
export const YUBICO_OID = {
  firmwareVersion: '1.3.6.1.4.1.41482.3.3',
  serialNumber: '1.3.6.1.4.1.41482.3.7',
  pinTouchPolicy: '1.3.6.1.4.1.41482.3.8',
  formFactor: '1.3.6.1.4.1.41482.3.9',
  fips: '1.3.6.1.4.1.41482.3.10',
} as const;

const PIN_POLICY: Record<number, string> = { 1: 'never', 2: 'once', 3: 'always', 4: 'match-once', 5: 'match-always' };
const TOUCH_POLICY: Record<number, string> = { 1: 'never', 2: 'always', 3: 'cached' };

const inner = new Decoder({ mapsAsObjects: false, useRecords: false } as ConstructorParameters<typeof Decoder>[0]);

export interface StepOptions {
  /** Intermediates the device does not send (Yubico's for firmware 5.7.4+). */
  extraIntermediates: Uint8Array[];
  /**
   * Some YubiKeys (firmware 4.3.x, 5.2.4) have an f9 certificate without basicConstraints
   * (Yubico/yubikey-manager#522). Refused unless the operator allows it.
   */
  allowF9WithoutBasicConstraints: boolean;
}

/** The YubiKey serial: a DER INTEGER inside extnValue, as a decimal string. */
function serialNumber(leaf: ParsedCert): string | undefined {
  const v = extension(leaf, YUBICO_OID.serialNumber)?.value;
  if (!v) return undefined;
  if (v.length < 3 || v[0] !== 0x02 || v[1] !== v.length - 2 || v.length > 11 || (v[2]! & 0x80) !== 0) {
    throw new AttestationError('identifier', 'the YubiKey serial number extension is not a positive DER INTEGER');
  }
  return v
    .subarray(2)
    .reduce((n, b) => n * 256n + BigInt(b), 0n)
    .toString();
}

function verifySig(key: KeyObject, keyAuthorization: string, sig: Buffer): boolean {
  const data = Buffer.from(keyAuthorization, 'utf8');
  try {
    switch (key.asymmetricKeyType) {
      case 'ec':
      case 'rsa':
        return verify('sha256', data, key, sig);
      case 'ed25519':
        return verify(null, data, key, sig);
      default:
        throw new AttestationError('sig', `attested key type ${key.asymmetricKeyType} is not supported`);
    }
  } catch (err) {
    if (err instanceof AttestationError) throw err;
    return false;
  }
}

export function stepVerifier(options: StepOptions) {
  return function verifyStep(input: AttestationInput): AttestationFacts {
    const [leafDer, ...sent] = x5c(input.attStmt);
    let path: ParsedCert[];
    try {
      ({ path } = verifyChain(leafDer!, [...sent, ...options.extraIntermediates], input.anchors, {
        at: input.at,
        maxIntermediates: 4,
        allowIntermediateWithoutBasicConstraints: options.allowF9WithoutBasicConstraints,
      }));
    } catch (err) {
      if (err instanceof ChainError) throw new AttestationError('chain', `YubiKey attestation chain: ${err.message}`);
      throw err;
    }
    const leaf = path[0]!;

    const wrapped = member<Uint8Array>(input.attStmt, 'sig', 'bytes', 'sig');
    let sig: unknown;
    try {
      sig = inner.decode(wrapped);
    } catch {
      throw new AttestationError('sig', 'attStmt "sig" does not hold a CBOR byte string');
    }
    if (!(sig instanceof Uint8Array)) throw new AttestationError('sig', 'attStmt "sig" does not hold a CBOR byte string');
    const key = leaf.x509.publicKey;
    if (!verifySig(key, input.keyAuthorization, Buffer.from(sig))) {
      throw new AttestationError('sig', "the attested key's signature does not cover this challenge's key authorization");
    }

    const { permanentIdentifiers, claims } = yubicoLeafFacts(path);
    return {
      format: 'step',
      permanentIdentifiers,
      hardwareModules: [],
      attestedSpki: key.export({ type: 'spki', format: 'der' }),
      claims,
      chain: path.map((c) => c.der),
    };
  };
}

/** What a YubiKey attestation certificate (path[0]) and its chain say about the key and device. */
export function yubicoLeafFacts(path: ParsedCert[]): Pick<AttestationFacts, 'permanentIdentifiers' | 'claims'> {
  const leaf = path[0]!;
  const serial = serialNumber(leaf);
  const claims: Record<string, string | number | boolean> = {};
  const fw = extension(leaf, YUBICO_OID.firmwareVersion)?.value;
  if (fw?.length === 3) claims.firmwareVersion = `${fw[0]}.${fw[1]}.${fw[2]}`;
  const policy = extension(leaf, YUBICO_OID.pinTouchPolicy)?.value;
  if (policy?.length === 2) {
    claims.pinPolicy = PIN_POLICY[policy[0]!] ?? String(policy[0]);
    claims.touchPolicy = TOUCH_POLICY[policy[1]!] ?? String(policy[1]);
  }
  const form = extension(leaf, YUBICO_OID.formFactor)?.value;
  if (form?.length === 1) claims.formFactor = form[0]!;
  if (path.some((c) => extension(c, YUBICO_OID.fips))) claims.fips = true;
  if (serial) claims.serialNumber = serial;
  claims.slot = leaf.name.replace(/^CN=YubiKey PIV Attestation /, '');

  return { permanentIdentifiers: serial ? [serial] : [], claims };
}
