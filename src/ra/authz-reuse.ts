// Authorization reuse (RFC 8555 §7.1.3: an order's authorizations include "unexpired
// authorizations that the client has completed in the past for identifiers specified in the
// order"). A valid authorization of a dns or ip identifier stays valid for `acme.authzReuse`
// after its validation and serves every new order of its account for that identifier until
// then, so that renewals need no new challenge. Device identifiers are never reused: each
// device order needs a fresh attestation (draft-ietf-acme-device-attest: the certificate key is
// the attested key, and every CSR key is new). With `acme.authzReuse: off` nothing is reused
// and newAuthz is not offered.
import type { Identifier } from '../core.js';
import { authorizationsForNewOrder, type PendingAuthorizations } from '../sa/authorizations.js';
import type { RaContext } from './context.js';
import { isDeviceIdentifier } from './identifiers.js';

/** A reused authorization has at least this much validity left (an hour, or half the window when it is shorter). */
const minRemaining = (window: number): number => Math.min(3_600_000, window / 2);

export const reuseEnabled = (ctx: Pick<RaContext, 'config'>): boolean => ctx.config.acme.authzReuse > 0;

/**
 * The expiry a just-validated authorization gets (the reuse window from now), or undefined to
 * keep the one it was created with (reuse off, device identifiers).
 */
export function validAuthzExpiry(ctx: Pick<RaContext, 'config'>, identifier: Identifier, validatedAt: Date): Date | undefined {
  if (!reuseEnabled(ctx) || isDeviceIdentifier(identifier)) return undefined;
  return new Date(validatedAt.getTime() + ctx.config.acme.authzReuse);
}

export interface Reusable {
  id: string;
  expiresAt: Date;
}

/**
 * What newOrder (and newAuthz, with nothing wanted) reads of the account's authorizations, in one
 * statement: the valid ones its identifiers may reuse (by reuseKey) and the pending count that
 * limits.pendingAuthorizationsPerAccount caps (ra/rate-limits.ts checkPendingAuthorizations).
 */
export async function authorizationsForOrder(ctx: RaContext, accountId: string, wanted: { identifier: Identifier; wildcard: boolean }[]): Promise<{ reusable: Map<string, Reusable>; pending: PendingAuthorizations }> {
  const eligible = reuseEnabled(ctx) ? wanted.filter((w) => !isDeviceIdentifier(w.identifier)) : [];
  if (!eligible.length && ctx.config.limits.pendingAuthorizationsPerAccount === 0) return { reusable: new Map(), pending: { count: 0, firstExpiry: undefined } };
  const now = ctx.clock.now();
  const validUntil = new Date(now.getTime() + minRemaining(ctx.config.acme.authzReuse));
  return authorizationsForNewOrder(ctx.db, accountId, eligible, validUntil, now);
}
