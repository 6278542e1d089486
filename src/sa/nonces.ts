import type { Db } from './db.js';

// RFC 8555 §6.5. A nonce is a row; redeeming deletes it, so the database decides which of two
// concurrent redemptions (possibly on two instances) wins.

export async function storeNonce(db: Db, nonce: string, expiresAt: Date): Promise<void> {
  await db.query('INSERT INTO nonces (nonce, expires_at) VALUES ($1, $2)', [nonce, expiresAt]);
}

/** True when the nonce existed, had not expired, and is now used up. */
export async function redeemNonce(db: Db, nonce: string, now: Date): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM nonces WHERE nonce = $1 AND expires_at > $2', [nonce, now]);
  return rowCount === 1;
}

export async function purgeExpiredNonces(db: Db, now: Date): Promise<number> {
  const { rowCount } = await db.query('DELETE FROM nonces WHERE expires_at <= $1', [now]);
  return rowCount;
}
