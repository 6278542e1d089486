import { randomBytes } from 'node:crypto';
import type { Account } from '../core.js';
import { ACCOUNT_COLUMNS, toAccount, type AccountRow } from './accounts.js';
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

export interface NonceRedemption {
  nonce: string;
  /** When the nonce would have expired, after which the row may go (the MAC refuses it by then). */
  expiresAt: Date;
  /** The account that signed the request (a "kid" request), read in the same statement. */
  accountId?: string;
}

export interface Redeemed {
  /** False when the nonce had been used before. */
  fresh: boolean;
  /** The signer's account as it is now; undefined for a "jwk" request or an unknown id. */
  account: Account | undefined;
}

/**
 * Records each nonce as used and reads each signer's account, in one statement however many
 * there are. The nonces must be distinct (NonceRedeemer holds a repeat back): a nonce twice in one
 * INSERT would come back fresh for both. A nonce is burnt whether or not its account exists.
 */
export async function redeemNonces(db: Queryable, batch: readonly NonceRedemption[]): Promise<Redeemed[]> {
  const { rows } = await db.query<AccountRow & { fresh: boolean }>(
    `WITH input AS (
       SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[]) WITH ORDINALITY AS t (nonce, expires_at, account_id, i)
     ), redeemed AS (
       INSERT INTO redeemed_nonces (nonce, expires_at) SELECT nonce, expires_at FROM input ON CONFLICT DO NOTHING RETURNING nonce
     )
     SELECT input.nonce IN (SELECT nonce FROM redeemed) AS fresh, ${ACCOUNT_COLUMNS.replace(/(\w+)/g, 'a.$1')}
     FROM input LEFT JOIN accounts a ON a.id = input.account_id ORDER BY input.i`,
    [batch.map((r) => r.nonce), batch.map((r) => r.expiresAt), batch.map((r) => r.accountId ?? null)],
  );
  return rows.map((r) => ({ fresh: r.fresh, account: r.id === null ? undefined : toAccount(r) }));
}

interface Waiting extends NonceRedemption {
  resolve(r: Redeemed): void;
  reject(err: unknown): void;
}

/**
 * Redeems the nonces of all the requests that reach it in one turn of the event loop with one
 * statement (redeemNonces). Every ACME POST redeems a nonce, and a statement costs the server and
 * Postgres about 0.3 ms of CPU whatever it does (bench/README.md); under a burst, tens of
 * requests arrive together and share one. A request waits at most for the current turn to end.
 * A nonce that is already in the batch being gathered goes in the next one: within one INSERT
 * both would come back fresh, while across statements the primary key lets exactly one
 * redemption through, as RFC 8555 §6.5 requires.
 */
export class NonceRedeemer {
  private gathering: Waiting[] = [];
  private held: Waiting[] = [];
  private scheduled = false;

  constructor(private readonly db: Queryable) {}

  redeem(r: NonceRedemption): Promise<Redeemed> {
    return new Promise((resolve, reject) => {
      const waiting = { ...r, resolve, reject };
      if (this.gathering.some((g) => g.nonce === r.nonce)) this.held.push(waiting);
      else this.gathering.push(waiting);
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      const batch = this.gathering;
      this.gathering = [];
      const held = this.held;
      this.held = [];
      for (const h of held) (this.gathering.some((g) => g.nonce === h.nonce) ? this.held : this.gathering).push(h);
      if (this.gathering.length) this.schedule();
      void this.run(batch);
    });
  }

  private async run(batch: Waiting[]): Promise<void> {
    try {
      const results = await redeemNonces(this.db, batch);
      batch.forEach((w, i) => w.resolve(results[i]!));
    } catch (err) {
      for (const w of batch) w.reject(err);
    }
  }
}

export async function purgeExpiredNonces(db: Db, now: Date): Promise<number> {
  const { rowCount } = await db.query('DELETE FROM redeemed_nonces WHERE expires_at <= $1', [now]);
  return rowCount;
}
