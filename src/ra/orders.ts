// newOrder (RFC 8555 §7.4): one pending authorization per identifier, each offering the
// challenges its identifier type allows.
import { randomBytes } from 'node:crypto';
import type { Account, ChallengeType, Identifier, Order } from '../core.js';
import { AcmeError } from '../errors.js';
import { newId } from '../sa/ids.js';
import * as sa from '../sa/orders.js';
import { later, type RaContext } from './context.js';
import { checkIdentifiers } from './identifiers.js';

/** The challenges offered per identifier type (RFC 8555 §8, RFC 8738 §4). */
function challengeTypesFor(identifier: Identifier): ChallengeType[] {
  switch (identifier.type) {
    case 'dns':
    case 'ip':
      return ['http-01'];
    case 'permanent-identifier':
    case 'hardware-module':
      // draft-ietf-acme-device-attest §3–§4: these are validated by device-attest-01 only.
      return ['device-attest-01'];
    default:
      return [];
  }
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
    authorizations: identifiers.map((identifier) => ({
      id: newId(),
      identifier,
      wildcard: false,
      expiresAt: authzExpires,
      challenges: challengeTypesFor(identifier).map((type) => ({ id: newId(), type, token: newToken() })),
    })),
  });
  ctx.log.info({ audit: 'order-created', account: account.id, order: order.id, identifiers }, 'order created');
  return order;
}
