import type { Identifier, IssuedCertificate, ProblemDocument } from '../core.js';
import type { Db } from './db.js';
import { slotParameters, withSlots, type RateLimitSlots } from './rate-limits.js';

// Finalization (RFC 8555 §7.4) as stored state: ready → processing (CSR stored, lease taken) →
// serial recorded → certificate stored and order valid in one transaction. A crash at any point
// leaves either a ready order, or a processing order whose lease runs out and whose stored CSR
// another instance (or this one after restart) signs again.

/**
 * Takes a ready order into processing with its CSR, and records the serial it will be signed
 * with, in one statement. False when the order was not ready: nothing is recorded then but the
 * rate-limit slots, which are taken before the claim is tried (a one-time filter).
 */
export async function beginIssuance(db: Db, orderId: string, accountId: string, csr: Buffer, now: Date, leaseUntil: Date, serial: string, slots?: RateLimitSlots): Promise<boolean> {
  // The slots (certificatesPerName) are a one-time condition of the claim: taken before it is
  // tried; a full window raises and the order stays ready.
  const { rowCount } = await withSlots(() =>
    db.query(
      `WITH slots AS (SELECT take_rate_limit_slots($7::text[], $8::timestamptz, $9::integer) AS taken),
       claimed AS (
         UPDATE orders SET status = 'processing', csr = $3, lease_until = $5
         WHERE id = $1 AND account_id = $2 AND status = 'ready' AND expires_at > $4 AND (SELECT taken FROM slots) RETURNING id)
       INSERT INTO serials (serial, order_id, purpose, created_at) SELECT $6, id, 'acme', $4 FROM claimed`,
      [orderId, accountId, csr, now, leaseUntil, serial, ...slotParameters(slots)],
    ),
  );
  return rowCount === 1;
}

/** Orders left processing by an instance that stopped; claimed for this one with a new lease. */
export async function claimStaleIssuances(db: Db, now: Date, leaseUntil: Date, limit: number): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `UPDATE orders SET lease_until = $2
     WHERE id IN (SELECT id FROM orders WHERE status = 'processing' AND lease_until <= $1
                  ORDER BY lease_until LIMIT $3 FOR UPDATE SKIP LOCKED)
     RETURNING id`,
    [now, leaseUntil, limit],
  );
  return rows.map((r) => r.id);
}

/** What a processing order asks to be signed. */
export interface IssuanceRequest {
  accountId: string;
  csr: Buffer;
  identifiers: Identifier[];
  notBefore: Date | null;
  notAfter: Date | null;
  /** The order's profile (draft-ietf-acme-profiles), or null for the built-in one. */
  profile: string | null;
}

export async function issuanceRequest(db: Db, orderId: string): Promise<IssuanceRequest | undefined> {
  const { rows } = await db.query<{ account_id: string; csr: Buffer; identifiers: Identifier[]; not_before: Date | null; not_after: Date | null; profile: string | null }>(
    `SELECT account_id, csr, identifiers, not_before, not_after, profile FROM orders WHERE id = $1 AND status = 'processing'`,
    [orderId],
  );
  const r = rows[0];
  return r && { accountId: r.account_id, csr: r.csr, identifiers: r.identifiers, notBefore: r.not_before, notAfter: r.not_after, profile: r.profile };
}

/** Records a serial before anything is signed with it. The primary key rejects a repeat. */
export async function reserveSerial(db: Db, serial: string, orderId: string | null, purpose: 'acme' | 'tls-server' | 'ocsp-signer', now: Date): Promise<void> {
  await db.query('INSERT INTO serials (serial, order_id, purpose, created_at) VALUES ($1, $2, $3, $4)', [serial, orderId, purpose, now]);
}

export interface NewCertificate {
  serial: string;
  orderId: string | null;
  accountId: string | null;
  der: Buffer;
  chainPem: string;
  identifiers: Identifier[];
  notBefore: Date;
  notAfter: Date;
  createdAt: Date;
  /** The device attestation the certificate was issued on (device-attest-01), if any. */
  attestationId?: string | null;
}

/**
 * Stores the signed certificate and moves its order from processing to valid, together. False
 * when the order had already left processing (another instance finished it first); the
 * certificate is then not stored, and its serial stays recorded as signed-but-unused.
 */
export async function storeCertificate(db: Db, c: NewCertificate): Promise<boolean> {
  const values = [c.serial, c.orderId, c.accountId, c.der, c.chainPem, JSON.stringify(c.identifiers), c.notBefore, c.notAfter, c.createdAt, c.attestationId ?? null];
  if (!c.orderId) {
    await db.query(
      `INSERT INTO certificates (serial, order_id, account_id, der, chain_pem, identifiers, not_before, not_after, created_at, attestation_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
      values,
    );
    return true;
  }
  // One statement, so atomic: the certificate row exists exactly when its order went valid.
  const { rowCount } = await db.query(
    `WITH finished AS (UPDATE orders SET status = 'valid', lease_until = NULL WHERE id = $2 AND status = 'processing' RETURNING id)
     INSERT INTO certificates (serial, order_id, account_id, der, chain_pem, identifiers, not_before, not_after, created_at, attestation_id)
     SELECT $1::text, $2::text, $3::text, $4::bytea, $5::text, $6::jsonb, $7::timestamptz, $8::timestamptz, $9::timestamptz, $10::text
     WHERE EXISTS (SELECT 1 FROM finished)`,
    values,
  );
  return rowCount === 1;
}

/** Issuance failed for good (RFC 8555 §7.1.6: processing → invalid, with the reason). */
export async function failIssuance(db: Db, orderId: string, error: ProblemDocument): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE orders SET status = 'invalid', error = $2, lease_until = NULL WHERE id = $1 AND status = 'processing'`,
    [orderId, JSON.stringify(error)],
  );
  return rowCount === 1;
}

export async function certificateBySerial(db: Db, serial: string): Promise<IssuedCertificate | undefined> {
  const { rows } = await db.query<{ serial: string; order_id: string | null; account_id: string | null; der: Buffer; chain_pem: string; not_before: Date; not_after: Date; status: 'valid' | 'revoked' }>(
    'SELECT serial, order_id, account_id, der, chain_pem, not_before, not_after, status FROM certificates WHERE serial = $1',
    [serial],
  );
  const r = rows[0];
  return r && { serial: r.serial, orderId: r.order_id, accountId: r.account_id, der: r.der, chainPem: r.chain_pem, notBefore: r.not_before, notAfter: r.not_after, status: r.status };
}
