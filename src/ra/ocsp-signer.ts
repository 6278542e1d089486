// Keeps the delegated OCSP signing certificate (RFC 6960 §4.2.2.2) fresh: on start and twice a day,
// if the one in use has less than a third of its validity left, take the stored one when another
// instance has already renewed it, else make a new one. Its serial is recorded before signing and
// the certificate stored like any other (DESIGN.md: crash-safe issuance).
import { newSerial } from '../ca/hierarchy.js';
import { renewOcspSigner, type OcspSignerStore } from '../ca/ocsp-signer.js';
import { toPem } from '../pki/pem.js';
import { reserveSerial, storeCertificate } from '../sa/issuance.js';
import type { RaContext } from './context.js';

/** Twice a day, or more often for signing certificates shorter-lived than three days. */
const checkEvery = (validityMs: number): number => Math.min(12 * 3_600_000, Math.max(60_000, validityMs / 6));

export async function ensureOcspSigner(ctx: RaContext, store: OcspSignerStore): Promise<void> {
  const now = ctx.clock.now();
  const validity = ctx.config.ocsp.signerValidity;
  const renewWithin = validity / 3;
  const current = ctx.ocsp.signerNotAfter;
  if (current && current.getTime() - now.getTime() > renewWithin) return;
  const stored = store.useStored(ctx.ocsp, now, renewWithin);
  if (stored.used) return;
  if (stored.problem) ctx.log.warn({ file: store.file, problem: stored.problem }, 'the stored OCSP signing certificate cannot be used; making a new one');

  const notBefore = new Date(now.getTime() - ctx.config.ca.backdate);
  const notAfter = new Date(Math.min(now.getTime() + validity, ctx.ca.issuerNotAfter.getTime()));
  const serial = newSerial();
  await reserveSerial(ctx.db, serial, null, 'ocsp-signer', now);
  const der = await renewOcspSigner(ctx.ca, store, ctx.ocsp, { serial, notBefore, notAfter });
  await storeCertificate(ctx.db, { serial, orderId: null, accountId: null, der, chainPem: toPem(der) + ctx.ca.intermediatesPem, identifiers: [], notBefore, notAfter, createdAt: now });
  ctx.log.info({ audit: 'issuance', purpose: 'ocsp-signer', serial, notAfter, file: store.file }, 'issued a delegated OCSP signing certificate');
}

/** Checks now and then (twice a day for the default 30 days); returns a stop function. */
export function keepOcspSignerFresh(ctx: RaContext, store: OcspSignerStore): () => void {
  const timer = setInterval(() => {
    ensureOcspSigner(ctx, store).catch((err: unknown) => ctx.log.error({ err }, 'renewing the OCSP signing certificate failed; will try again'));
  }, checkEvery(ctx.config.ocsp.signerValidity)).unref();
  return () => clearInterval(timer);
}
