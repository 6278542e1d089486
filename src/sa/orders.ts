import type { Authorization, AuthzStatus, Challenge, ChallengeStatus, ChallengeType, Identifier, Order, OrderStatus, ProblemDocument } from '../core.js';
import { isUniqueViolation, type Db, type Queryable } from './db.js';

interface OrderRow {
  id: string;
  account_id: string;
  status: OrderStatus;
  expires_at: Date;
  identifiers: Identifier[];
  not_before: Date | null;
  not_after: Date | null;
  error: ProblemDocument | null;
  created_at: Date;
  authz_ids: string[] | null;
  certificate_serial: string | null;
  replaces: string | null;
  profile: string | null;
}

const ORDER_SELECT = `
  SELECT o.id, o.account_id, o.status, o.expires_at, o.identifiers, o.not_before, o.not_after, o.error, o.created_at, o.replaces, o.profile,
         (SELECT array_agg(oa.authz_id ORDER BY oa.position) FROM order_authorizations oa WHERE oa.order_id = o.id) AS authz_ids,
         (SELECT c.serial FROM certificates c WHERE c.order_id = o.id) AS certificate_serial
  FROM orders o`;

const toOrder = (r: OrderRow): Order => ({
  id: r.id,
  accountId: r.account_id,
  status: r.status,
  expiresAt: r.expires_at,
  identifiers: r.identifiers,
  notBefore: r.not_before,
  notAfter: r.not_after,
  error: r.error,
  authzIds: r.authz_ids ?? [],
  certificateSerial: r.certificate_serial,
  createdAt: r.created_at,
  replaces: r.replaces,
  profile: r.profile,
});

export async function orderById(db: Queryable, id: string): Promise<Order | undefined> {
  const { rows } = await db.query<OrderRow>(`${ORDER_SELECT} WHERE o.id = $1`, [id]);
  return rows[0] && toOrder(rows[0]);
}

/**
 * One page of an account's orders for the RFC 8555 §7.1.2.1 orders list, oldest first. Invalid
 * orders, and pending or ready ones past their expiry (invalid too, §7.1.6), are left out: the
 * list SHOULD NOT include them. `after` is the last order id of the previous page.
 */
export async function orderIdsByAccount(db: Db, accountId: string, after: string | undefined, limit: number, now: Date): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT o.id FROM orders o
     WHERE o.account_id = $1 AND o.status <> 'invalid' AND NOT (o.status IN ('pending', 'ready') AND o.expires_at <= $4)
       AND ($2::text IS NULL OR (o.created_at, o.id) > (SELECT c.created_at, c.id FROM orders c WHERE c.id = $2 AND c.account_id = $1))
     ORDER BY o.created_at, o.id LIMIT $3`,
    [accountId, after ?? null, limit, now],
  );
  return rows.map((r) => r.id);
}

interface ChallengeRow {
  id: string;
  authz_id: string;
  type: ChallengeType;
  token: string;
  status: ChallengeStatus;
  validated_at: Date | null;
  error: ProblemDocument | null;
  attempts: number;
}

const toChallenge = (r: ChallengeRow): Challenge => ({
  id: r.id,
  authzId: r.authz_id,
  type: r.type,
  token: r.token,
  status: r.status,
  validatedAt: r.validated_at,
  error: r.error,
  attempts: r.attempts,
});

const CHALLENGE_COLUMNS = 'id, authz_id, type, token, status, validated_at, error, attempts';

interface AuthzRow {
  id: string;
  account_id: string;
  identifier_type: string;
  identifier_value: string;
  wildcard: boolean;
  status: AuthzStatus;
  expires_at: Date;
}

export async function authorizationById(db: Queryable, id: string): Promise<Authorization | undefined> {
  const { rows } = await db.query<AuthzRow>(
    'SELECT id, account_id, identifier_type, identifier_value, wildcard, status, expires_at FROM authorizations WHERE id = $1',
    [id],
  );
  const r = rows[0];
  if (!r) return undefined;
  const challenges = await db.query<ChallengeRow>(`SELECT ${CHALLENGE_COLUMNS} FROM challenges WHERE authz_id = $1 ORDER BY type`, [id]);
  return {
    id: r.id,
    accountId: r.account_id,
    identifier: { type: r.identifier_type, value: r.identifier_value },
    wildcard: r.wildcard,
    status: r.status,
    expiresAt: r.expires_at,
    challenges: challenges.rows.map(toChallenge),
  };
}

export async function challengeById(db: Queryable, id: string): Promise<Challenge | undefined> {
  const { rows } = await db.query<ChallengeRow>(`SELECT ${CHALLENGE_COLUMNS} FROM challenges WHERE id = $1`, [id]);
  return rows[0] && toChallenge(rows[0]);
}

export interface NewAuthorization {
  id: string;
  identifier: Identifier;
  wildcard: boolean;
  expiresAt: Date;
  challenges: { id: string; type: ChallengeType; token: string }[];
}

/** An authorization a new order takes over instead of creating one (RFC 8555 §7.4, reuse). */
export interface ReusedAuthorization {
  reuse: string;
}

export interface NewOrder {
  id: string;
  accountId: string;
  expiresAt: Date;
  identifiers: Identifier[];
  notBefore: Date | null;
  notAfter: Date | null;
  createdAt: Date;
  authorizations: (NewAuthorization | ReusedAuthorization)[];
  /** RFC 9773 §5: the certID of the certificate this order replaces (checked by ra/replaces.ts). */
  replaces?: string | null;
  /** draft-ietf-acme-profiles: the profile it is issued under (ra/profiles.ts), null = built-in. */
  profile?: string | null;
}

/** A reused authorization stopped being valid between the lookup and the order's creation. */
export class ReusedAuthorizationGone extends Error {
  override name = 'ReusedAuthorizationGone';
}

/** RFC 9773 §5, §7.4: the certificate is already being replaced by an order that is not invalid. */
export class AlreadyReplaced extends Error {
  override name = 'AlreadyReplaced';
}

const EXPIRED_UNFINISHED: ProblemDocument = {
  type: 'urn:ietf:params:acme:error:malformed',
  detail: 'the order expired before it was finalized (RFC 8555 §7.1.6)',
  status: 400,
};

/** Inserts one pending authorization and its challenges. */
export async function insertAuthorization(tx: Queryable, accountId: string, a: NewAuthorization, createdAt: Date): Promise<void> {
  await tx.query(
    `INSERT INTO authorizations (id, account_id, identifier_type, identifier_value, wildcard, status, expires_at, created_at)
     VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7)`,
    [a.id, accountId, a.identifier.type, a.identifier.value, a.wildcard, a.expiresAt, createdAt],
  );
  for (const c of a.challenges) {
    await tx.query(`INSERT INTO challenges (id, authz_id, type, token, status) VALUES ($1, $2, $3, $4, 'pending')`, [c.id, a.id, c.type, c.token]);
  }
}

/**
 * newOrder (RFC 8555 §7.4): the order, its new authorizations and their challenges, all or
 * nothing. Reused authorizations are locked (FOR SHARE) and checked to be still valid, so that a
 * concurrent deactivation either comes first (ReusedAuthorizationGone: the caller orders afresh)
 * or waits and then sees this order and invalidates it too. An order whose every authorization
 * is reused is ready at once.
 */
export async function createOrder(db: Db, o: NewOrder): Promise<Order> {
  return db.transaction(async (tx) => {
    const reused = [...new Set(o.authorizations.filter((a): a is ReusedAuthorization => 'reuse' in a).map((a) => a.reuse))].sort();
    for (const id of reused) {
      const { rows } = await tx.query(
        `SELECT id FROM authorizations WHERE id = $1 AND account_id = $2 AND status = 'valid' AND expires_at > $3 FOR SHARE`,
        [id, o.accountId, o.createdAt],
      );
      if (rows.length !== 1) throw new ReusedAuthorizationGone(`authorization ${id} is no longer valid`);
    }
    if (o.replaces) {
      // An earlier replacement left pending or ready past its expiry is invalid (RFC 8555
      // §7.1.6), so it no longer holds the certificate (RFC 9773 §5): record that first.
      await tx.query(
        `UPDATE orders SET status = 'invalid', error = $3
         WHERE replaces = $1 AND status IN ('pending', 'ready') AND expires_at <= $2`,
        [o.replaces, o.createdAt, JSON.stringify(EXPIRED_UNFINISHED)],
      );
    }
    try {
      await tx.query(
        `INSERT INTO orders (id, account_id, status, expires_at, identifiers, not_before, not_after, created_at, replaces, profile)
         VALUES ($1, $2, 'pending', $3, $4, $5, $6, $7, $8, $9)`,
        [o.id, o.accountId, o.expiresAt, JSON.stringify(o.identifiers), o.notBefore, o.notAfter, o.createdAt, o.replaces ?? null, o.profile ?? null],
      );
    } catch (err) {
      // orders_replaces_once (migrations/0005_ari.sql): another order holds the certificate.
      if (o.replaces && isUniqueViolation(err)) throw new AlreadyReplaced(`certificate ${o.replaces} is already being replaced`);
      throw err;
    }
    for (const [position, a] of o.authorizations.entries()) {
      const authzId = 'reuse' in a ? a.reuse : a.id;
      if (!('reuse' in a)) await insertAuthorization(tx, o.accountId, a, o.createdAt);
      await tx.query('INSERT INTO order_authorizations (order_id, authz_id, position) VALUES ($1, $2, $3)', [o.id, authzId, position]);
    }
    if (reused.length) {
      // RFC 8555 §7.1.6: all authorizations valid → ready.
      await tx.query(
        `UPDATE orders o SET status = 'ready'
         WHERE o.id = $1 AND o.status = 'pending'
           AND NOT EXISTS (SELECT 1 FROM order_authorizations oa JOIN authorizations a ON a.id = oa.authz_id
                           WHERE oa.order_id = o.id AND (a.status <> 'valid' OR a.expires_at <= $2))`,
        [o.id, o.createdAt],
      );
    }
    const order = await orderById(tx, o.id);
    return order!;
  });
}
