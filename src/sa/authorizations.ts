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

export interface PendingAuthorizations {
  count: number;
  firstExpiry: Date | undefined;
}

/**
 * What a new order needs to know of its account's authorizations, in one statement:
 * - `reusable`: the valid authorizations it may reuse (RFC 8555 §7.1.3: a pending order's
 *   authorizations include "unexpired authorizations that the client has completed in the
 *   past"), by reuseKey: one per wanted identifier, the one that stays valid longest, and only
 *   those still valid at `validUntil`;
 * - `pending`: how many of the account's authorizations are pending and unexpired at `now`, and
 *   when the first of them expires (limits.pendingAuthorizationsPerAccount).
 */
export async function authorizationsForNewOrder(
  db: Queryable,
  accountId: string,
  wanted: { identifier: Identifier; wildcard: boolean }[],
  validUntil: Date,
  now: Date,
): Promise<{ reusable: Map<string, { id: string; expiresAt: Date }>; pending: PendingAuthorizations }> {
  const { rows } = await db.query<{ n: number; first: Date | null; i: number | null; id: string | null; expires_at: Date | null }>(
    `WITH wanted AS (
       SELECT * FROM unnest($2::text[], $3::text[], $4::boolean[]) WITH ORDINALITY AS w (type, value, wildcard, i)
     ), reusable AS (
       SELECT w.i, r.id, r.expires_at FROM wanted w CROSS JOIN LATERAL (
         SELECT id, expires_at FROM authorizations
         WHERE account_id = $1 AND identifier_type = w.type AND identifier_value = w.value AND wildcard = w.wildcard
           AND status = 'valid' AND expires_at > $5
         ORDER BY expires_at DESC, id LIMIT 1) r
     ), pending AS (
       SELECT count(*) AS n, min(expires_at) AS first FROM authorizations WHERE account_id = $1 AND status = 'pending' AND expires_at > $6
     )
     SELECT p.n, p.first, r.i, r.id, r.expires_at FROM pending p LEFT JOIN reusable r ON true`,
    [accountId, wanted.map((w) => w.identifier.type), wanted.map((w) => w.identifier.value), wanted.map((w) => w.wildcard), validUntil, now],
  );
  const reusable = new Map<string, { id: string; expiresAt: Date }>();
  for (const r of rows) if (r.i !== null) reusable.set(reuseKey(wanted[Number(r.i) - 1]!), { id: r.id!, expiresAt: r.expires_at! });
  return { reusable, pending: { count: Number(rows[0]!.n), firstExpiry: rows[0]!.first ?? undefined } };
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
