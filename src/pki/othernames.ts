// The two otherName forms device certificates carry (draft-ietf-acme-device-attest §3, §4):
//   PermanentIdentifier ::= SEQUENCE { identifierValue UTF8String OPTIONAL,
//                                      assigner OBJECT IDENTIFIER OPTIONAL }   (RFC 4043 §2)
//   HardwareModuleName  ::= SEQUENCE { hwType OBJECT IDENTIFIER,
//                                      hwSerialNum OCTET STRING }             (RFC 4108 §5)
// and the ACME identifier text each maps to: "value[/assigner-oid]" and "serial/type-oid".
// Encoding and decoding are written out in DER (X.690) because the forms are this small.
import { children, readTlv } from './der.js';

/** id-on-permanentIdentifier (RFC 4043 §2) and id-on-hardwareModuleName (RFC 4108 §5). */
export const OID_PERMANENT_IDENTIFIER = '1.3.6.1.5.5.7.8.3';
export const OID_HARDWARE_MODULE_NAME = '1.3.6.1.5.5.7.8.4';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Dotted text of the contents of a DER OBJECT IDENTIFIER (X.690 §8.19). */
export function oidText(content: Uint8Array): string {
  const arcs: bigint[] = [];
  let v = 0n;
  for (let i = 0; i < content.length; i++) {
    const b = content[i]!;
    if (v === 0n && b === 0x80) throw new Error('OID arc has a leading 0x80 byte');
    v = (v << 7n) | BigInt(b & 0x7f);
    if (!(b & 0x80)) {
      arcs.push(v);
      v = 0n;
    } else if (i === content.length - 1) throw new Error('OID ends inside an arc');
  }
  if (!arcs.length) throw new Error('OID is empty');
  const first = arcs[0]! < 40n ? 0n : arcs[0]! < 80n ? 1n : 2n;
  return [first, arcs[0]! - first * 40n, ...arcs.slice(1)].join('.');
}

function tlv(tag: number, content: Uint8Array): Buffer {
  const n = content.length;
  const len = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : n < 0x10000 ? [0x82, n >> 8, n & 0xff] : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  return Buffer.concat([Buffer.from([tag, ...len]), content]);
}

export function encodeOid(oid: string): Buffer {
  const arcs = oid.split('.').map((a) => BigInt(a));
  const bytes: number[] = [];
  const push = (v: bigint) => {
    const group = [Number(v & 0x7fn)];
    for (v >>= 7n; v > 0n; v >>= 7n) group.unshift(Number(v & 0x7fn) | 0x80);
    bytes.push(...group);
  };
  push(arcs[0]! * 40n + arcs[1]!);
  for (const a of arcs.slice(2)) push(a);
  return tlv(0x06, Buffer.from(bytes));
}

/** GeneralName [0] otherName with its value [0] EXPLICIT (RFC 5280 §4.2.1.6). */
function otherName(typeId: string, value: Buffer): Buffer {
  return tlv(0xa0, Buffer.concat([encodeOid(typeId), tlv(0xa0, value)]));
}

/** The otherName GeneralName for a permanent-identifier value "id[/assigner]". */
export function permanentIdentifierName(value: string): Buffer {
  const slash = value.lastIndexOf('/');
  const hasAssigner = slash > 0 && /^\d+(\.\d+)+$/.test(value.slice(slash + 1));
  const id = hasAssigner ? value.slice(0, slash) : value;
  const parts = [tlv(0x0c, Buffer.from(id, 'utf8'))];
  if (hasAssigner) parts.push(encodeOid(value.slice(slash + 1)));
  return otherName(OID_PERMANENT_IDENTIFIER, tlv(0x30, Buffer.concat(parts)));
}

/** The otherName GeneralName for a hardware-module value "serial/type". */
export function hardwareModuleName(value: string): Buffer {
  const slash = value.lastIndexOf('/');
  return otherName(OID_HARDWARE_MODULE_NAME, tlv(0x30, Buffer.concat([encodeOid(value.slice(slash + 1)), tlv(0x04, Buffer.from(value.slice(0, slash), 'utf8'))])));
}

/** DER of a subjectAltName extension value made of the given GeneralName encodings. */
export function generalNames(names: Buffer[]): Buffer {
  return tlv(0x30, Buffer.concat(names));
}

/**
 * An otherName value (the content inside its [0] EXPLICIT, as @peculiar/asn1-x509 hands it over)
 * as the identifier text an order names, octet for octet (draft §3, §4).
 */
export function otherNameIdentifier(typeId: string, der: Uint8Array): { type: 'permanent-identifier' | 'hardware-module'; value: string } | undefined {
  if (typeId !== OID_PERMANENT_IDENTIFIER && typeId !== OID_HARDWARE_MODULE_NAME) return undefined;
  const seq = readTlv(der, 0);
  if (seq.tag !== 0x30 || seq.end !== der.length) throw new Error('not a single DER SEQUENCE');
  const parts = children(der, seq);
  const text = (t: { start: number; end: number }) => utf8.decode(der.subarray(t.start, t.end));
  const noSlash = (s: string, what: string) => {
    // "/" separates the parts of the identifier text; a value holding one would be ambiguous.
    if (s.length === 0 || s.includes('/')) throw new Error(`${what} is empty or contains "/"`);
    return s;
  };
  if (typeId === OID_PERMANENT_IDENTIFIER) {
    const [value, assigner, extra] = parts;
    // The draft requires identifierValue (RFC 4043's subject serialNumber fallback is not allowed).
    if (!value || value.tag !== 0x0c) throw new Error('PermanentIdentifier has no identifierValue');
    if (extra || (assigner && assigner.tag !== 0x06)) throw new Error('PermanentIdentifier has unexpected members');
    const id = noSlash(text(value), 'identifierValue');
    return { type: 'permanent-identifier', value: assigner ? `${id}/${oidText(der.subarray(assigner.start, assigner.end))}` : id };
  }
  const [type, serial, extra] = parts;
  if (!type || type.tag !== 0x06 || !serial || serial.tag !== 0x04 || extra) throw new Error('HardwareModuleName is not { hwType OID, hwSerialNum OCTET STRING }');
  return { type: 'hardware-module', value: `${noSlash(text(serial), 'hwSerialNum')}/${oidText(der.subarray(type.start, type.end))}` };
}
