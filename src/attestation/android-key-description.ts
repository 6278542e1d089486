// The Android Keystore attestation extension (KeyDescription), parsed tolerantly where devices
// differ and strictly where the ACME checks depend on it. Schema: "Key and ID attestation",
// https://source.android.com/docs/security/features/keystore/attestation#schema and
// https://developer.android.com/privacy-and-security/security-key-attestation#key_attestation_ext_schema
//
//   KeyDescription ::= SEQUENCE {
//     attestationVersion INTEGER, attestationSecurityLevel SecurityLevel,
//     keyMintVersion (keymasterVersion before 300) INTEGER, keyMintSecurityLevel SecurityLevel,
//     attestationChallenge OCTET STRING, uniqueId OCTET STRING,
//     softwareEnforced AuthorizationList, hardwareEnforced (teeEnforced before 300) AuthorizationList }
//   AuthorizationList ::= SEQUENCE { purpose [1] EXPLICIT SET OF INTEGER OPTIONAL, … }
//
// The AuthorizationList elements are read one by one, each with @peculiar/asn1-android's schema,
// rather than the whole list at once: real devices emit the tags out of order (the reason the
// package has NonStandardKeyDescription) and newer KeyMint versions add tags that no schema here
// knows yet; both would make a whole-list parse fail. Unknown tags are skipped and reported; a
// known tag that does not decode, or any tag twice in one list, rejects the extension.
import { AsnConvert } from '@peculiar/asn1-schema';
import { AuthorizationList } from '@peculiar/asn1-android';
import { AttestationError } from './verifier.js';

/** Android KeyDescription certificate extension (source.android.com, "Attestation extension"). */
export const OID_ANDROID_KEY_DESCRIPTION = '1.3.6.1.4.1.11129.2.1.17';

/** SecurityLevel ::= ENUMERATED { Software (0), TrustedEnvironment (1), StrongBox (2) }. */
export const SECURITY_LEVELS: Record<number, string> = { 0: 'Software', 1: 'TrustedEnvironment', 2: 'StrongBox' };

/**
 * AuthorizationList tags (KeyMint Tag values without their type bits) that the package's schema
 * decodes, named as its properties. Source: the schema cited above (attestation version 400) and
 * hardware/interfaces/security/keymint/aidl/android/hardware/security/keymint/Tag.aidl.
 */
const KNOWN_TAGS: Record<number, keyof AuthorizationList> = {
  1: 'purpose',
  2: 'algorithm',
  3: 'keySize',
  5: 'digest',
  6: 'padding',
  10: 'ecCurve',
  200: 'rsaPublicExponent',
  203: 'mgfDigest',
  303: 'rollbackResistance',
  305: 'earlyBootOnly',
  400: 'activeDateTime',
  401: 'originationExpireDateTime',
  402: 'usageExpireDateTime',
  405: 'usageCountLimit',
  503: 'noAuthRequired',
  504: 'userAuthType',
  505: 'authTimeout',
  506: 'allowWhileOnBody',
  507: 'trustedUserPresenceRequired',
  508: 'trustedConfirmationRequired',
  509: 'unlockedDeviceRequired',
  600: 'allApplications',
  601: 'applicationId',
  701: 'creationDateTime',
  702: 'origin',
  703: 'rollbackResistant',
  704: 'rootOfTrust',
  705: 'osVersion',
  706: 'osPatchLevel',
  709: 'attestationApplicationId',
  710: 'attestationIdBrand',
  711: 'attestationIdDevice',
  712: 'attestationIdProduct',
  713: 'attestationIdSerial',
  714: 'attestationIdImei',
  715: 'attestationIdMeid',
  716: 'attestationIdManufacturer',
  717: 'attestationIdModel',
  718: 'vendorPatchLevel',
  719: 'bootPatchLevel',
  720: 'deviceUniqueAttestation',
  723: 'attestationIdSecondImei',
  724: 'moduleHash',
};

export interface ParsedAuthorizationList {
  /** The decoded values of the known tags (the package's type; large INTEGERs may be strings). */
  values: AuthorizationList;
  /** Every tag present, in the order sent. */
  tags: number[];
  /** Tags present that this parser does not know (skipped). */
  unknownTags: number[];
}

export interface KeyDescription {
  attestationVersion: number;
  attestationSecurityLevel: number;
  /** keyMintVersion from attestation version 300 on, keymasterVersion before. */
  keymasterVersion: number;
  keymasterSecurityLevel: number;
  attestationChallenge: Buffer;
  uniqueId: Buffer;
  softwareEnforced: ParsedAuthorizationList;
  /** hardwareEnforced from version 300 on, teeEnforced before: the only list a verifier may trust. */
  hardwareEnforced: ParsedAuthorizationList;
}

const fail = (detail: string): never => {
  throw new AttestationError('keyDescription', `Android KeyDescription: ${detail}`);
};

interface Element {
  /** 0 universal, 2 context-specific (X.690 §8.1.2.2). */
  cls: number;
  constructed: boolean;
  tag: number;
  /** Offset of the identifier octet, of the first content octet, and just past the content. */
  offset: number;
  start: number;
  end: number;
}

/** One BER/DER element with definite length; high tag numbers (X.690 §8.1.2.4) are allowed. */
function readElement(buf: Uint8Array, offset: number, limit: number): Element {
  let i = offset;
  const next = (): number => (i < limit ? buf[i++]! : fail('truncated element'));
  const first = next();
  let tag = first & 0x1f;
  if (tag === 0x1f) {
    tag = 0;
    for (let b = 0x80; b & 0x80; ) {
      b = next();
      tag = tag * 128 + (b & 0x7f);
      if (tag > 0xffffff) fail('tag number too large');
    }
  }
  let len = next();
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) fail('indefinite or over-long length');
    len = 0;
    for (let k = 0; k < n; k++) len = len * 256 + next();
  }
  const end = i + len;
  if (end > limit) fail('element runs past the end of its container');
  return { cls: first >> 6, constructed: (first & 0x20) !== 0, tag, offset, start: i, end };
}

function childrenOf(buf: Uint8Array, parent: Element): Element[] {
  const out: Element[] = [];
  for (let at = parent.start; at < parent.end; at = out.at(-1)!.end) out.push(readElement(buf, at, parent.end));
  return out;
}

/** A non-negative INTEGER or ENUMERATED small enough for a JS number. */
function smallInteger(buf: Buffer, e: Element, universalTag: number, what: string): number {
  if (e.cls !== 0 || e.constructed || e.tag !== universalTag) fail(`${what} is not an ${universalTag === 2 ? 'INTEGER' : 'ENUMERATED'}`);
  const bytes = buf.subarray(e.start, e.end);
  if (bytes.length === 0 || bytes.length > 6 || (bytes[0]! & 0x80) !== 0) fail(`${what} is not a small non-negative integer`);
  return bytes.reduce((n, b) => n * 256 + b, 0);
}

function octets(buf: Buffer, e: Element, what: string): Buffer {
  if (e.cls !== 0 || e.constructed || e.tag !== 4) fail(`${what} is not an OCTET STRING`);
  return Buffer.from(buf.subarray(e.start, e.end));
}

function authorizationList(buf: Buffer, e: Element, what: string): ParsedAuthorizationList {
  if (e.cls !== 0 || !e.constructed || e.tag !== 16) fail(`${what} is not a SEQUENCE`);
  const values = new AuthorizationList();
  const tags: number[] = [];
  const unknownTags: number[] = [];
  for (const item of childrenOf(buf, e)) {
    if (item.cls !== 2 || !item.constructed) fail(`${what} has an element that is not an EXPLICIT context tag`);
    if (tags.includes(item.tag)) fail(`${what} has tag [${item.tag}] twice`);
    tags.push(item.tag);
    const name = KNOWN_TAGS[item.tag];
    if (!name) {
      unknownTags.push(item.tag);
      continue;
    }
    if (childrenOf(buf, item).length !== 1) fail(`${what} [${item.tag}] ${name} does not hold exactly one value`);
    // The element alone, wrapped in a SEQUENCE, is an AuthorizationList with one member.
    const element = buf.subarray(item.offset, item.end);
    const wrapped = Buffer.concat([Buffer.from([0x30]), derLength(element.length), element]);
    let one: AuthorizationList;
    try {
      one = AsnConvert.parse(wrapped, AuthorizationList);
    } catch (err) {
      return fail(`${what} [${item.tag}] ${name} does not decode: ${(err as Error).message}`);
    }
    if (one[name] === undefined) fail(`${what} [${item.tag}] ${name} does not decode`);
    Object.assign(values, { [name]: one[name] });
  }
  return { values, tags, unknownTags };
}

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** Parses the extnValue of the KeyDescription extension, or throws AttestationError('keyDescription'). */
export function parseKeyDescription(extnValue: Uint8Array): KeyDescription {
  const buf = Buffer.from(extnValue);
  const outer = readElement(buf, 0, buf.length);
  if (outer.cls !== 0 || !outer.constructed || outer.tag !== 16) fail('not a SEQUENCE');
  if (outer.end !== buf.length) fail('trailing bytes after the SEQUENCE');
  const f = childrenOf(buf, outer);
  if (f.length !== 8) fail(`has ${f.length} fields, the schema has 8`);
  const [version, level, kmVersion, kmLevel, challenge, uniqueId, sw, hw] = f as [Element, Element, Element, Element, Element, Element, Element, Element];
  return {
    attestationVersion: smallInteger(buf, version, 2, 'attestationVersion'),
    attestationSecurityLevel: smallInteger(buf, level, 10, 'attestationSecurityLevel'),
    keymasterVersion: smallInteger(buf, kmVersion, 2, 'keyMintVersion'),
    keymasterSecurityLevel: smallInteger(buf, kmLevel, 10, 'keyMintSecurityLevel'),
    attestationChallenge: octets(buf, challenge, 'attestationChallenge'),
    uniqueId: octets(buf, uniqueId, 'uniqueId'),
    softwareEnforced: authorizationList(buf, sw, 'softwareEnforced'),
    hardwareEnforced: authorizationList(buf, hw, 'hardwareEnforced'),
  };
}
