import type { JWK } from 'jose';
import type { Account, AccountStatus } from '../core.js';
import { isUniqueViolation, type Db, type Queryable } from './db.js';

interface AccountRow {
  id: string;
  key_thumbprint: string;
  jwk: JWK;
  contact: string[];
  status: AccountStatus;
  tos_agreed: boolean;
  created_at: Date;
}

const toAccount = (r: AccountRow): Account => ({
  id: r.id,
  keyThumbprint: r.key_thumbprint,
  jwk: r.jwk,
  contact: r.contact,
  status: r.status,
  tosAgreed: r.tos_agreed,
  createdAt: r.created_at,
});

const COLUMNS = 'id, key_thumbprint, jwk, contact, status, tos_agreed, created_at';

export async function accountById(db: Queryable, id: string): Promise<Account | undefined> {
  const { rows } = await db.query<AccountRow>(`SELECT ${COLUMNS} FROM accounts WHERE id = $1`, [id]);
  return rows[0] && toAccount(rows[0]);
}

export async function accountByThumbprint(db: Queryable, thumbprint: string): Promise<Account | undefined> {
  const { rows } = await db.query<AccountRow>(`SELECT ${COLUMNS} FROM accounts WHERE key_thumbprint = $1`, [thumbprint]);
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
    const { rows } = await db.query<AccountRow>(
      `INSERT INTO accounts (id, key_thumbprint, jwk, contact, status, tos_agreed, created_at, created_ip)
       VALUES ($1, $2, $3, $4, 'valid', $5, $6, $7) RETURNING ${COLUMNS}`,
      [a.id, a.keyThumbprint, JSON.stringify(a.jwk), JSON.stringify(a.contact), a.tosAgreed, a.createdAt, a.createdIp ?? null],
    );
    return { account: toAccount(rows[0]!), created: true };
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
    const existing = await accountByThumbprint(db, a.keyThumbprint);
    if (!existing) throw err;
    return { account: existing, created: false };
  }
}

export async function updateAccountContact(db: Db, id: string, contact: string[]): Promise<Account | undefined> {
  const { rows } = await db.query<AccountRow>(
    `UPDATE accounts SET contact = $2 WHERE id = $1 AND status = 'valid' RETURNING ${COLUMNS}`,
    [id, JSON.stringify(contact)],
  );
  return rows[0] && toAccount(rows[0]);
}

/** RFC 8555 §7.3.6: deactivation is final. */
export async function deactivateAccount(db: Db, id: string): Promise<Account | undefined> {
  const { rows } = await db.query<AccountRow>(
    `UPDATE accounts SET status = 'deactivated' WHERE id = $1 AND status = 'valid' RETURNING ${COLUMNS}`,
    [id],
  );
  return rows[0] && toAccount(rows[0]);
}
