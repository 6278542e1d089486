// The attestation a simulated Apple device answers device-attest-01 with: a leaf certificate for
// the device's key, issued by the simulator's "Sub CA", carrying the Managed Device Attestation
// extensions, wrapped as attObj = CBOR {"fmt":"apple","attStmt":{"x5c":[leaf, Sub CA]}}
// (draft-ietf-acme-device-attest-09 §5; the shape step-ca, nanoca and Fleet accept from devices).
//
// The leaf copies what real leaves from Apple's attestation servers look like (the six real
// leaves in test/fixtures/apple, README there; Apple Platform Security guide, "Managed device
// attestation"): subject CN = lowercase hex SHA-256 of the key point, OU=AAA Certification,
// O=Apple Inc., ST=California, all UTF8String; serial number = issuance time in milliseconds;
// notBefore one day before issuance, notAfter 91 days after notBefore; no AKI/SKI; the extension
// values are the raw bytes inside extnValue (not DER-wrapped), except the two macOS security
// flags, which are DER INTEGERs. Pure: keys, token, device facts and the time come in; no I/O.
import { createHash, createPublicKey, webcrypto, type KeyObject } from 'node:crypto';
import { Encoder } from 'cbor-x';
import { APPLE_OID } from '../attestation/apple.js';
import { x509 } from '../pki/x509.js';

/**
 * The extended key usage on MDA leaves issued since 2026 (seen on every 2026 leaf in
 * test/fixtures/apple; absent from a July 2025 leaf; not in Apple's public documentation).
 */
export const APPLE_MDA_LEAF_EKU = '1.2.840.113635.100.4.24';

/** Deliberately wrong attestations, for negative tests of a server. */
export const breakModes = ['freshness', 'serial', 'key', 'chain', 'no-freshness', 'user-enrollment'] as const;
export type BreakMode = (typeof breakModes)[number];

/** What the device's attestation says about it (Apple DeviceInformation "DevicePropertiesAttestation"). */
export interface DeviceFacts {
  serial: string;
  udid?: string;
  /** OS, sepOS and LLB versions; on real Macs all three are the same string ("26.2"). */
  osVersion: string;
  sepOsVersion: string;
  llbVersion: string;
  /** Software Update device ID: the board identifier, e.g. "J416cAP" (a MacBook Pro). */
  softwareUpdateDeviceId: string;
}

export const DEFAULT_OS_VERSION = '26.2';
export const DEFAULT_SOFTWARE_UPDATE_DEVICE_ID = 'J416cAP';

export interface AttestationIssuer {
  /** DER of the simulator's Sub CA certificate, which goes into x5c after the leaf. */
  certDer: Buffer;
  key: KeyObject;
}

export interface BuildAttestationInput {
  /** The device key being attested (the Secure Enclave key of a real device); public, or private for its public half. */
  devicePublicKey: KeyObject;
  /** The device-attest-01 challenge token. */
  token: string;
  device: DeviceFacts;
  issuer: AttestationIssuer;
  now: Date;
  /** 'key' leaves the attestation intact: that defect is in the CSR (see device.ts). */
  break?: BreakMode;
}

export interface BuiltAttestation {
  leafDer: Buffer;
  /** attStmt.x5c, leaf first. */
  x5c: Buffer[];
  /** The CBOR attestation object, and its base64url text as it goes into {"attObj": …}. */
  attObj: Buffer;
  attObjText: string;
}

const DAY = 86_400_000;

// Maps as CBOR maps with text keys, Buffers as byte strings, nothing else (no records, no tags):
// the same options the server's decoder (src/attestation/attobj.ts) uses.
const encoder = new Encoder({ mapsAsObjects: false, useRecords: false } as ConstructorParameters<typeof Encoder>[0]);

const sha256 = (data: string | Uint8Array): Buffer => createHash('sha256').update(data).digest();

/** WebCrypto parameters for signing with an EC key: P-256 with SHA-256, P-384 with SHA-384 (RFC 5758 §3.2). */
export async function ecSigner(key: KeyObject): Promise<{ cryptoKey: webcrypto.CryptoKey; algorithm: webcrypto.EcdsaParams }> {
  const curve = key.asymmetricKeyDetails?.namedCurve;
  const namedCurve = curve === 'prime256v1' ? 'P-256' : curve === 'secp384r1' ? 'P-384' : undefined;
  if (key.asymmetricKeyType !== 'ec' || !namedCurve) throw new Error(`expected an EC P-256 or P-384 private key, got ${key.asymmetricKeyType} ${curve ?? ''}`);
  const cryptoKey = await webcrypto.subtle.importKey('pkcs8', key.export({ type: 'pkcs8', format: 'der' }), { name: 'ECDSA', namedCurve }, false, ['sign']);
  return { cryptoKey, algorithm: { name: 'ECDSA', hash: namedCurve === 'P-256' ? 'SHA-256' : 'SHA-384' } };
}

/** The uncompressed EC point 04||X||Y (SEC 1 §2.3.3), the subjectPublicKey of an EC SPKI. */
export function ecPoint(publicKey: KeyObject): Buffer {
  const jwk = (publicKey.type === 'private' ? createPublicKey(publicKey) : publicKey).export({ format: 'jwk' });
  if (!jwk.x || !jwk.y) throw new Error('expected an EC public key');
  return Buffer.concat([Buffer.from([0x04]), Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url')]);
}

/** Another device's value: the same shape with the last character changed. */
function otherDevice(value: string): string {
  const last = value.at(-1);
  return value.slice(0, -1) + (last === '0' ? '1' : '0');
}

/** A DER INTEGER 0 (02 01 00): how Apple encodes "SIP enabled" and "no third-party kexts". */
const DER_INTEGER_ZERO = Buffer.from([0x02, 0x01, 0x00]);

export async function buildAttestation(input: BuildAttestationInput): Promise<BuiltAttestation> {
  const { device, issuer, now } = input;
  const devicePublicKey = input.devicePublicKey.type === 'private' ? createPublicKey(input.devicePublicKey) : input.devicePublicKey;
  const issuerCert = new x509.X509Certificate(issuer.certDer);
  const signer = await ecSigner(issuer.key);

  // Freshness (1.2.840.113635.100.8.11.1): Apple sets it to SHA-256 of the challenge token, not of
  // the key authorization (Apple Developer Forums thread 783599; draft-09 §5 allows the token alone).
  const freshness = input.break === 'freshness' ? sha256(`${input.token}.another-challenge`) : sha256(input.token);
  const serial = input.break === 'serial' ? otherDevice(device.serial) : device.serial;
  const udid = device.udid && input.break === 'serial' ? otherDevice(device.udid) : device.udid;

  const raw = (oid: string, value: string | Buffer) => new x509.Extension(oid, false, typeof value === 'string' ? Buffer.from(value, 'utf8') : value);
  // In the order real leaves carry them.
  const extensions = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    // Real leaves: digitalSignature, nonRepudiation, keyEncipherment, dataEncipherment (03 02 04 F0).
    new x509.KeyUsagesExtension(
      x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation | x509.KeyUsageFlags.keyEncipherment | x509.KeyUsageFlags.dataEncipherment,
      true,
    ),
    new x509.ExtendedKeyUsageExtension([APPLE_MDA_LEAF_EKU], false),
    raw(APPLE_OID.sepOsVersion, device.sepOsVersion),
    raw(APPLE_OID.llbVersion, device.llbVersion),
    raw(APPLE_OID.osVersion, device.osVersion),
    raw(APPLE_OID.softwareUpdateDeviceId, device.softwareUpdateDeviceId),
    raw(APPLE_OID.secureBootLevel, 'Full Security'),
    raw(APPLE_OID.sipStatus, DER_INTEGER_ZERO),
    raw(APPLE_OID.thirdPartyKexts, DER_INTEGER_ZERO),
    // A User Enrollment attestation carries neither serial nor UDID (Apple Platform Security).
    ...(input.break === 'user-enrollment' ? [] : [raw(APPLE_OID.serialNumber, serial)]),
    ...(udid && input.break !== 'user-enrollment' ? [raw(APPLE_OID.udid, udid)] : []),
    ...(input.break === 'no-freshness' ? [] : [raw(APPLE_OID.freshnessCode, freshness)]),
  ];

  const utf8 = (v: string) => [{ utf8String: v }];
  const subject = new x509.Name([
    { CN: utf8(sha256(ecPoint(devicePublicKey)).toString('hex')) },
    { OU: utf8('AAA Certification') },
    { O: utf8('Apple Inc.') },
    { ST: utf8('California') },
  ]);
  const issued = Math.floor(now.getTime() / 1000) * 1000;
  const notBefore = new Date(issued - DAY);
  const leaf = await x509.X509CertificateGenerator.create({
    // Real serials are the issuance time in milliseconds (019DDABEBC85 = 2026-04-29T19:37:06.437Z).
    serialNumber: now.getTime().toString(16).padStart(12, '0'),
    subject,
    issuer: issuerCert.subjectName,
    notBefore,
    notAfter: new Date(notBefore.getTime() + 91 * DAY),
    publicKey: await x509.PublicKey.create(devicePublicKey.export({ type: 'spki', format: 'der' })),
    signingKey: signer.cryptoKey,
    signingAlgorithm: signer.algorithm,
    extensions,
  });
  const leafDer = Buffer.from(leaf.rawData);
  const x5c = input.break === 'chain' ? [leafDer] : [leafDer, Buffer.from(issuer.certDer)];
  const attObj = encodeAttObj(x5c);
  return { leafDer, x5c, attObj, attObjText: attObj.toString('base64url') };
}

/** CBOR {"fmt":"apple","attStmt":{"x5c":[…]}}; no authData (draft-09 §5: it SHOULD be omitted). */
export function encodeAttObj(x5c: Buffer[]): Buffer {
  const attStmt = new Map<string, unknown>([['x5c', x5c.map((c) => Buffer.from(c))]]);
  return Buffer.from(encoder.encode(new Map<string, unknown>([['fmt', 'apple'], ['attStmt', attStmt]])));
}
