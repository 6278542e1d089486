import { randomBytes } from 'node:crypto';
import type { Db, Queryable } from './db.js';

// RFC 8555 §6.5 across instances: nonces are minted without the database (acme/nonce.ts) under
// a key kept here, and each redemption is a row whose primary key lets exactly one redemption
// of a nonce through, on whichever instance it arrives.

const NONCE_KEY = 'nonce-hmac';

/** The nonce HMAC key shared by every instance: made by the first one to ask, read by the rest. */
export async function nonceKey(db: Db, now: Date): Promise<Buffer> {
  await db.query('INSERT INTO secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING', [NONCE_KEY, randomBytes(32), now]);
  const { rows } = await db.query<{ value: Buffer }>('SELECT value FROM secrets WHERE name = $1', [NONCE_KEY]);
  return rows[0]!.value;
}

/**
 * Records the nonce as used; true when this was its first use. `expiresAt` is when the nonce
 * would have expired, after which the row may go (the MAC check refuses the nonce by then).
 */
export async function redeemNonce(db: Queryable, nonce: string, expiresAt: Date): Promise<boolean> {
  const { rowCount } = await db.query('INSERT INTO redeemed_nonces (nonce, expires_at) VALUES ($1, $2) ON CONFLICT DO NOTHING', [nonce, expiresAt]);
  return rowCount === 1;
}

export async function purgeExpiredNonces(db: Db, now: Date): Promise<number> {
  const { rowCount } = await db.query('DELETE FROM redeemed_nonces WHERE expires_at <= $1', [now]);
  return rowCount;
}
