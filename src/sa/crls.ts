import type { Db, Queryable } from './db.js';

// The latest CRL of each issuer (migrations/0003_revocation.sql). Signing a new one happens with
// the issuer's row locked (SELECT … FOR UPDATE), so two instances never sign two CRLs with one
// number and crl_number only grows (RFC 5280 §5.2.3); an instance that waited for the lock finds
// the CRL fresh and signs nothing. Every certificate in the database is this CA's: `attestca init`
// never replaces a CA, so the revoked certificates are the issuer's revoked certificates.

export interface StoredCrl {
  number: number;
  thisUpdate: Date;
  nextUpdate: Date;
  der: Buffer;
  /** A revocation was recorded after it was signed. */
  stale: boolean;
}

export interface RevokedEntry {
  serial: string;
  revokedAt: Date;
  reason: number;
}

export async function latestCrl(db: Queryable, issuerId: string): Promise<StoredCrl | undefined> {
  const { rows } = await db.query<{ crl_number: number; this_update: Date; next_update: Date; der: Buffer; stale: boolean }>(
    'SELECT crl_number, this_update, next_update, der, stale FROM crls WHERE issuer_id = $1 AND der IS NOT NULL',
    [issuerId],
  );
  const r = rows[0];
  return r && { number: r.crl_number, thisUpdate: r.this_update, nextUpdate: r.next_update, der: r.der, stale: r.stale };
}

/** Is a new CRL wanted: none yet, a revocation since the last one, or the last one older than refreshMs? */
export async function crlDue(db: Queryable, issuerId: string, now: Date, refreshMs: number): Promise<boolean> {
  const { rows } = await db.query<{ stale: boolean; this_update: Date | null }>('SELECT stale, this_update FROM crls WHERE issuer_id = $1', [issuerId]);
  const r = rows[0];
  return !r || isDue(r, now, refreshMs);
}

const isDue = (r: { stale: boolean; this_update: Date | null }, now: Date, refreshMs: number): boolean =>
  r.stale || r.this_update === null || r.this_update.getTime() + refreshMs <= now.getTime();

export type CrlSigner = (number: number, entries: RevokedEntry[]) => Promise<{ der: Buffer; thisUpdate: Date; nextUpdate: Date }>;

/**
 * Signs and stores the next CRL when one is due (or always, with `force`), inside one transaction
 * holding the issuer's row: the revoked, unexpired certificates are read, `sign` is called with the
 * next number, and the result replaces the stored CRL. Returns the new CRL, or undefined when the
 * stored one was still fresh (another instance signed it meanwhile).
 */
export async function publishCrl(db: Db, issuerId: string, o: { now: Date; refreshMs: number; force: boolean }, sign: CrlSigner): Promise<StoredCrl | undefined> {
  return db.transaction(async (tx) => {
    await tx.query('INSERT INTO crls (issuer_id) VALUES ($1) ON CONFLICT (issuer_id) DO NOTHING', [issuerId]);
    const { rows } = await tx.query<{ crl_number: number; stale: boolean; this_update: Date | null }>(
      'SELECT crl_number, stale, this_update FROM crls WHERE issuer_id = $1 FOR UPDATE',
      [issuerId],
    );
    const row = rows[0]!;
    if (!o.force && !isDue(row, o.now, o.refreshMs)) return undefined;
    // RFC 5280 §3.3: an entry leaves the CRL only after it has appeared on one CRL issued beyond
    // the certificate's validity period. Keeping every certificate that expired after the previous
    // CRL's thisUpdate does that: the first CRL signed after its expiry still lists it.
    const revoked = await tx.query<{ serial: string; revoked_at: Date; revocation_reason: number }>(
      `SELECT serial, revoked_at, revocation_reason FROM certificates
       WHERE status = 'revoked' AND ($1::timestamptz IS NULL OR not_after > $1) ORDER BY revoked_at, serial`,
      [row.this_update],
    );
    const number = row.crl_number + 1;
    const signed = await sign(
      number,
      revoked.rows.map((r) => ({ serial: r.serial, revokedAt: r.revoked_at, reason: r.revocation_reason })),
    );
    const { rowCount } = await tx.query(
      `UPDATE crls SET crl_number = $2, this_update = $3, next_update = $4, der = $5, stale = false
       WHERE issuer_id = $1 AND crl_number = $6`,
      [issuerId, number, signed.thisUpdate, signed.nextUpdate, signed.der, row.crl_number],
    );
    if (rowCount !== 1) throw new Error(`CRL number ${row.crl_number} of issuer ${issuerId} changed while the row was locked`);
    return { number, thisUpdate: signed.thisUpdate, nextUpdate: signed.nextUpdate, der: signed.der, stale: false };
  });
}
