import type { Authorization, AuthzStatus, Challenge, ChallengeStatus, ChallengeType, Identifier, Order, OrderStatus, ProblemDocument } from '../core.js';
import { isUniqueViolation, type Db, type Queryable } from './db.js';
import { slotParameters, withSlots, type RateLimitSlots } from './rate-limits.js';

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

export interface ChallengeRow {
  id: string;
  authz_id: string;
  type: ChallengeType;
  token: string;
  status: ChallengeStatus;
  validated_at: Date | null;
  error: ProblemDocument | null;
  attempts: number;
}

export const toChallenge = (r: ChallengeRow): Challenge => ({
  id: r.id,
  authzId: r.authz_id,
  type: r.type,
  token: r.token,
  status: r.status,
  validatedAt: r.validated_at,
  error: r.error,
  attempts: r.attempts,
});

export const CHALLENGE_COLUMNS = 'id, authz_id, type, token, status, validated_at, error, attempts';

interface AuthzRow {
  id: string;
  account_id: string;
  identifier_type: string;
  identifier_value: string;
  wildcard: boolean;
  status: AuthzStatus;
  expires_at: Date;
}

/**
 * An authorization with its challenges, in one statement: the challenges travel as one JSON
 * array, so a read is one round trip however many challenges there are.
 */
export const AUTHZ_SELECT = `
  SELECT a.id, a.account_id, a.identifier_type, a.identifier_value, a.wildcard, a.status, a.expires_at,
         (SELECT coalesce(json_agg(json_build_object('id', c.id, 'authz_id', c.authz_id, 'type', c.type, 'token', c.token, 'status', c.status,
                                                     'validated_at', c.validated_at, 'error', c.error, 'attempts', c.attempts) ORDER BY c.type), '[]')
          FROM challenges c WHERE c.authz_id = a.id) AS challenges
  FROM authorizations a`;

export type AuthzWithChallengesRow = AuthzRow & { challenges: (Omit<ChallengeRow, 'validated_at'> & { validated_at: string | null })[] };

export const toAuthorization = (r: AuthzWithChallengesRow): Authorization => ({
  id: r.id,
  accountId: r.account_id,
  identifier: { type: r.identifier_type, value: r.identifier_value },
  wildcard: r.wildcard,
  status: r.status,
  expiresAt: r.expires_at,
  // Inside JSON a timestamp is text; everywhere else it is a Date.
  challenges: r.challenges.map((c) => toChallenge({ ...c, validated_at: c.validated_at === null ? null : new Date(c.validated_at) })),
});

export async function authorizationById(db: Queryable, id: string): Promise<Authorization | undefined> {
  const { rows } = await db.query<AuthzWithChallengesRow>(`${AUTHZ_SELECT} WHERE a.id = $1`, [id]);
  return rows[0] && toAuthorization(rows[0]);
}

/** The authorization a challenge belongs to, with all its challenges. */
export async function authorizationOfChallenge(db: Queryable, challengeId: string): Promise<Authorization | undefined> {
  const { rows } = await db.query<AuthzWithChallengesRow>(`${AUTHZ_SELECT} WHERE a.id = (SELECT authz_id FROM challenges WHERE id = $1)`, [challengeId]);
  return rows[0] && toAuthorization(rows[0]);
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

/** Inserts pending authorizations and their challenges: two statements whatever their number. */
export async function insertAuthorizations(tx: Queryable, accountId: string, authzs: NewAuthorization[], createdAt: Date): Promise<void> {
  if (authzs.length === 0) return;
  await tx.query(
    `INSERT INTO authorizations (id, account_id, identifier_type, identifier_value, wildcard, status, expires_at, created_at)
     SELECT id, $1, type, value, wildcard, 'pending', expires_at, $2
     FROM unnest($3::text[], $4::text[], $5::text[], $6::boolean[], $7::timestamptz[]) AS t (id, type, value, wildcard, expires_at)`,
    [accountId, createdAt, ...authzColumns(authzs)],
  );
  await tx.query(
    `INSERT INTO challenges (id, authz_id, type, token, status)
     SELECT id, authz_id, type, token, 'pending' FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS t (id, authz_id, type, token)`,
    challengeColumns(authzs),
  );
}

const authzColumns = (authzs: NewAuthorization[]) => [
  authzs.map((a) => a.id),
  authzs.map((a) => a.identifier.type),
  authzs.map((a) => a.identifier.value),
  authzs.map((a) => a.wildcard),
  authzs.map((a) => a.expiresAt),
];

const challengeColumns = (authzs: NewAuthorization[]) => {
  const all = authzs.flatMap((a) => a.challenges.map((c) => ({ ...c, authzId: a.id })));
  return [all.map((c) => c.id), all.map((c) => c.authzId), all.map((c) => c.type), all.map((c) => c.token)];
};

/**
 * The order, its new authorizations, their challenges and the order's links to every
 * authorization, as one statement: one round trip, and atomic without a transaction. The
 * foreign keys between the rows are checked at the end of the statement, when all exist. The
 * order row is inserted from `slots`, so that the rate-limit slots are taken by the same
 * statement (sa/rate-limits.ts); a full window raises and nothing is written.
 */
async function insertOrderRows(q: Queryable, o: NewOrder, slots: RateLimitSlots | undefined): Promise<void> {
  const fresh = o.authorizations.filter((a): a is NewAuthorization => !('reuse' in a));
  const links = o.authorizations.map((a) => ('reuse' in a ? a.reuse : a.id));
  await withSlots(() =>
    q.query(
      `WITH slots AS (SELECT take_rate_limit_slots($20::text[], $21::timestamptz, $22::integer)),
       new_order AS (
         INSERT INTO orders (id, account_id, status, expires_at, identifiers, not_before, not_after, created_at, replaces, profile)
         SELECT $1::text, $2::text, 'pending', $3::timestamptz, $4::jsonb, $5::timestamptz, $6::timestamptz, $7::timestamptz, $8::text, $19::text FROM slots),
       new_authzs AS (
         INSERT INTO authorizations (id, account_id, identifier_type, identifier_value, wildcard, status, expires_at, created_at)
         SELECT id, $2, type, value, wildcard, 'pending', expires_at, $7
         FROM unnest($9::text[], $10::text[], $11::text[], $12::boolean[], $13::timestamptz[]) AS t (id, type, value, wildcard, expires_at)),
       new_challenges AS (
         INSERT INTO challenges (id, authz_id, type, token, status)
         SELECT id, authz_id, type, token, 'pending' FROM unnest($14::text[], $15::text[], $16::text[], $17::text[]) AS t (id, authz_id, type, token))
       INSERT INTO order_authorizations (order_id, authz_id, position)
       SELECT $1, authz_id, position - 1 FROM unnest($18::text[]) WITH ORDINALITY AS t (authz_id, position)`,
      [o.id, o.accountId, o.expiresAt, JSON.stringify(o.identifiers), o.notBefore, o.notAfter, o.createdAt, o.replaces ?? null, ...authzColumns(fresh), ...challengeColumns(fresh), links, o.profile ?? null, ...slotParameters(slots)],
    ),
  );
}

/**
 * Creates the order and takes `slots` (its ordersPerAccount slot) in the same statement: either
 * both happen or neither (RateLimitReached, AlreadyReplaced, ReusedAuthorizationGone).
 */
export async function createOrder(db: Db, o: NewOrder, slots?: RateLimitSlots): Promise<Order> {
  const reused = [...new Set(o.authorizations.filter((a): a is ReusedAuthorization => 'reuse' in a).map((a) => a.reuse))].sort();
  const insert = async (q: Queryable) => {
    try {
      await insertOrderRows(q, o, slots);
    } catch (err) {
      // orders_replaces_once (migrations/0005_ari.sql): another order holds the certificate.
      if (o.replaces && isUniqueViolation(err)) throw new AlreadyReplaced(`certificate ${o.replaces} is already being replaced`);
      throw err;
    }
  };
  const created = (status: OrderStatus): Order => ({
    id: o.id,
    accountId: o.accountId,
    status,
    expiresAt: o.expiresAt,
    identifiers: o.identifiers,
    notBefore: o.notBefore,
    notAfter: o.notAfter,
    error: null,
    authzIds: o.authorizations.map((a) => ('reuse' in a ? a.reuse : a.id)),
    certificateSerial: null,
    createdAt: o.createdAt,
    replaces: o.replaces ?? null,
    profile: o.profile ?? null,
  });
  // The common case, all authorizations new and nothing replaced: one statement.
  if (reused.length === 0 && !o.replaces) {
    await insert(db);
    return created('pending');
  }
  return db.transaction(async (tx) => {
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
    await insert(tx);
    if (reused.length === 0) return created('pending');
    // RFC 8555 §7.1.6: all authorizations valid → ready.
    const { rowCount } = await tx.query(
      `UPDATE orders o SET status = 'ready'
       WHERE o.id = $1 AND o.status = 'pending'
         AND NOT EXISTS (SELECT 1 FROM order_authorizations oa JOIN authorizations a ON a.id = oa.authz_id
                         WHERE oa.order_id = o.id AND (a.status <> 'valid' OR a.expires_at <= $2))`,
      [o.id, o.createdAt],
    );
    return created(rowCount === 1 ? 'ready' : 'pending');
  });
}
