// Authorization reuse (RFC 8555 §7.1.3: an order's authorizations include "unexpired
// authorizations that the client has completed in the past for identifiers specified in the
// order"). A valid authorization of a dns or ip identifier stays valid for `acme.authzReuse`
// after its validation and serves every new order of its account for that identifier until
// then, so that renewals need no new challenge. Device identifiers are never reused: each
// device order needs a fresh attestation (draft-ietf-acme-device-attest: the certificate key is
// the attested key, and every CSR key is new). With `acme.authzReuse: off` nothing is reused
// and newAuthz is not offered.
import type { Identifier } from '../core.js';
import { reusableAuthorizations } from '../sa/authorizations.js';
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

/** The valid authorizations of the account that the new order's identifiers may reuse, by reuseKey. */
export async function findReusable(ctx: RaContext, accountId: string, wanted: { identifier: Identifier; wildcard: boolean }[]): Promise<Map<string, Reusable>> {
  if (!reuseEnabled(ctx)) return new Map();
  const eligible = wanted.filter((w) => !isDeviceIdentifier(w.identifier));
  if (!eligible.length) return new Map();
  const validUntil = new Date(ctx.clock.now().getTime() + minRemaining(ctx.config.acme.authzReuse));
  return reusableAuthorizations(ctx.db, accountId, eligible, validUntil);
}
