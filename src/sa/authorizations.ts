// Authorizations outside the life of one order (RFC 8555 §7.4.1, §7.5.2, §7.1.3):
// pre-authorization, deactivation, and finding valid ones that a new order may reuse.
import type { Authorization, Identifier, ProblemDocument } from '../core.js';
import type { Db, Queryable } from './db.js';
import { authorizationById, insertAuthorizations, type NewAuthorization } from './orders.js';

/** newAuthz (RFC 8555 §7.4.1): a pending authorization that belongs to no order yet. */
export async function createAuthorization(db: Db, accountId: string, a: NewAuthorization, createdAt: Date): Promise<Authorization> {
  return db.transaction(async (tx) => {
    await insertAuthorizations(tx, accountId, [a], createdAt);
    return (await authorizationById(tx, a.id))!;
  });
}

/**
 * The valid authorizations of an account that a new order may reuse (RFC 8555 §7.1.3: a pending
 * order's authorizations include "unexpired authorizations that the client has completed in the
 * past"): one per identifier, the one that stays valid longest, and only those still valid at
 * `validUntil`.
 */
export async function reusableAuthorizations(
  db: Queryable,
  accountId: string,
  wanted: { identifier: Identifier; wildcard: boolean }[],
  validUntil: Date,
): Promise<Map<string, { id: string; expiresAt: Date }>> {
  const found = new Map<string, { id: string; expiresAt: Date }>();
  for (const w of wanted) {
    const { rows } = await db.query<{ id: string; expires_at: Date }>(
      `SELECT id, expires_at FROM authorizations
       WHERE account_id = $1 AND identifier_type = $2 AND identifier_value = $3 AND wildcard = $4
         AND status = 'valid' AND expires_at > $5
       ORDER BY expires_at DESC, id LIMIT 1`,
      [accountId, w.identifier.type, w.identifier.value, w.wildcard, validUntil],
    );
    if (rows[0]) found.set(reuseKey(w), { id: rows[0].id, expiresAt: rows[0].expires_at });
  }
  return found;
}

export const reuseKey = (w: { identifier: Identifier; wildcard: boolean }): string => `${w.identifier.type}:${w.identifier.value}:${w.wildcard ? '*' : ''}`;

/**
 * RFC 8555 §7.5.2: a pending or valid authorization becomes deactivated, and every pending or
 * ready order that needs it becomes invalid (§7.1.6: an authorization in a final state other than
 * valid makes its orders invalid). The orders are locked first, in id order, as finishValidation
 * locks them, so that the two cannot deadlock and neither misses the other's change. Returns
 * false when the authorization was not pending or valid (or had expired).
 */
export async function deactivateAuthorization(db: Db, authzId: string, now: Date, orderError: ProblemDocument): Promise<boolean> {
  return db.transaction(async (tx) => {
    await tx.query(`SELECT id FROM orders WHERE id IN (SELECT order_id FROM order_authorizations WHERE authz_id = $1) ORDER BY id FOR UPDATE`, [authzId]);
    const { rowCount } = await tx.query(
      `UPDATE authorizations SET status = 'deactivated' WHERE id = $1 AND status IN ('pending', 'valid') AND expires_at > $2`,
      [authzId, now],
    );
    if (rowCount !== 1) return false;
    await tx.query(
      `UPDATE orders SET status = 'invalid', error = $2
       WHERE status IN ('pending', 'ready') AND id IN (SELECT order_id FROM order_authorizations WHERE authz_id = $1)`,
      [authzId, JSON.stringify(orderError)],
    );
    return true;
  });
}
