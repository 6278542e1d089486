// Apple-format attestations for the driver, made lean. The device simulator builds a leaf with
// @peculiar/x509 and WebCrypto, about 18 ms of the driver's CPU per attestation on the shared
// 2-core machine: the device-attest figure measured the driver more than the server. Here each
// worker has the simulator build its leaf once, for a placeholder token; every flow then
// writes the challenge's freshness code (SHA-256 of the token, the leaf's last extension) over
// the placeholder's in the to-be-signed bytes and signs those again with the simulator's Sub CA
// key (node:crypto). The server sees what a real device sends: a leaf over the device's key,
// with this challenge's freshness code, signed by the Sub CA, and checks all of it.
import { createHash, sign, type KeyObject } from 'node:crypto';
import { buildAttestation, encodeAttObj, type AttestationIssuer, type DeviceFacts } from '../src/devicesim/attestation.js';
import { splitSigned } from '../src/pki/der.js';
import { bitString, sequence } from '../src/pki/der-write.js';

const PLACEHOLDER = 'bench-attestation-placeholder-token';
const sha256 = (text: string): Buffer => createHash('sha256').update(text).digest();

export class AttestationFactory {
  private constructor(
    private readonly tbs: Buffer,
    private readonly freshnessAt: number,
    private readonly algorithm: Uint8Array,
    private readonly issuer: AttestationIssuer,
    private readonly hash: string,
  ) {}

  static async create(devicePublicKey: KeyObject, device: DeviceFacts, issuer: AttestationIssuer): Promise<AttestationFactory> {
    const built = await buildAttestation({ devicePublicKey, token: PLACEHOLDER, device, issuer, now: new Date() });
    const { tbs, algorithm } = splitSigned(built.leafDer);
    const placeholder = sha256(PLACEHOLDER);
    const at = Buffer.from(tbs).indexOf(placeholder);
    // The freshness code is 32 bytes of hash output: it cannot occur anywhere else by chance.
    if (at < 0 || Buffer.from(tbs).indexOf(placeholder, at + 1) >= 0) throw new Error('the freshness code is not in the leaf exactly once');
    const hash = issuer.key.asymmetricKeyDetails?.namedCurve === 'secp384r1' ? 'sha384' : 'sha256';
    return new AttestationFactory(Buffer.from(tbs), at, algorithm, issuer, hash);
  }

  /** The attObj text for the challenge `token`: the leaf with its freshness code, signed again. */
  forToken(token: string): string {
    const tbs = Buffer.from(this.tbs);
    sha256(token).copy(tbs, this.freshnessAt);
    const leaf = sequence([tbs, this.algorithm, bitString(sign(this.hash, tbs, this.issuer.key))]);
    return encodeAttObj([leaf, this.issuer.certDer]).toString('base64url');
  }
}
