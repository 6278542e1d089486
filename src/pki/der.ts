// Just enough DER (X.690 §8.1) to cut a signed structure into its to-be-signed bytes and its
// signature without re-encoding anything: a signature covers the bytes as sent.

export interface Tlv {
  tag: number;
  /** Offset of the first content byte. */
  start: number;
  /** Offset just past the last content byte. */
  end: number;
  /** Offset of the tag byte. */
  offset: number;
}

export class DerError extends Error {
  override name = 'DerError';
}

export function readTlv(buf: Uint8Array, offset: number): Tlv {
  if (offset + 2 > buf.length) throw new DerError('truncated DER element');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError('multi-byte DER tags are not used here');
  let len = buf[offset + 1]!;
  let start = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new DerError('DER length form not allowed (indefinite or over 4 bytes)');
    if (start + n > buf.length) throw new DerError('truncated DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[start + i]!;
    start += n;
  }
  const end = start + len;
  if (end > buf.length) throw new DerError('DER element runs past the end of its input');
  return { tag, start, end, offset };
}

/** The elements directly inside a constructed element. */
export function children(buf: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = parent.start; at < parent.end; ) {
    const t = readTlv(buf, at);
    // readTlv bounds an element by the whole input; inside a parent it must also end within it.
    if (t.end > parent.end) throw new DerError('DER element runs past the end of its parent');
    out.push(t);
    at = t.end;
  }
  return out;
}

/**
 * Splits a signed SEQUENCE { tbs, signatureAlgorithm, signature BIT STRING } (an X.509
 * certificate, a PKCS #10 request, a CRL) into the exact tbs bytes and the signature bytes.
 */
export function splitSigned(der: Uint8Array): { tbs: Uint8Array; algorithm: Uint8Array; signature: Uint8Array } {
  const outer = readTlv(der, 0);
  if (outer.tag !== 0x30 || outer.end !== der.length) throw new DerError('not a single DER SEQUENCE');
  const parts = children(der, outer);
  if (parts.length !== 3) throw new DerError('a signed structure has exactly three parts');
  const [tbs, alg, sig] = parts as [Tlv, Tlv, Tlv];
  if (sig.tag !== 0x03 || der[sig.start] !== 0) throw new DerError('signature is not a whole-byte BIT STRING');
  return { tbs: der.subarray(tbs.offset, tbs.end), algorithm: der.subarray(alg.offset, alg.end), signature: der.subarray(sig.start + 1, sig.end) };
}

/** Lowercase hex of a positive DER INTEGER's content octets, without leading zero octets (serials). */
export function integerHex(content: Uint8Array): string {
  let i = 0;
  while (i < content.length - 1 && content[i] === 0) i++;
  return Buffer.from(content.subarray(i)).toString('hex');
}

export interface CertificateFields {
  /** The DER subject Name, as signed (RFC 5280 §4.1.2.6): what an OCSP CertID's issuerNameHash covers. */
  subject: Buffer;
  /** The DER SubjectPublicKeyInfo (RFC 5280 §4.1.2.7). */
  spki: Buffer;
  /**
   * The subjectPublicKey BIT STRING's key bits, without tag, length and unused-bits octet: what
   * an OCSP issuerKeyHash and a ResponderID byKey are hashes of (RFC 6960 §4.1.1, §4.2.1).
   */
  publicKeyBits: Buffer;
}

/** Cuts the subject and public key out of a DER certificate, byte for byte. */
export function certificateFields(der: Uint8Array): CertificateFields {
  const { tbs } = splitSigned(der);
  const fields = children(tbs, readTlv(tbs, 0));
  // TBSCertificate ::= SEQUENCE { [0] version OPTIONAL, serial, signature, issuer, validity, subject, spki, … }
  const first = fields[0]?.tag === 0xa0 ? 1 : 0;
  const subject = fields[first + 4];
  const spki = fields[first + 5];
  if (!subject || !spki || subject.tag !== 0x30 || spki.tag !== 0x30) throw new DerError('not a DER X.509 certificate');
  const slice = (t: Tlv) => Buffer.from(tbs.subarray(t.offset, t.end));
  return { subject: slice(subject), spki: slice(spki), publicKeyBits: spkiParts(tbs, spki).publicKeyBits };
}

function spkiParts(buf: Uint8Array, spki: Tlv): SpkiParts {
  // SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier, subjectPublicKey BIT STRING }
  // AlgorithmIdentifier ::= SEQUENCE { algorithm OBJECT IDENTIFIER, parameters ANY OPTIONAL } (RFC 5280 §4.1.1.2)
  const [algorithm, bits, extra] = children(buf, spki);
  const [id] = algorithm?.tag === 0x30 ? children(buf, algorithm) : [];
  if (!id || id.tag !== 0x06 || extra) throw new DerError('not a DER SubjectPublicKeyInfo');
  if (!bits || bits.tag !== 0x03 || bits.end === bits.start || buf[bits.start] !== 0) throw new DerError('subjectPublicKey is not a whole-byte BIT STRING');
  return { algorithm: Buffer.from(buf.subarray(id.offset, id.end)), publicKeyBits: Buffer.from(buf.subarray(bits.start + 1, bits.end)) };
}

export interface SpkiParts {
  /** The key's algorithm OBJECT IDENTIFIER, DER (tag and length included). */
  algorithm: Buffer;
  /** The subjectPublicKey BIT STRING's key bits: what a key identifier hashes (RFC 5280 §4.2.1.2). */
  publicKeyBits: Buffer;
}

/** The algorithm and key bits of a DER SubjectPublicKeyInfo; the input must be that one SEQUENCE, nothing after. */
export function subjectPublicKeyInfo(spki: Uint8Array): SpkiParts {
  const outer = readTlv(spki, 0);
  if (outer.tag !== 0x30 || outer.end !== spki.length) throw new DerError('not a single DER SubjectPublicKeyInfo');
  return spkiParts(spki, outer);
}
