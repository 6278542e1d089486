// The ARI certificate identifier (RFC 9773 §4.1): base64url (no padding) of the keyIdentifier
// of the certificate's Authority Key Identifier extension (RFC 5280 §4.2.1.1), ".", base64url of
// the DER encoding of its serialNumber without the tag and length octets (RFC 5280 §4.1.2.2).
// No I/O, no clock: parsing and computing only.
import { AcmeError } from '../errors.js';
import { children, integerHex, readTlv, splitSigned } from '../pki/der.js';
import { x509 } from '../pki/x509.js';

export interface CertId {
  keyIdentifier: Buffer;
  /** Lowercase hex without leading zero octets: how sa stores serials. */
  serial: string;
}

const PART = /^[A-Za-z0-9_-]+$/;

/** One base64url part, only in its canonical form: one string per value, so one certID per certificate. */
function decodePart(part: string, what: string): Buffer {
  const bytes = PART.test(part) ? Buffer.from(part, 'base64url') : Buffer.alloc(0);
  if (bytes.length === 0 || bytes.toString('base64url') !== part) {
    throw new AcmeError('malformed', `certID ${what} is not unpadded base64url (RFC 9773 §4.1)`);
  }
  return bytes;
}

/** Parses a certID; a malformed one is the client's error (RFC 9773 §4.1, RFC 8555 §6.7 malformed). */
export function parseCertId(certId: string): CertId {
  if (certId.length > 200) throw new AcmeError('malformed', 'certID is too long (RFC 9773 §4.1)');
  const parts = certId.split('.');
  if (parts.length !== 2) throw new AcmeError('malformed', 'a certID is two base64url parts joined by "." (RFC 9773 §4.1)');
  const keyIdentifier = decodePart(parts[0]!, 'keyIdentifier');
  const serial = decodePart(parts[1]!, 'serial');
  // RFC 5280 §4.1.2.2: a positive INTEGER of at most 20 octets; DER adds a 0x00 octet when the
  // top bit is set, and allows no other leading zero octet (X.690 §8.3.2).
  if (serial.length > 21 || (serial[0]! & 0x80) !== 0 || (serial.length > 1 && serial[0] === 0 && (serial[1]! & 0x80) === 0)) {
    throw new AcmeError('malformed', 'certID serial is not the DER content of a positive serial number (RFC 9773 §4.1, RFC 5280 §4.1.2.2)');
  }
  if (keyIdentifier.length > 64) throw new AcmeError('malformed', 'certID keyIdentifier is too long');
  return { keyIdentifier, serial: integerHex(serial) };
}

/**
 * The certID of a DER certificate, or undefined when it has no AKI keyIdentifier (every
 * certificate this CA issues has one: src/ca/authority.ts).
 */
export function certIdOf(der: Uint8Array): string | undefined {
  const { tbs } = splitSigned(der);
  const fields = children(tbs, readTlv(tbs, 0));
  const serial = fields[fields[0]?.tag === 0xa0 ? 1 : 0];
  if (serial?.tag !== 0x02) return undefined;
  const aki = new x509.X509Certificate(der).getExtension(x509.AuthorityKeyIdentifierExtension);
  if (!aki?.keyId) return undefined;
  return `${Buffer.from(aki.keyId, 'hex').toString('base64url')}.${Buffer.from(tbs.subarray(serial.start, serial.end)).toString('base64url')}`;
}
