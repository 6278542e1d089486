// Revocation rules (RFC 8555 §7.6), following Let's Encrypt's Boulder:
//  - signed by the account that was issued the certificate (kid): any reason a subscriber may give;
//  - signed by another account that holds valid authorizations for every identifier in the
//    certificate (kid): allowed, and recorded as cessationOfOperation, the reason that covers "the
//    subscriber no longer controls the names" (Boulder's RevokeCertByApplicant);
//  - signed with the certificate's own key (jwk): allowed, and recorded as keyCompromise, since
//    whoever sends it holds the key (Boulder's RevokeCertByKey); a certificate revoked earlier for
//    another reason becomes keyCompromise, keeping its revocation date.
// Subscribers may ask for unspecified, keyCompromise, affiliationChanged, superseded,
// cessationOfOperation or privilegeWithdrawn (0, 1, 3, 4, 5, 9): 2 and 10 are about CAs, 6
// (certificateHold) and 8 (removeFromCRL) are for temporary holds this CA does not make, and 7 is
// unassigned (RFC 5280 §5.3.1). Operators may use any assigned code but removeFromCRL (8), which
// only has a meaning in delta CRLs (RFC 5280 §5.3.1) and this CA signs full CRLs.
import { createPublicKey, X509Certificate } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate } from '@peculiar/asn1-x509';
import type { JWK } from 'jose';
import { revocationReasonName, revocationReasons, type Account } from '../core.js';
import { AcmeError } from '../errors.js';
import { integerHex } from '../pki/der.js';
import type { Logger } from '../log.js';
import type { Clock } from '../clock.js';
import type { Db } from '../sa/db.js';
import { certificateRecord, holdsValidAuthorizations, markKeyCompromise, revokeCertificate, type CertificateRecord } from '../sa/revocation.js';
import type { RaContext } from './context.js';
import { refreshCrl } from './crl.js';

const { unspecified, keyCompromise, cACompromise, affiliationChanged, superseded, cessationOfOperation, certificateHold, privilegeWithdrawn, aACompromise } = revocationReasons;

/** Reasons a subscriber may give (Boulder's UserAllowedReasons). */
export const SUBSCRIBER_REASONS: ReadonlySet<number> = new Set([unspecified, keyCompromise, affiliationChanged, superseded, cessationOfOperation, privilegeWithdrawn]);
/** Reasons an operator may give with `attestca revoke`: every assigned code but removeFromCRL. */
export const OPERATOR_REASONS: ReadonlySet<number> = new Set([...SUBSCRIBER_REASONS, cACompromise, certificateHold, aACompromise]);

export type RevocationMethod = 'subscriber' | 'control' | 'key' | 'operator';

export interface RevocationRequest {
  /** The certificate as sent, DER. */
  der: Buffer;
  /** The reason asked for; absent means unspecified. */
  reason: number | undefined;
}

/** A revokeCert request signed by an account (kid). */
export async function revokeByAccount(ctx: RaContext, account: Account, req: RevocationRequest): Promise<void> {
  const { record, reason } = await checkRequest(ctx, req);
  let method: RevocationMethod = 'subscriber';
  let recorded = reason;
  if (record.accountId !== account.id) {
    if (!(await holdsValidAuthorizations(ctx.db, account.id, record.identifiers, ctx.clock.now()))) {
      throw new AcmeError('unauthorized', 'this account was not issued the certificate and does not hold valid authorizations for all of its identifiers (RFC 8555 §7.6)');
    }
    method = 'control';
    recorded = cessationOfOperation;
  }
  await revoke(ctx, record, recorded, method, { account: account.id, requestedReason: reason });
}

/** A revokeCert request signed with a key in the JWS (jwk): it must be the certificate's key. */
export async function revokeByCertificateKey(ctx: RaContext, jwk: JWK, req: RevocationRequest): Promise<void> {
  const { record, reason, cert } = await checkRequest(ctx, req);
  const certSpki = cert.publicKey.export({ type: 'spki', format: 'der' });
  let jwkSpki: Buffer;
  try {
    jwkSpki = createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'der' });
  } catch {
    throw new AcmeError('malformed', 'the jwk is not a public key');
  }
  if (!jwkSpki.equals(certSpki)) throw new AcmeError('unauthorized', "a revocation signed with a jwk must be signed by the certificate's own key (RFC 8555 §7.6)");
  if (record.status === 'revoked' && record.reason !== keyCompromise && (await markKeyCompromise(ctx.db, record.serial))) {
    ctx.log.info({ audit: 'revocation', serial: record.serial, method: 'key', reason: 'keyCompromise', previousReason: reasonText(record.reason ?? 0) }, 'revocation reason changed to keyCompromise: the request was signed with the certificate key');
    await refreshCrlAfterRevocation(ctx);
    return;
  }
  await revoke(ctx, record, keyCompromise, 'key', { requestedReason: reason });
}

/** `attestca revoke`: an operator revokes by serial; the CRL follows at the next scheduled check. */
export async function revokeByOperator(ctx: { db: Db; clock: Clock; log: Logger }, serial: string, reason: number): Promise<void> {
  if (!OPERATOR_REASONS.has(reason)) {
    throw new AcmeError('badRevocationReason', `reason ${reason} cannot be used; operators may use ${sorted(OPERATOR_REASONS).map((r) => `${r} (${reasonText(r)})`).join(', ')}`);
  }
  const record = await certificateRecord(ctx.db, serial);
  if (!record) throw new AcmeError('malformed', `no certificate with serial ${serial} was issued by this CA`, { status: 404 });
  const outcome = await revokeCertificate(ctx.db, serial, reason, ctx.clock.now());
  if (outcome === 'already-revoked') throw new AcmeError('alreadyRevoked', `certificate ${serial} is already revoked`);
  if (outcome === 'not-found') throw new AcmeError('malformed', `no certificate with serial ${serial} was issued by this CA`, { status: 404 });
  ctx.log.info({ audit: 'revocation', serial, method: 'operator', reason: reasonText(reason) }, 'certificate revoked');
}

/**
 * The checks every ACME revocation passes before whoever asks is considered (Boulder's
 * parseRevocation): a certificate, issued by this CA, on record, unexpired, and a reason a
 * subscriber may give.
 */
async function checkRequest(ctx: RaContext, req: RevocationRequest): Promise<{ record: CertificateRecord; reason: number; cert: X509Certificate }> {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(req.der);
  } catch {
    throw new AcmeError('malformed', 'certificate is not a DER X.509 certificate (RFC 8555 §7.6: base64url of the DER)');
  }
  // Boulder answers 404 for a certificate this CA did not issue, and for one it has no record of.
  if (!ctx.ca.issued(req.der)) throw new AcmeError('malformed', 'the certificate was not issued by this CA', { status: 404 });
  const serial = integerHex(new Uint8Array(AsnConvert.parse(req.der, Certificate).tbsCertificate.serialNumber));
  const record = await certificateRecord(ctx.db, serial);
  if (!record || !record.der.equals(req.der)) throw new AcmeError('malformed', `unable to find the certificate with serial ${serial}`, { status: 404 });
  if (record.notAfter <= ctx.clock.now()) throw new AcmeError('unauthorized', 'the certificate has expired; an expired certificate is not revoked');
  const reason = req.reason ?? unspecified;
  if (!SUBSCRIBER_REASONS.has(reason)) {
    throw new AcmeError('badRevocationReason', `reason ${reason}${revocationReasonName(reason) ? ` (${revocationReasonName(reason)})` : ''} is not accepted; use one of ${sorted(SUBSCRIBER_REASONS).map((r) => `${r} (${reasonText(r)})`).join(', ')}`);
  }
  return { record, reason, cert };
}

async function revoke(ctx: RaContext, record: CertificateRecord, reason: number, method: RevocationMethod, extra: Record<string, unknown>): Promise<void> {
  const outcome = await revokeCertificate(ctx.db, record.serial, reason, ctx.clock.now());
  if (outcome === 'already-revoked') throw new AcmeError('alreadyRevoked', `the certificate with serial ${record.serial} is already revoked`);
  if (outcome === 'not-found') throw new AcmeError('malformed', `unable to find the certificate with serial ${record.serial}`, { status: 404 });
  ctx.log.info({ audit: 'revocation', serial: record.serial, method, reason: reasonText(reason), ...extra }, 'certificate revoked');
  await refreshCrlAfterRevocation(ctx);
}

/** The revocation is stored either way; a CRL that fails to sign now is retried by the schedule. */
async function refreshCrlAfterRevocation(ctx: RaContext): Promise<void> {
  try {
    await refreshCrl(ctx, true);
  } catch (err) {
    ctx.log.error({ err }, 'signing the CRL after a revocation failed; the scheduled check will retry');
  }
}

const reasonText = (code: number): string => revocationReasonName(code) ?? String(code);
const sorted = (set: ReadonlySet<number>): number[] => [...set].sort((a, b) => a - b);
