// The `replaces` field of newOrder (RFC 9773 §5): which certificate an order replaces.
import { certIdOf, parseCertId } from '../acme/cert-id.js';
import type { Account, Identifier } from '../core.js';
import { AcmeError } from '../errors.js';
import { certificateRecord } from '../sa/revocation.js';
import type { RaContext } from './context.js';

const key = (i: Identifier): string => `${i.type}:${i.value.toLowerCase()}`;

/**
 * Checks a `replaces` certID against the order (RFC 9773 §5: the server SHOULD check that the
 * certificate and the new order belong to the same account and share at least one identifier).
 * Both are required here. Another account may not name a certificate, even one for names it
 * controls: the mark is one per certificate (§7.4), so a stranger's pending order would shut out
 * the holder's own replacement. An account that controls the names orders without `replaces`.
 *
 * A certificate this CA never issued is `malformed` (400), not 404: the newOrder resource exists
 * (RFC 9110 §15.5.5), the request names something that does not. Whether the certificate is
 * already replaced is decided by the insert itself (sa/orders.ts, migrations/0005_ari.sql).
 */
export async function checkReplaces(ctx: RaContext, account: Account, certId: string, identifiers: Identifier[]): Promise<void> {
  const { serial } = parseCertId(certId);
  const cert = await certificateRecord(ctx.db, serial);
  if (!cert || certIdOf(cert.der) !== certId) throw new AcmeError('malformed', 'replaces: this CA issued no certificate with that certID (RFC 9773 §5)');
  if (cert.accountId !== account.id) throw new AcmeError('unauthorized', 'replaces: the certificate was issued to another account (RFC 9773 §5)');
  const theirs = new Set(cert.identifiers.map(key));
  if (!identifiers.some((i) => theirs.has(key(i)))) {
    throw new AcmeError('malformed', 'replaces: the order shares no identifier with the certificate it replaces (RFC 9773 §5)');
  }
}
