// External account binding rules (RFC 8555 §7.3.4): the operator's keys (create, revoke) and
// binding a new account to one. A key binds one account unless made reusable, never after it is
// revoked; its MAC is checked by the wfe (wfe/eab.ts) before anything here runs.
import { randomBytes } from 'node:crypto';
import type { Account } from '../core.js';
import { AcmeError } from '../errors.js';
import type { NewAccount } from '../sa/accounts.js';
import * as sa from '../sa/eab.js';
import type { Db } from '../sa/db.js';

/**
 * 64 bytes: RFC 7518 §3.2 asks for a key at least as long as the hash output, and clients pick
 * the algorithm (HS256 … HS512), so the key is long enough for HS512.
 */
const HMAC_KEY_BYTES = 64;

export interface CreatedEabKey {
  keyId: string;
  /** base64url, as clients take it (certbot --eab-hmac-key, acme-client hmacKey). */
  hmacKey: string;
  reusable: boolean;
  note: string | null;
}

export async function createEabKey(db: Db, opts: { reusable: boolean; note: string | undefined; now: Date }): Promise<CreatedEabKey> {
  const hmacKey = randomBytes(HMAC_KEY_BYTES);
  // The key id is hex, not base64url: one that began with '-' would read as an option on
  // command lines (attestca eab revoke KEYID, certbot --eab-kid KEYID).
  const keyId = randomBytes(16).toString('hex');
  const key = await sa.createEabKey(db, { keyId, hmacKey, reusable: opts.reusable, note: opts.note ?? null, createdAt: opts.now });
  return { keyId: key.keyId, hmacKey: hmacKey.toString('base64url'), reusable: key.reusable, note: key.note };
}

/** Creates the account bound to `keyId`, or says why the key cannot bind one any more. */
export async function bindAccount(db: Db, account: NewAccount, binding: { keyId: string; jws: unknown }): Promise<{ account: Account; created: boolean }> {
  const result = await sa.createBoundAccount(db, account, binding);
  if (result.status === 'created') return { account: result.account, created: true };
  if (result.status === 'exists') return { account: result.account, created: false };
  const key = await sa.eabKeyById(db, binding.keyId);
  if (key?.revokedAt) throw new AcmeError('unauthorized', `external account key ${binding.keyId} was revoked on ${key.revokedAt.toISOString()}; ask the CA operator for a new one`);
  throw new AcmeError('unauthorized', `external account key ${binding.keyId} was already used to create an account and is single-use; ask the CA operator for a new key`);
}
