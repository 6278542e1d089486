// newOrder (RFC 8555 §7.4): one authorization per identifier, each offering the challenges its
// identifier type allows, or a valid one of the account's reused (ra/authz-reuse.ts); the
// certificate's validity window when the client asks for one (ra/validity.ts).
import { randomBytes } from 'node:crypto';
import type { Account, ChallengeType, Identifier, Order } from '../core.js';
import { AcmeError } from '../errors.js';
import { newId } from '../sa/ids.js';
import { reuseKey } from '../sa/authorizations.js';
import * as sa from '../sa/orders.js';
import { authorizationsForOrder, type Reusable } from './authz-reuse.js';
import { later, type RaContext } from './context.js';
import { checkIdentifiers, isDeviceIdentifier, wildcardBase } from './identifiers.js';
import { checkReplaces } from './replaces.js';
import { enforceNamePolicy } from './policy.js';
import { enforceProfileIdentifiers, selectProfile } from './profiles.js';
import { checkPendingAuthorizations, limited, limitSlots } from './rate-limits.js';
import type { RateLimitSlots } from '../sa/rate-limits.js';
import { requestedWindow } from './validity.js';

/**
 * The challenges offered for an authorization. dns: http-01 (RFC 8555 §8.3), dns-01 (§8.4),
 * tls-alpn-01 (RFC 8737). A wildcard: dns-01 only. RFC 8555 leaves that choice to the server;
 * http-01 and tls-alpn-01 show control of one host, dns-01 control of the zone that holds every
 * name under the base, and Boulder (Let's Encrypt) offers only dns-01 for wildcards too.
 * ip: http-01 and tls-alpn-01, not dns-01 (RFC 8738 §4, §7).
 */
export function challengeTypesFor(identifier: Identifier, wildcard: boolean): ChallengeType[] {
  switch (identifier.type) {
    case 'dns':
      return wildcard ? ['dns-01'] : ['http-01', 'dns-01', 'tls-alpn-01'];
    case 'ip':
      return ['http-01', 'tls-alpn-01'];
    case 'permanent-identifier':
    case 'hardware-module':
      // draft-ietf-acme-device-attest §3–§4: these are validated by device-attest-01 only.
      return ['device-attest-01'];
    default:
      return [];
  }
}

/**
 * The authorization for an order identifier. RFC 8555 §7.1.3–§7.1.4: a wildcard "*.example.com"
 * is authorized by an authorization for "example.com" with wildcard: true; the order keeps the
 * name as requested, and the CSR must carry it exactly.
 */
function authorizationFor(identifier: Identifier): { identifier: Identifier; wildcard: boolean } {
  const base = wildcardBase(identifier);
  return base === undefined ? { identifier, wildcard: false } : { identifier: { type: 'dns', value: base }, wildcard: true };
}

/** RFC 8555 §8.1: a token has at least 128 bits of entropy; 256 here, base64url. */
const newToken = (): string => randomBytes(32).toString('base64url');

/** A new pending authorization for one identifier, with its challenges. */
export function freshAuthorization(identifier: Identifier, expiresAt: Date, wildcard = false): sa.NewAuthorization {
  return {
    id: newId(),
    identifier,
    wildcard,
    expiresAt,
    challenges: challengeTypesFor(identifier, wildcard).map((type) => ({ id: newId(), type, token: newToken() })),
  };
}

export interface NewOrderRequest {
  identifiers: Identifier[];
  notBefore?: string | undefined;
  notAfter?: string | undefined;
  /** RFC 9773 §5: the certID of the certificate this order replaces. */
  replaces?: string | undefined;
  /** draft-ietf-acme-profiles §4: one of the directory's meta.profiles. */
  profile?: string | undefined;
}

export async function newOrder(ctx: RaContext, account: Account, req: NewOrderRequest): Promise<Order> {
  const identifiers = checkIdentifiers(req.identifiers, { devices: ctx.config.deviceAttest.formats.length > 0, allowlist: ctx.config.deviceAttest.allowlist });
  enforceNamePolicy(ctx.config.policy, identifiers);
  const profile = selectProfile(ctx.config, req.profile);
  enforceProfileIdentifiers(ctx.config, profile, identifiers);
  const window = requestedWindow(ctx.config, { ...req, profile }, identifiers.some(isDeviceIdentifier), ctx.clock.now(), ctx.ca.issuerNotAfter);
  const wanted = identifiers.map(authorizationFor);
  if (req.replaces !== undefined) await checkReplaces(ctx, account, req.replaces, identifiers);
  const create = async (reusable: Map<string, Reusable>, slots: RateLimitSlots | undefined): Promise<Order> => {
    const now = ctx.clock.now();
    // RFC 8555 §7.1.3: an order lives no longer than its authorizations.
    const reusedExpiry = Math.min(...[...reusable.values()].map((r) => r.expiresAt.getTime()));
    const expiresAt = new Date(Math.min(later(ctx, ctx.config.acme.orderLifetime).getTime(), reusedExpiry));
    const authzExpires = new Date(Math.min(expiresAt.getTime(), later(ctx, ctx.config.acme.authzLifetime).getTime()));
    return sa.createOrder(ctx.db, {
      id: newId(),
      accountId: account.id,
      expiresAt,
      identifiers,
      notBefore: window.notBefore,
      notAfter: window.notAfter,
      createdAt: now,
      replaces: req.replaces ?? null,
      profile,
      authorizations: wanted.map((w) => {
        const reused = reusable.get(reuseKey(w));
        return reused ? { reuse: reused.id } : freshAuthorization(w.identifier, authzExpires, w.wildcard);
      }),
    }, slots);
  };
  const createOnce = async (reusable: Map<string, Reusable>): Promise<Order> => {
    // The ordersPerAccount slot is taken by the statement that creates the order (sa/orders.ts).
    const slots = limitSlots(ctx, 'ordersPerAccount', [account.id]);
    try {
      return await limited(ctx, 'ordersPerAccount', slots, () => create(reusable, slots));
    } catch (err) {
      // RFC 9773 §5, §7.4: 409 alreadyReplaced when an order that is not invalid holds it.
      if (err instanceof sa.AlreadyReplaced) throw new AcmeError('alreadyReplaced', 'replaces: another order already replaces this certificate (RFC 9773 §5)', { cause: err });
      throw err;
    }
  };
  const { reusable, pending } = await authorizationsForOrder(ctx, account.id, wanted);
  // Limits last, once the order is known to be acceptable: a refused order takes no slot.
  checkPendingAuthorizations(ctx, pending, wanted.filter((w) => !reusable.has(reuseKey(w))).length);
  let order: Order;
  try {
    order = await createOnce(reusable);
  } catch (err) {
    // An authorization found for reuse was deactivated (or expired) a moment ago: order afresh.
    if (!(err instanceof sa.ReusedAuthorizationGone)) throw err;
    order = await createOnce(new Map());
  }
  ctx.log.info(
    { audit: 'order-created', account: account.id, order: order.id, identifiers, status: order.status, replaces: order.replaces ?? undefined, profile: profile ?? undefined, notBefore: window.notBefore ?? undefined, notAfter: window.notAfter ?? undefined },
    'order created',
  );
  return order;
}
