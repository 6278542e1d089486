// Just enough DER (X.690 §8, §10) to assemble a structure whose shape is fixed in code, such as
// a CRL of many entries (ca/crl.ts) or an end-entity certificate (ca/leaf.ts), in time linear in
// its size: every function returns the
// finished bytes of one element, and a constructed element concatenates its parts once.
// The reader is der.ts.

/** Universal tags used here (X.680 §8.4), and the context-specific constructed [n] base (X.690 §8.1.2). */
const TAG = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  null: 0x05,
  oid: 0x06,
  enumerated: 0x0a,
  utf8String: 0x0c,
  printableString: 0x13,
  ia5String: 0x16,
  sequence: 0x30,
  set: 0x31,
  utcTime: 0x17,
  generalizedTime: 0x18,
  contextPrimitive: 0x80,
  contextConstructed: 0xa0,
} as const;

/** Tag and definite-form length octets (X.690 §8.1.2, §8.1.3; §10.1: the shortest form). */
function header(tag: number, length: number): number[] {
  if (length < 0x80) return [tag, length];
  const octets: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) octets.unshift(rest % 256);
  return [tag, 0x80 | octets.length, ...octets];
}

/**
 * One element: tag, length, and the content given as one buffer or as parts joined in order.
 * One allocation and one copy of each part, so that nesting costs time linear in the bytes.
 */
export function tlv(tag: number, content: Uint8Array | readonly Uint8Array[]): Buffer {
  const parts = content instanceof Uint8Array ? [content] : content;
  let length = 0;
  for (const part of parts) length += part.length;
  const head = header(tag, length);
  const out = Buffer.allocUnsafe(head.length + length);
  out.set(head, 0);
  let at = head.length;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

export const sequence = (parts: readonly Uint8Array[]): Buffer => tlv(TAG.sequence, parts);

/** A SET OF with the elements given in DER order already (X.690 §11.6); one element needs none. */
export const set = (parts: readonly Uint8Array[]): Buffer => tlv(TAG.set, parts);

/** [n] EXPLICIT: a constructed context-specific tag around one whole element (X.690 §8.14). */
export const explicit = (n: number, element: Uint8Array): Buffer => tlv(TAG.contextConstructed | n, element);

/**
 * [n] IMPLICIT over a primitive type: the context-specific tag replaces the type's own (X.690
 * §8.14.3), such as a GeneralName dNSName [2] IA5String or iPAddress [7] OCTET STRING.
 */
export const implicitPrimitive = (n: number, content: Uint8Array): Buffer => tlv(TAG.contextPrimitive | n, content);

/** [n] IMPLICIT over a constructed type (SEQUENCE OF …): the parts, under a constructed context tag. */
export const implicitConstructed = (n: number, parts: readonly Uint8Array[]): Buffer => tlv(TAG.contextConstructed | n, parts);

export const octetString = (content: Uint8Array): Buffer => tlv(TAG.octetString, content);

/** BOOLEAN TRUE: the content octet is FF (X.690 §11.1). FALSE is a DEFAULT wherever it is used here, so it is left out. */
export const TRUE = Buffer.from([TAG.boolean, 0x01, 0xff]);

/** A BIT STRING of whole bytes: the unused-bits octet is 0 (X.690 §8.6.2). */
export const bitString = (content: Uint8Array): Buffer => tlv(TAG.bitString, [Buffer.from([0]), content]);

/**
 * A BIT STRING of named bits (X.690 §11.2.2), given as bit numbers (0 is the first, most
 * significant bit): trailing zero bits are left out, and the first octet says how many bits of
 * the last octet are unused. A KeyUsage (RFC 5280 §4.2.1.3) is one.
 */
export function namedBits(bits: readonly number[]): Buffer {
  if (bits.some((b) => !Number.isSafeInteger(b) || b < 0)) throw new DerWriteError(`named bits ${bits.join(', ')} are not bit numbers`);
  if (!bits.length) return tlv(TAG.bitString, Buffer.from([0]));
  const last = Math.max(...bits);
  const octets = Buffer.alloc(Math.floor(last / 8) + 1);
  for (const b of bits) octets[b >> 3]! |= 0x80 >> (b & 7);
  return tlv(TAG.bitString, [Buffer.from([7 - (last & 7)]), octets]);
}

export const NULL = Buffer.from([TAG.null, 0x00]);

export class DerWriteError extends Error {
  override name = 'DerWriteError';
}

/** Content octets of a non-negative integer given as big-endian bytes: minimal, two's complement (X.690 §8.3.2). */
function unsignedContent(bytes: Buffer): Buffer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  const minimal = bytes.subarray(i);
  return minimal[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), minimal]) : minimal;
}

const HEX = /^[0-9a-f]+$/;

/**
 * A positive INTEGER from lowercase hex (how serials are stored): leading zero octets dropped, a
 * 00 octet prepended when the high bit is set, so that it does not read as negative. Equal
 * numbers give equal bytes however they are spelt ("00ab", "ab").
 */
export function integerFromHex(hex: string): Buffer {
  if (!HEX.test(hex)) throw new DerWriteError(`"${hex}" is not lowercase hex`);
  const content = unsignedContent(Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex'));
  if (content.length === 1 && content[0] === 0) throw new DerWriteError('the integer is zero, not positive');
  return tlv(TAG.integer, content);
}

function smallContent(n: number): Buffer {
  if (!Number.isSafeInteger(n) || n < 0) throw new DerWriteError(`${n} is not a non-negative safe integer`);
  return unsignedContent(Buffer.from(n.toString(16).padStart(16, '0'), 'hex'));
}

/** A non-negative INTEGER from a number (a version, a CRL number). */
export const integer = (n: number): Buffer => tlv(TAG.integer, smallContent(n));

/** ENUMERATED is encoded as an INTEGER is (X.690 §8.4). */
export const enumerated = (n: number): Buffer => tlv(TAG.enumerated, smallContent(n));

/** An OBJECT IDENTIFIER from its dotted form (X.690 §8.19): the first two arcs in one subidentifier, base 128. */
export function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map((a) => (/^\d+$/.test(a) ? BigInt(a) : -1n));
  const [first, second, ...rest] = arcs;
  if (first === undefined || second === undefined || first < 0n || first > 2n || second < 0n || (first < 2n && second > 39n) || rest.some((a) => a < 0n)) {
    throw new DerWriteError(`"${dotted}" is not an object identifier`);
  }
  const octets: number[] = [];
  for (const arc of [first * 40n + second, ...rest]) {
    const base128: number[] = [Number(arc & 0x7fn)];
    for (let v = arc >> 7n; v > 0n; v >>= 7n) base128.unshift(Number(v & 0x7fn) | 0x80);
    octets.push(...base128);
  }
  return tlv(TAG.oid, Buffer.from(octets));
}

/**
 * An X.509 Time (RFC 5280 §4.1.2.5, §5.1.2.4): UTCTime YYMMDDHHMMSSZ for the years 1950 to 2049,
 * GeneralizedTime YYYYMMDDHHMMSSZ otherwise; always UTC, whole seconds (fractions are cut off).
 */
export function time(d: Date): Buffer {
  const year = d.getUTCFullYear();
  if (!(year >= 0 && year <= 9999)) throw new DerWriteError(`${d.toString()} cannot be written as an X.509 time`);
  // toISOString: YYYY-MM-DDTHH:MM:SS.sssZ for these years.
  const iso = d.toISOString();
  const digits = iso.slice(0, 4) + iso.slice(5, 7) + iso.slice(8, 10) + iso.slice(11, 13) + iso.slice(14, 16) + iso.slice(17, 19) + 'Z';
  return year >= 1950 && year <= 2049 ? tlv(TAG.utcTime, Buffer.from(digits.slice(2), 'latin1')) : tlv(TAG.generalizedTime, Buffer.from(digits, 'latin1'));
}

/** A UTF8String: the text's UTF-8 octets (X.690 §8.23.10). */
export const utf8String = (text: string): Buffer => tlv(TAG.utf8String, Buffer.from(text, 'utf8'));

/** The characters X.680 allows in a PrintableString: letters, digits, space and '()+,-./:=? */
const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;
export const isPrintable = (text: string): boolean => PRINTABLE.test(text);

export function printableString(text: string): Buffer {
  if (!isPrintable(text)) throw new DerWriteError(`"${text}" has characters outside PrintableString`);
  return tlv(TAG.printableString, Buffer.from(text, 'latin1'));
}

const IA5 = /^[\x00-\x7f]*$/;

/** The bytes of IA5String (International Alphabet No. 5: ASCII) text, for a tag that may be an implicit one. */
export function ia5(text: string): Buffer {
  if (!IA5.test(text)) throw new DerWriteError(`"${text}" has characters outside IA5String`);
  return Buffer.from(text, 'latin1');
}
