import type { Identifier } from '../core.js';
import type { Db, Queryable } from './db.js';

// Revocation as stored state (RFC 8555 §7.6, RFC 5280 §5.3): valid → revoked, once, with the time
// and reason, in one guarded UPDATE. Every revocation also marks the CRLs stale in the same
// transaction, so whichever instance signs the next CRL includes it (sa/crls.ts).

export interface CertificateRecord {
  serial: string;
  accountId: string | null;
  der: Buffer;
  identifiers: Identifier[];
  notAfter: Date;
  status: 'valid' | 'revoked';
  revokedAt: Date | null;
  reason: number | null;
}

export async function certificateRecord(db: Queryable, serial: string): Promise<CertificateRecord | undefined> {
  const { rows } = await db.query<{
    serial: string;
    account_id: string | null;
    der: Buffer;
    identifiers: Identifier[];
    not_after: Date;
    status: 'valid' | 'revoked';
    revoked_at: Date | null;
    revocation_reason: number | null;
  }>('SELECT serial, account_id, der, identifiers, not_after, status, revoked_at, revocation_reason FROM certificates WHERE serial = $1', [serial]);
  const r = rows[0];
  return (
    r && {
      serial: r.serial,
      accountId: r.account_id,
      der: r.der,
      identifiers: r.identifiers,
      notAfter: r.not_after,
      status: r.status,
      revokedAt: r.revoked_at,
      reason: r.revocation_reason,
    }
  );
}

export type RevokeOutcome = 'revoked' | 'already-revoked' | 'not-found';

/** valid → revoked with its time and reason; the CRLs become stale in the same transaction. */
export async function revokeCertificate(db: Db, serial: string, reason: number, at: Date): Promise<RevokeOutcome> {
  return db.transaction(async (tx) => {
    const { rowCount } = await tx.query(
      `UPDATE certificates SET status = 'revoked', revoked_at = $3, revocation_reason = $2
       WHERE serial = $1 AND status = 'valid'`,
      [serial, reason, at],
    );
    if (rowCount !== 1) {
      const exists = await tx.query('SELECT 1 FROM certificates WHERE serial = $1', [serial]);
      return exists.rowCount ? 'already-revoked' : 'not-found';
    }
    await tx.query('UPDATE crls SET stale = true');
    return 'revoked';
  });
}

/**
 * A certificate revoked for another reason whose key is then shown to be compromised becomes
 * keyCompromise, keeping its revocation date (Boulder's updateRevocationForKeyCompromise). False
 * when it was not revoked, or already for keyCompromise.
 */
export async function markKeyCompromise(db: Db, serial: string): Promise<boolean> {
  return db.transaction(async (tx) => {
    const { rowCount } = await tx.query(
      `UPDATE certificates SET revocation_reason = 1
       WHERE serial = $1 AND status = 'revoked' AND revocation_reason <> 1`,
      [serial],
    );
    if (rowCount !== 1) return false;
    await tx.query('UPDATE crls SET stale = true');
    return true;
  });
}

/**
 * Does the account hold a valid, unexpired authorization for every identifier (RFC 8555 §7.6)?
 * A wildcard name is covered by an authorization of its base domain.
 */
export async function holdsValidAuthorizations(db: Queryable, accountId: string, identifiers: Identifier[], now: Date): Promise<boolean> {
  if (!identifiers.length) return false;
  for (const id of identifiers) {
    const value = id.type === 'dns' && id.value.startsWith('*.') ? id.value.slice(2) : id.value;
    const { rowCount } = await db.query(
      `SELECT 1 FROM authorizations
       WHERE account_id = $1 AND identifier_type = $2 AND identifier_value = $3 AND status = 'valid' AND expires_at > $4
       LIMIT 1`,
      [accountId, id.type, value, now],
    );
    if (rowCount === 0) return false;
  }
  return true;
}
