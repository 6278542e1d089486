// ACME Renewal Information (RFC 9773 §4): when the CA would like a certificate renewed.
import { certIdOf, parseCertId } from '../acme/cert-id.js';
import { notFound } from '../errors.js';
import { certificateBySerial } from '../sa/issuance.js';
import type { RaContext } from './context.js';

export interface RenewalInfo {
  suggestedWindow: { start: Date; end: Date };
}

/**
 * The suggested window (RFC 9773 §4.2). A valid certificate: from two thirds of its lifetime to
 * five sixths. Let's Encrypt (Boulder's core.RenewalInfoSimple) aims renewal at the point where a
 * third of the lifetime remains; the window around it spreads clients' renewals over time (§1,
 * load spikes), and ending it with a sixth of the lifetime left leaves days for retries before
 * notAfter. A revoked certificate: a window that has already begun and ends now, so a client
 * renews at once (§4.2: a window in the past means renew immediately; Boulder's
 * RenewalInfoImmediate does the same).
 */
export function suggestedWindow(c: { notBefore: Date; notAfter: Date; status: 'valid' | 'revoked' }, now: Date): RenewalInfo['suggestedWindow'] {
  if (c.status === 'revoked') return { start: new Date(now.getTime() - 60 * 60_000), end: now };
  // The certificate's own times: whole seconds (RFC 5280 §4.1.2.5.1), notAfter inclusive (§4.1.2.5).
  const second = (d: Date) => Math.floor(d.getTime() / 1000) * 1000;
  const from = second(c.notBefore);
  const lifetime = second(c.notAfter) - from + 1000;
  return { start: new Date(from + Math.floor((lifetime * 2) / 3)), end: new Date(from + Math.floor((lifetime * 5) / 6)) };
}

/**
 * RFC 9773 §4.1: the certificate a certID names, if this CA issued it. The certID must be
 * exactly the one the stored certificate has: its serial and the keyIdentifier of its Authority
 * Key Identifier, which is our issuer's (src/ca/authority.ts). Otherwise 404.
 */
export async function renewalInfo(ctx: RaContext, certId: string): Promise<RenewalInfo> {
  const { serial } = parseCertId(certId);
  const cert = await certificateBySerial(ctx.db, serial);
  if (!cert || certIdOf(cert.der) !== certId) throw notFound('certificate');
  return { suggestedWindow: suggestedWindow(cert, ctx.clock.now()) };
}
