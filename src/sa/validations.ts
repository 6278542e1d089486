import type { Authorization, Challenge, ProblemDocument } from '../core.js';
import { AUTHZ_SELECT, CHALLENGE_COLUMNS, toAuthorization, toChallenge, type AuthzWithChallengesRow, type ChallengeRow } from './orders.js';
import { insertEvidence, type Evidence } from './attestations.js';
import type { Db, Queryable } from './db.js';

// The life of a challenge after the client asks for validation (RFC 8555 §7.5.1, §7.1.6):
// pending → processing (claimed with a lease) → valid | invalid, and with it the authorization
// and every order that waits on it. A claim whose lease runs out (its instance crashed) is
// claimed again by whichever instance sweeps first.

/**
 * Moves a pending challenge of a pending, unexpired authorization of `accountId` to processing,
 * storing the client's response (`deviceResponse`, kept for device-attest-01 challenges only),
 * and reads the challenge's authorization as it was before: one statement for the request that
 * answers a challenge (RFC 8555 §7.5.1). `started` is false when the challenge belongs to
 * another account or was not in that state (already processing, or finished), or when another
 * challenge of its authorization was already tried: one attempt per authorization (RFC 8555
 * §7.1.6, a failed challenge makes the authorization invalid). `authz` is undefined when there
 * is no such challenge.
 *
 * The guarded UPDATE of the authorization's `attempted` flag decides. Two siblings started at
 * once both try to set it; the row lock makes the second wait, and Postgres re-checks its WHERE
 * against the row the first left (attempted), so only one challenge moves. The challenge's own
 * guard (still pending) keeps a repeat from moving it. The authorization is read from the
 * statement's snapshot, before either UPDATE.
 */
export async function startValidation(
  db: Queryable,
  challengeId: string,
  accountId: string,
  now: Date,
  leaseUntil: Date,
  deviceResponse: string | null = null,
): Promise<{ started: boolean; authz: Authorization | undefined }> {
  const { rows } = await db.query<AuthzWithChallengesRow & { started: boolean }>(
    `WITH claimed AS (
       UPDATE authorizations a SET attempted = true
       FROM challenges c
       WHERE c.id = $1 AND c.status = 'pending' AND a.id = c.authz_id AND a.account_id = $2
         AND a.status = 'pending' AND a.expires_at > $3 AND NOT a.attempted
       RETURNING a.id),
     moved AS (
       UPDATE challenges SET status = 'processing', lease_until = $4, attempts = attempts + 1,
                             payload = CASE WHEN type = 'device-attest-01' THEN $5 END
       WHERE id = $1 AND status = 'pending' AND authz_id IN (SELECT id FROM claimed)
       RETURNING id)
     SELECT EXISTS (SELECT 1 FROM moved) AS started, q.*
     FROM (${AUTHZ_SELECT} WHERE a.id = (SELECT authz_id FROM challenges WHERE id = $1)) q`,
    [challengeId, accountId, now, leaseUntil, deviceResponse],
  );
  const r = rows[0];
  return { started: r?.started ?? false, authz: r && toAuthorization(r) };
}

/**
 * What a validation needs besides the authorization: the client's response to the challenge
 * (device-attest-01's attObj), if it sent one, and the thumbprint of the account's key for the
 * key authorization (RFC 8555 §8.1).
 */
export async function validationInputs(db: Db, challengeId: string): Promise<{ payload: string | null; keyThumbprint: string } | undefined> {
  const { rows } = await db.query<{ payload: string | null; key_thumbprint: string }>(
    `SELECT c.payload, acct.key_thumbprint FROM challenges c
     JOIN authorizations a ON a.id = c.authz_id JOIN accounts acct ON acct.id = a.account_id
     WHERE c.id = $1`,
    [challengeId],
  );
  return rows[0] && { payload: rows[0].payload, keyThumbprint: rows[0].key_thumbprint };
}

/** Claims validations whose lease ran out, extending the lease for this instance. */
export async function claimStaleValidations(db: Db, now: Date, leaseUntil: Date, limit: number): Promise<{ id: string; attempts: number }[]> {
  const { rows } = await db.query<{ id: string; attempts: number }>(
    `UPDATE challenges SET lease_until = $2, attempts = attempts + 1
     WHERE id IN (SELECT id FROM challenges WHERE status = 'processing' AND lease_until <= $1
                  ORDER BY lease_until LIMIT $3 FOR UPDATE SKIP LOCKED)
     RETURNING id, attempts`,
    [now, leaseUntil, limit],
  );
  return rows;
}

/**
 * `authzExpiresAt`: the authorization's new expiry once valid, for the reuse window
 * (ra/authz-reuse.ts); absent keeps the expiry it was created with.
 */
export type ValidationOutcome = { status: 'valid'; authzExpiresAt?: Date | undefined } | { status: 'invalid'; error: ProblemDocument };

/**
 * Records the result of one validation: the challenge, its authorization, and the orders that
 * wait on that authorization, in one transaction. Returns false when the challenge was no
 * longer processing (another instance finished it first).
 */
export async function finishValidation(db: Db, challengeId: string, outcome: ValidationOutcome, now: Date, evidence?: Evidence): Promise<boolean> {
  return (await recordValidation(db, challengeId, outcome, now, evidence)) !== undefined;
}

/**
 * finishValidation, returning the challenge as recorded (undefined: it was no longer processing).
 * The locking, recording and settling of orders are one call of record_validation (migration
 * 0010, which explains each step); with evidence to keep, it and the evidence share a transaction.
 */
export async function recordValidation(db: Db, challengeId: string, outcome: ValidationOutcome, now: Date, evidence?: Evidence): Promise<Challenge | undefined> {
  const record = async (q: Queryable) => {
    const { rows } = await q.query<ChallengeRow>(`SELECT ${CHALLENGE_COLUMNS} FROM record_validation($1, $2, $3, $4, $5, $6)`, [
      challengeId,
      outcome.status,
      outcome.status === 'invalid' ? JSON.stringify(outcome.error) : null,
      outcome.status === 'valid' ? now : null,
      outcome.status === 'valid' ? (outcome.authzExpiresAt ?? null) : null,
      now,
    ]);
    return rows[0];
  };
  if (!evidence || outcome.status !== 'valid') {
    const recorded = await record(db);
    return recorded && toChallenge(recorded);
  }
  return db.transaction(async (tx) => {
    const recorded = await record(tx);
    if (!recorded) return undefined;
    await insertEvidence(tx, recorded.authz_id, challengeId, evidence, now);
    return toChallenge(recorded);
  });
}
