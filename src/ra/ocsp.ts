// Answering OCSP requests (RFC 6960): each certificate asked about is good, revoked (with its time
// and reason) or unknown (no certificate with that serial was issued here), read from the database
// at the moment of asking, so a revocation shows at once on every instance. A request about another
// issuer's certificates gets the `unauthorized` status (RFC 6960 §2.3), and bytes that are not an
// OCSP request get `malformedRequest` (§2.3): OCSP errors are OCSP responses, never problem documents.
import type { CertificateStatus } from '../core.js';
import { OcspRequestError, ocspErrorResponse, parseOcspRequest, type OcspErrorStatus, type ParsedOcspRequest } from '../pki/ocsp.js';
import { certificateRecord } from '../sa/revocation.js';
import type { RaContext } from './context.js';

export interface OcspResult {
  /** The DER OCSPResponse. */
  der: Buffer;
  /** For the request log: successful, or the error status. */
  outcome: 'successful' | OcspErrorStatus;
  /** Serials asked about and their status, for the request log. */
  answers?: { serial: string; status: CertificateStatus['status'] }[];
}

export async function answerOcsp(ctx: RaContext, requestDer: Buffer): Promise<OcspResult> {
  let request: ParsedOcspRequest;
  try {
    request = parseOcspRequest(requestDer);
  } catch (err) {
    if (!(err instanceof OcspRequestError)) throw err;
    ctx.log.debug({ err: err.message }, 'malformed OCSP request');
    return { der: ocspErrorResponse('malformedRequest'), outcome: 'malformedRequest' };
  }
  if (!request.queries.every((q) => ctx.ocsp.isForIssuer(q))) return { der: ocspErrorResponse('unauthorized'), outcome: 'unauthorized' };

  const now = ctx.clock.now();
  const answers = [];
  for (const query of request.queries) answers.push({ query, status: await statusOf(ctx, query.serial) });
  const der = ctx.ocsp.respond(answers, { now, validityMs: ctx.config.ocsp.responseValidity, nonce: request.nonce });
  return { der, outcome: 'successful', answers: answers.map((a) => ({ serial: a.query.serial, status: a.status.status })) };
}

async function statusOf(ctx: RaContext, serial: string): Promise<CertificateStatus> {
  const record = /^[0-9a-f]{1,64}$/.test(serial) ? await certificateRecord(ctx.db, serial) : undefined;
  if (!record) return { status: 'unknown' };
  if (record.status === 'revoked') return { status: 'revoked', revokedAt: record.revokedAt!, reason: record.reason ?? 0 };
  return { status: 'good' };
}
