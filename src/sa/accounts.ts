import type { JWK } from 'jose';
import type { Account, AccountStatus, ProblemDocument } from '../core.js';
import { isUniqueViolation, type Db, type Queryable } from './db.js';

export interface AccountRow {
  id: string;
  key_thumbprint: string;
  jwk: JWK;
  contact: string[];
  status: AccountStatus;
  tos_agreed: boolean;
  created_at: Date;
}

export const toAccount = (r: AccountRow): Account => ({
  id: r.id,
  keyThumbprint: r.key_thumbprint,
  jwk: r.jwk,
  contact: r.contact,
  status: r.status,
  tosAgreed: r.tos_agreed,
  createdAt: r.created_at,
});

export const ACCOUNT_COLUMNS = 'id, key_thumbprint, jwk, contact, status, tos_agreed, created_at';

export async function accountById(db: Queryable, id: string): Promise<Account | undefined> {
  const { rows } = await db.query<AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE id = $1`, [id]);
  return rows[0] && toAccount(rows[0]);
}


export async function accountByThumbprint(db: Queryable, thumbprint: string): Promise<Account | undefined> {
  const { rows } = await db.query<AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE key_thumbprint = $1`, [thumbprint]);
  return rows[0] && toAccount(rows[0]);
}

export interface NewAccount {
  id: string;
  keyThumbprint: string;
  jwk: JWK;
  contact: string[];
  tosAgreed: boolean;
  createdAt: Date;
  createdIp: string | undefined;
}

/**
 * Creates the account, or returns the one that already holds this key: two newAccount requests
 * racing with one key get one account (the unique thumbprint decides).
 */
export async function createAccount(db: Db, a: NewAccount): Promise<{ account: Account; created: boolean }> {
  try {
    return { account: await insertAccount(db, a), created: true };
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
    const existing = await accountByThumbprint(db, a.keyThumbprint);
    if (!existing) throw err;
    return { account: existing, created: false };
  }
}

/** The INSERT of a new account, for createAccount and for transactions that create one (sa/eab.ts). */
export async function insertAccount(q: Queryable, a: NewAccount): Promise<Account> {
  const { rows } = await q.query<AccountRow>(
    `INSERT INTO accounts (id, key_thumbprint, jwk, contact, status, tos_agreed, created_at, created_ip)
     VALUES ($1, $2, $3, $4, 'valid', $5, $6, $7) RETURNING ${ACCOUNT_COLUMNS}`,
    [a.id, a.keyThumbprint, JSON.stringify(a.jwk), JSON.stringify(a.contact), a.tosAgreed, a.createdAt, a.createdIp ?? null],
  );
  return toAccount(rows[0]!);
}

export async function updateAccountContact(db: Db, id: string, contact: string[]): Promise<Account | undefined> {
  const { rows } = await db.query<AccountRow>(
    `UPDATE accounts SET contact = $2 WHERE id = $1 AND status = 'valid' RETURNING ${ACCOUNT_COLUMNS}`,
    [id, JSON.stringify(contact)],
  );
  return rows[0] && toAccount(rows[0]);
}

/**
 * RFC 8555 §7.3.6: deactivation is final, and the server SHOULD cancel the account's pending
 * operations: its pending and ready orders become invalid with `orderError`, its pending and
 * valid authorizations deactivated. Orders are locked before authorizations, in id order, as
 * every other transaction that touches both does.
 */
export async function deactivateAccount(db: Db, id: string, orderError: ProblemDocument): Promise<Account | undefined> {
  return db.transaction(async (tx) => {
    const { rows } = await tx.query<AccountRow>(`UPDATE accounts SET status = 'deactivated' WHERE id = $1 AND status = 'valid' RETURNING ${ACCOUNT_COLUMNS}`, [id]);
    if (!rows[0]) return undefined;
    await tx.query(`SELECT id FROM orders WHERE account_id = $1 AND status IN ('pending', 'ready') ORDER BY id FOR UPDATE`, [id]);
    await tx.query(`UPDATE authorizations SET status = 'deactivated' WHERE account_id = $1 AND status IN ('pending', 'valid')`, [id]);
    await tx.query(`UPDATE orders SET status = 'invalid', error = $2 WHERE account_id = $1 AND status IN ('pending', 'ready')`, [id, JSON.stringify(orderError)]);
    return toAccount(rows[0]);
  });
}

export type KeyChangeResult = { status: 'changed'; account: Account } | { status: 'conflict'; accountId: string } | { status: 'stale' };

/**
 * RFC 8555 §7.3.5: replaces the account key in one guarded UPDATE. The guard on the old
 * thumbprint makes two rollovers signed with the same old key race to one winner ('stale' for
 * the other, and for an account deactivated meanwhile); the unique thumbprint makes a new key
 * that another account took meanwhile a 'conflict'.
 */
export async function changeAccountKey(db: Db, id: string, oldThumbprint: string, newThumbprint: string, newJwk: JWK): Promise<KeyChangeResult> {
  try {
    const { rows } = await db.query<AccountRow>(
      `UPDATE accounts SET key_thumbprint = $3, jwk = $4
       WHERE id = $1 AND key_thumbprint = $2 AND status = 'valid' RETURNING ${ACCOUNT_COLUMNS}`,
      [id, oldThumbprint, newThumbprint, JSON.stringify(newJwk)],
    );
    return rows[0] ? { status: 'changed', account: toAccount(rows[0]) } : { status: 'stale' };
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
    const holder = await accountByThumbprint(db, newThumbprint);
    if (!holder) throw err;
    return { status: 'conflict', accountId: holder.id };
  }
}
