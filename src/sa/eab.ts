// External account binding keys (RFC 8555 §7.3.4) as stored state: created by the operator,
// used by newAccount, revoked by the operator. Binding an account is one transaction: the key's
// use is counted by a guarded UPDATE, the account and its binding are inserted, or nothing is.
import type { Account } from '../core.js';
import { insertAccount, accountByThumbprint, type NewAccount } from './accounts.js';
import { isUniqueViolation, type Db, type Queryable } from './db.js';

export interface EabKey {
  keyId: string;
  hmacKey: Buffer;
  reusable: boolean;
  note: string | null;
  uses: number;
  createdAt: Date;
  revokedAt: Date | null;
}

interface EabKeyRow {
  key_id: string;
  hmac_key: Buffer;
  reusable: boolean;
  note: string | null;
  uses: number;
  created_at: Date;
  revoked_at: Date | null;
}

const toKey = (r: EabKeyRow): EabKey => ({
  keyId: r.key_id,
  hmacKey: r.hmac_key,
  reusable: r.reusable,
  note: r.note,
  uses: r.uses,
  createdAt: r.created_at,
  revokedAt: r.revoked_at,
});

const COLUMNS = 'key_id, hmac_key, reusable, note, uses, created_at, revoked_at';

export async function createEabKey(db: Db, k: { keyId: string; hmacKey: Buffer; reusable: boolean; note: string | null; createdAt: Date }): Promise<EabKey> {
  const { rows } = await db.query<EabKeyRow>(
    `INSERT INTO eab_keys (key_id, hmac_key, reusable, note, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING ${COLUMNS}`,
    [k.keyId, k.hmacKey, k.reusable, k.note, k.createdAt],
  );
  return toKey(rows[0]!);
}

export async function eabKeyById(db: Queryable, keyId: string): Promise<EabKey | undefined> {
  const { rows } = await db.query<EabKeyRow>(`SELECT ${COLUMNS} FROM eab_keys WHERE key_id = $1`, [keyId]);
  return rows[0] && toKey(rows[0]);
}

export interface EabKeyListing extends Omit<EabKey, 'hmacKey'> {
  /** The accounts the key bound, oldest first. */
  accounts: { accountId: string; boundAt: Date }[];
}

/** Every key without its secret, with the accounts it bound; newest first. */
export async function listEabKeys(db: Db): Promise<EabKeyListing[]> {
  const { rows } = await db.query<Omit<EabKeyRow, 'hmac_key'> & { accounts: { account_id: string; created_at: string }[] | null }>(
    `SELECT k.key_id, k.reusable, k.note, k.uses, k.created_at, k.revoked_at,
            (SELECT json_agg(json_build_object('account_id', b.account_id, 'created_at', b.created_at) ORDER BY b.created_at, b.account_id)
             FROM eab_bindings b WHERE b.key_id = k.key_id) AS accounts
     FROM eab_keys k ORDER BY k.created_at DESC, k.key_id`,
  );
  return rows.map((r) => ({
    keyId: r.key_id,
    reusable: r.reusable,
    note: r.note,
    uses: r.uses,
    createdAt: r.created_at,
    revokedAt: r.revoked_at,
    accounts: (r.accounts ?? []).map((a) => ({ accountId: a.account_id, boundAt: new Date(a.created_at) })),
  }));
}

/** Revokes a key: no account can be bound with it afterwards. False when unknown or already revoked. */
export async function revokeEabKey(db: Db, keyId: string, now: Date): Promise<boolean> {
  const { rowCount } = await db.query('UPDATE eab_keys SET revoked_at = $2 WHERE key_id = $1 AND revoked_at IS NULL', [keyId, now]);
  return rowCount === 1;
}

export type BindResult =
  | { status: 'created'; account: Account }
  /** The account key already had an account (two newAccount requests with one key raced). */
  | { status: 'exists'; account: Account }
  /** The key was revoked or used up (single-use) before this request could use it. */
  | { status: 'unavailable' };

/**
 * Creates an account bound to an EAB key, in one transaction: the key's use is counted first
 * (a guarded UPDATE that a revoked or used-up single-use key fails), then the account and the
 * binding are inserted. The row lock the UPDATE takes makes concurrent uses of one single-use
 * key wait for each other, so exactly one of them binds.
 */
export async function createBoundAccount(db: Db, a: NewAccount, binding: { keyId: string; jws: unknown }): Promise<BindResult> {
  try {
    return await db.transaction(async (tx): Promise<BindResult> => {
      const used = await tx.query(
        `UPDATE eab_keys SET uses = uses + 1 WHERE key_id = $1 AND revoked_at IS NULL AND (reusable OR uses = 0)`,
        [binding.keyId],
      );
      if (used.rowCount !== 1) return { status: 'unavailable' };
      const account = await insertAccount(tx, a);
      await tx.query('INSERT INTO eab_bindings (account_id, key_id, jws, created_at) VALUES ($1, $2, $3, $4)', [
        account.id,
        binding.keyId,
        JSON.stringify(binding.jws),
        a.createdAt,
      ]);
      return { status: 'created', account };
    });
  } catch (err) {
    // The account key was taken by a concurrent newAccount: the transaction rolled back (the
    // key's use with it), and the account that won is the answer (RFC 8555 §7.3.1).
    if (!isUniqueViolation(err)) throw err;
    const existing = await accountByThumbprint(db, a.keyThumbprint);
    if (!existing) throw err;
    return { status: 'exists', account: existing };
  }
}

/** The binding JWS an account was created with, if any (rendered in the account object). */
export async function bindingForAccount(db: Queryable, accountId: string): Promise<unknown> {
  const { rows } = await db.query<{ jws: unknown }>('SELECT jws FROM eab_bindings WHERE account_id = $1', [accountId]);
  return rows[0]?.jws;
}
