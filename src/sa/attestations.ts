// Attestation evidence (migrations/0002_device_attest.sql): written with the validation result,
// read at finalize (the key binding) and by operators (certificates of a device).
import { createHash } from 'node:crypto';
import type { Identifier } from '../core.js';
import type { Db, Queryable } from './db.js';

export interface Evidence {
  id: string;
  format: string;
  identifier: Identifier;
  attestedIdentifiers: string[];
  attestedSpki: Buffer | null;
  claims: Record<string, string | number | boolean>;
  chain: Buffer[];
  statementSha256: string | null;
}

export const keySha256 = (spki: Buffer): string => createHash('sha256').update(spki).digest('hex');

/** Inside finishValidation's transaction: the evidence of a successful validation. */
export async function insertEvidence(tx: Queryable, authzId: string, challengeId: string, e: Evidence, now: Date): Promise<void> {
  await tx.query(
    `INSERT INTO attestations (id, authz_id, challenge_id, format, identifier_type, identifier_value, attested_identifiers,
                               attested_spki, attested_key_sha256, claims, chain, statement_sha256, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
    [
      e.id,
      authzId,
      challengeId,
      e.format,
      e.identifier.type,
      e.identifier.value,
      JSON.stringify(e.attestedIdentifiers),
      e.attestedSpki,
      e.attestedSpki ? keySha256(e.attestedSpki) : null,
      JSON.stringify(e.claims),
      JSON.stringify(e.chain.map((c) => c.toString('base64'))),
      e.statementSha256,
      now,
    ],
  );
}

export async function statementUsed(db: Db, statementSha256: string): Promise<boolean> {
  const { rowCount } = await db.query('SELECT 1 FROM attestations WHERE statement_sha256 = $1', [statementSha256]);
  return rowCount > 0;
}

export interface OrderEvidence {
  id: string;
  format: string;
  identifier: Identifier;
  attestedSpki: Buffer | null;
  attestedKeySha256: string | null;
}

/** The evidence behind each authorization of an order. */
export async function evidenceForOrder(db: Queryable, orderId: string): Promise<OrderEvidence[]> {
  const { rows } = await db.query<{ id: string; format: string; identifier_type: string; identifier_value: string; attested_spki: Buffer | null; attested_key_sha256: string | null }>(
    `SELECT a.id, a.format, a.identifier_type, a.identifier_value, a.attested_spki, a.attested_key_sha256
     FROM attestations a JOIN order_authorizations oa ON oa.authz_id = a.authz_id
     WHERE oa.order_id = $1 ORDER BY oa.position`,
    [orderId],
  );
  return rows.map((r) => ({
    id: r.id,
    format: r.format,
    identifier: { type: r.identifier_type, value: r.identifier_value },
    attestedSpki: r.attested_spki,
    attestedKeySha256: r.attested_key_sha256,
  }));
}

export interface DeviceCertificate {
  serial: string;
  status: string;
  notBefore: Date;
  notAfter: Date;
  identifier: Identifier;
  format: string;
  attestedIdentifiers: string[];
  claims: Record<string, string | number | boolean>;
  accountId: string | null;
}

/** Certificates issued on attestations naming this device (by order identifier or any attested one). */
export async function certificatesForDevice(db: Db, identifier: string): Promise<DeviceCertificate[]> {
  const { rows } = await db.query<{
    serial: string;
    status: string;
    not_before: Date;
    not_after: Date;
    identifier_type: string;
    identifier_value: string;
    format: string;
    attested_identifiers: string[];
    claims: Record<string, string | number | boolean>;
    account_id: string | null;
  }>(
    `SELECT c.serial, c.status, c.not_before, c.not_after, a.identifier_type, a.identifier_value, a.format,
            a.attested_identifiers, a.claims, c.account_id
     FROM certificates c JOIN attestations a ON a.id = c.attestation_id
     WHERE a.identifier_value = $1 OR a.attested_identifiers @> $2::jsonb
     ORDER BY c.not_before DESC`,
    [identifier, JSON.stringify([identifier])],
  );
  return rows.map((r) => ({
    serial: r.serial,
    status: r.status,
    notBefore: r.not_before,
    notAfter: r.not_after,
    identifier: { type: r.identifier_type, value: r.identifier_value },
    format: r.format,
    attestedIdentifiers: r.attested_identifiers,
    claims: r.claims,
    accountId: r.account_id,
  }));
}
