// Apple Managed Device Attestation in ACME (`fmt: "apple"`): attStmt = { x5c: [leaf, Sub CA …] }
// chaining to the Apple Enterprise Attestation Root. Not WebAuthn's "apple" (Anonymous
// Attestation), which shares the name. The statement has no signature of its own: freshness is
// the leaf's freshness code, which Apple devices set to SHA-256 of the challenge token (Apple
// Developer Forums thread 783599; draft-ietf-acme-device-attest §5 allows the token alone or the
// key authorization). The freshness code is mandatory here: step-ca skips the check when the OID
// is missing; an attestation without it could be a replay, so it is refused.
import { createHash, timingSafeEqual } from 'node:crypto';
import { ChainError, extension, spkiOf, verifyChain, type ParsedCert } from '../pki/chain.js';
import { AttestationError, x5c, type AttestationFacts, type AttestationInput } from './verifier.js';

/**
 * Apple's leaf extensions (Apple Device Management: DeviceInformation "DevicePropertiesAttestation";
 * Apple Platform Security, "Managed device attestation"). Values are raw bytes inside extnValue,
 * except the .13.1 and .13.3 flags, which are DER INTEGERs.
 */
export const APPLE_OID = {
  serialNumber: '1.2.840.113635.100.8.9.1',
  udid: '1.2.840.113635.100.8.9.2',
  softwareUpdateDeviceId: '1.2.840.113635.100.8.9.4',
  osVersion: '1.2.840.113635.100.8.10.1',
  sepOsVersion: '1.2.840.113635.100.8.10.2',
  llbVersion: '1.2.840.113635.100.8.10.3',
  freshnessCode: '1.2.840.113635.100.8.11.1',
  sipStatus: '1.2.840.113635.100.8.13.1',
  secureBootLevel: '1.2.840.113635.100.8.13.2',
  thirdPartyKexts: '1.2.840.113635.100.8.13.3',
} as const;

const sha256 = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

const text = (leaf: ParsedCert, oid: string): string | undefined => {
  const ext = extension(leaf, oid);
  return ext && ext.value.toString('utf8');
};

/** A small non-negative DER INTEGER (02 len bytes), as Apple encodes the macOS security flags. */
const flag = (leaf: ParsedCert, oid: string): number | undefined => {
  const v = extension(leaf, oid)?.value;
  if (!v || v.length < 3 || v[0] !== 0x02 || v[1] !== v.length - 2 || v.length > 6) return undefined;
  return v.subarray(2).reduce((n, b) => n * 256 + b, 0);
};

export function verifyApple(input: AttestationInput): AttestationFacts {
  const [leafDer, ...intermediates] = x5c(input.attStmt);
  let path: ParsedCert[];
  try {
    ({ path } = verifyChain(leafDer!, intermediates, input.anchors, { at: input.at, maxIntermediates: 2 }));
  } catch (err) {
    if (err instanceof ChainError) throw new AttestationError('chain', `Apple attestation chain: ${err.message}`);
    throw err;
  }
  const leaf = path[0]!;

  const freshness = extension(leaf, APPLE_OID.freshnessCode)?.value;
  if (!freshness) throw new AttestationError('freshness', 'the attestation has no freshness code (1.2.840.113635.100.8.11.1); it cannot be tied to this challenge');
  const matches = (expected: Buffer) => freshness.length === expected.length && timingSafeEqual(freshness, expected);
  if (!matches(sha256(input.token)) && !matches(sha256(input.keyAuthorization))) {
    throw new AttestationError('freshness', 'freshness code does not match SHA-256 of the challenge token (nor of the key authorization): the attestation was made for another challenge');
  }

  const { permanentIdentifiers, hardwareModules, claims } = appleLeafFacts(leaf);
  return {
    format: 'apple',
    permanentIdentifiers,
    hardwareModules,
    attestedSpki: spkiOf(leaf),
    claims,
    chain: path.map((c) => c.der),
  };
}

/** What an Apple attestation leaf says about its device. */
export function appleLeafFacts(leaf: ParsedCert): Pick<AttestationFacts, 'permanentIdentifiers' | 'hardwareModules' | 'claims'> {
  const serial = text(leaf, APPLE_OID.serialNumber);
  const udid = text(leaf, APPLE_OID.udid);
  const claims: Record<string, string | number | boolean> = {};
  const put = (k: string, v: string | number | undefined) => {
    if (v !== undefined && v !== '') claims[k] = v;
  };
  put('serialNumber', serial);
  put('udid', udid);
  put('osVersion', text(leaf, APPLE_OID.osVersion));
  put('sepOsVersion', text(leaf, APPLE_OID.sepOsVersion));
  put('llbVersion', text(leaf, APPLE_OID.llbVersion));
  put('softwareUpdateDeviceId', text(leaf, APPLE_OID.softwareUpdateDeviceId));
  put('secureBootLevel', text(leaf, APPLE_OID.secureBootLevel));
  const sip = flag(leaf, APPLE_OID.sipStatus);
  if (sip !== undefined) claims.sipEnabled = sip === 0;
  const kexts = flag(leaf, APPLE_OID.thirdPartyKexts);
  if (kexts !== undefined) claims.thirdPartyKextsAllowed = kexts !== 0;

  return {
    // A User Enrollment attestation carries neither; the caller then refuses the identifier.
    permanentIdentifiers: [serial, udid].filter((v): v is string => !!v),
    hardwareModules: udid ? [{ type: APPLE_OID.udid, serial: udid }] : [],
    claims,
  };
}
