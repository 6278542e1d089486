// A PKCS #10 request (RFC 2986) for one DNS name, assembled directly in DER and signed with
// node:crypto: the driver needs one per flow (each flow orders a fresh name, so that every flow
// runs a real validation instead of reusing an authorization), and a general X.509 library would
// cost the shared CPU more than the server's own work.
import { createPublicKey, sign, type KeyObject } from 'node:crypto';
import { encodeOid } from '../src/pki/othernames.js';

function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  const n = body.length;
  const len = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return Buffer.concat([Buffer.from([tag, ...len]), body]);
}

export class CsrFactory {
  private readonly spki: Buffer;
  constructor(private readonly key: KeyObject) {
    this.spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  }

  /** base64url DER of a CSR with subject CN=name and a subjectAltName dNSName=name. */
  forName(name: string): string {
    const dns = Buffer.from(name, 'ascii');
    const san = tlv(0x30, encodeOid('2.5.29.17'), tlv(0x04, tlv(0x30, tlv(0x82, dns))));
    const extensionRequest = tlv(0x30, encodeOid('1.2.840.113549.1.9.14'), tlv(0x31, tlv(0x30, san)));
    const subject = tlv(0x30, tlv(0x31, tlv(0x30, encodeOid('2.5.4.3'), tlv(0x0c, dns))));
    const info = tlv(0x30, Buffer.from([0x02, 0x01, 0x00]), subject, this.spki, tlv(0xa0, extensionRequest));
    const signature = sign('sha256', info, this.key); // DER ECDSA-Sig-Value
    const algorithm = tlv(0x30, encodeOid('1.2.840.10045.4.3.2')); // ecdsa-with-SHA256
    return tlv(0x30, info, algorithm, tlv(0x03, Buffer.from([0]), signature)).toString('base64url');
  }
}
