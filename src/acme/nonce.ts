// Replay nonces (RFC 8555 §6.5) that cost no database write to hand out. A nonce is
//   base64url( issued-at ms (6 bytes) ‖ random (10 bytes) ‖ HMAC-SHA256(key, the first 16)[0..16) )
// so any instance holding the key (shared through the database, sa/nonces.ts) can tell that the
// nonce came from this CA and when, with no lookup. What the MAC cannot tell is whether the nonce
// was already used: redemption is one INSERT of the nonce into a table with a unique key
// (sa/nonces.ts), which every instance shares, so a nonce issued by one instance is redeemed by
// any other exactly once. Rows are kept only until the nonce would have expired anyway.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const TIME_BYTES = 6;
const RANDOM_BYTES = 10;
const MAC_BYTES = 16;
const BODY_BYTES = TIME_BYTES + RANDOM_BYTES;
const NONCE_BYTES = BODY_BYTES + MAC_BYTES;
/** base64url of 32 bytes, no padding. */
const NONCE_TEXT = /^[A-Za-z0-9_-]{43}$/;

export class Nonces {
  /** @param key the HMAC key, at least 32 bytes; @param lifetimeMs how long a nonce may wait to be used. */
  constructor(
    private readonly key: Buffer,
    readonly lifetimeMs: number,
  ) {
    if (key.length < 32) throw new Error('the nonce key must be at least 32 bytes');
  }

  mint(now: Date): string {
    const out = Buffer.allocUnsafe(NONCE_BYTES);
    out.writeUIntBE(now.getTime(), 0, TIME_BYTES);
    randomBytes(RANDOM_BYTES).copy(out, TIME_BYTES);
    this.mac(out.subarray(0, BODY_BYTES)).copy(out, BODY_BYTES);
    return out.toString('base64url');
  }

  /**
   * When the nonce expires, if it is one of ours and has not yet expired; undefined for anything
   * else (wrong length, bad MAC, expired). Says nothing about whether it was used: that is the
   * redemption's job.
   */
  expiry(nonce: string, now: Date): Date | undefined {
    if (!NONCE_TEXT.test(nonce)) return undefined;
    const raw = Buffer.from(nonce, 'base64url');
    if (raw.length !== NONCE_BYTES) return undefined;
    if (!timingSafeEqual(this.mac(raw.subarray(0, BODY_BYTES)), raw.subarray(BODY_BYTES))) return undefined;
    const expiresAt = raw.readUIntBE(0, TIME_BYTES) + this.lifetimeMs;
    return expiresAt > now.getTime() ? new Date(expiresAt) : undefined;
  }

  private mac(body: Buffer): Buffer {
    return createHmac('sha256', this.key).update(body).digest().subarray(0, MAC_BYTES);
  }
}
