// newOrder (RFC 8555 §7.4): one pending authorization per identifier, each offering the
// challenges its identifier type allows.
import { randomBytes } from 'node:crypto';
import type { Account, ChallengeType, Identifier, Order } from '../core.js';
import { AcmeError } from '../errors.js';
import { newId } from '../sa/ids.js';
import * as sa from '../sa/orders.js';
import { later, type RaContext } from './context.js';
import { checkIdentifiers, wildcardBase } from './identifiers.js';

/**
 * The challenges offered for an authorization. dns: http-01 (RFC 8555 §8.3), dns-01 (§8.4),
 * tls-alpn-01 (RFC 8737). A wildcard: dns-01 only. RFC 8555 leaves that choice to the server;
 * http-01 and tls-alpn-01 show control of one host, dns-01 control of the zone that holds every
 * name under the base, and Boulder (Let's Encrypt) offers only dns-01 for wildcards too.
 * ip: http-01 and tls-alpn-01, not dns-01 (RFC 8738 §4, §7).
 */
function challengeTypesFor(identifier: Identifier, wildcard: boolean): ChallengeType[] {
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

export interface NewOrderRequest {
  identifiers: Identifier[];
  notBefore?: string | undefined;
  notAfter?: string | undefined;
}

export async function newOrder(ctx: RaContext, account: Account, req: NewOrderRequest): Promise<Order> {
  if (req.notBefore !== undefined || req.notAfter !== undefined) {
    throw new AcmeError('malformed', 'notBefore and notAfter are not supported yet; leave them out and the certificate gets the configured validity');
  }
  const identifiers = checkIdentifiers(req.identifiers, { devices: ctx.config.deviceAttest.formats.length > 0, allowlist: ctx.config.deviceAttest.allowlist });
  const now = ctx.clock.now();
  const expiresAt = later(ctx, ctx.config.acme.orderLifetime);
  const authzExpires = new Date(Math.min(expiresAt.getTime(), later(ctx, ctx.config.acme.authzLifetime).getTime()));
  const order = await sa.createOrder(ctx.db, {
    id: newId(),
    accountId: account.id,
    expiresAt,
    identifiers,
    notBefore: null,
    notAfter: null,
    createdAt: now,
    authorizations: identifiers.map(authorizationFor).map(({ identifier, wildcard }) => ({
      id: newId(),
      identifier,
      wildcard,
      expiresAt: authzExpires,
      challenges: challengeTypesFor(identifier, wildcard).map((type) => ({ id: newId(), type, token: newToken() })),
    })),
  });
  ctx.log.info({ audit: 'order-created', account: account.id, order: order.id, identifiers }, 'order created');
  return order;
}
