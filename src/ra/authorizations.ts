// Authorizations on their own (RFC 8555 §7.4.1, §7.5.2): pre-authorization before any order,
// and deactivation by the client.
import type { Account, Authorization, Identifier } from '../core.js';
import { effectiveAuthzStatus } from '../core.js';
import { AcmeError, notFound } from '../errors.js';
import * as sa from '../sa/authorizations.js';
import { authorizationById } from '../sa/orders.js';
import { authorizationsForOrder, reuseEnabled } from './authz-reuse.js';
import { later, type RaContext } from './context.js';
import { checkIdentifiers, isDeviceIdentifier } from './identifiers.js';
import { freshAuthorization } from './orders.js';
import { enforceNamePolicy } from './policy.js';
import { checkPendingAuthorizations } from './rate-limits.js';

/**
 * newAuthz (RFC 8555 §7.4.1): a pending authorization for one identifier, which later orders of
 * the account reuse once it is valid (ra/authz-reuse.ts).
 */
export async function newAuthorization(ctx: RaContext, account: Account, identifier: Identifier): Promise<Authorization> {
  if (!reuseEnabled(ctx)) throw new AcmeError('malformed', 'pre-authorization is not offered: this CA does not reuse authorizations (acme.authzReuse is off)', { status: 404 });
  // §7.4.1: an identifier the server is unwilling to issue for SHOULD be refused with 403.
  const unwilling = (type: 'rejectedIdentifier' | 'unsupportedIdentifier', detail: string, subdetail = detail) =>
    new AcmeError(type, detail, { status: 403, subproblems: [{ type, detail: subdetail, identifier }] });
  // §7.4.1: the identifier is the exact one authorized, so a wildcard cannot be pre-authorized.
  if (identifier.type === 'dns' && identifier.value.startsWith('*.')) {
    throw unwilling('rejectedIdentifier', `"${identifier.value}" is a wildcard; wildcard names cannot be pre-authorized (RFC 8555 §7.4.1), order them with newOrder`, 'wildcard names cannot be pre-authorized');
  }
  let checked: Identifier;
  try {
    [checked] = checkIdentifiers([identifier], { devices: ctx.config.deviceAttest.formats.length > 0, allowlist: ctx.config.deviceAttest.allowlist }) as [Identifier];
    enforceNamePolicy(ctx.config.policy, [checked]);
  } catch (err) {
    if (err instanceof AcmeError && (err.type === 'rejectedIdentifier' || err.type === 'unsupportedIdentifier')) throw unwilling(err.type, err.detail);
    throw err; // malformed: a request to fix, not a refusal
  }
  if (isDeviceIdentifier(checked)) {
    throw unwilling('rejectedIdentifier', `${checked.type} identifiers cannot be pre-authorized: every device order needs a fresh attestation (device-attest-01)`, 'device identifiers are validated per order');
  }
  checkPendingAuthorizations(ctx, (await authorizationsForOrder(ctx, account.id, [])).pending, 1);
  const authz = await sa.createAuthorization(ctx.db, account.id, freshAuthorization(checked, later(ctx, ctx.config.acme.authzLifetime)), ctx.clock.now());
  ctx.log.info({ audit: 'authz-created', account: account.id, authz: authz.id, identifier: checked }, 'pre-authorization created');
  return authz;
}

/**
 * RFC 8555 §7.5.2: the client deactivates a pending or valid authorization; the orders waiting on
 * it become invalid (§7.1.6). Anything else (invalid, expired, already deactivated) is refused.
 */
export async function deactivateAuthorization(ctx: RaContext, account: Account, authzId: string): Promise<Authorization> {
  const authz = await authorizationById(ctx.db, authzId);
  if (!authz) throw notFound('authorization');
  if (authz.accountId !== account.id) throw new AcmeError('unauthorized', 'this authorization belongs to another account');
  const orderError = new AcmeError('unauthorized', `the authorization for ${authz.identifier.type} ${authz.identifier.value} was deactivated by the account`).toProblem();
  if (!(await sa.deactivateAuthorization(ctx.db, authz.id, ctx.clock.now(), orderError))) {
    const now = (await authorizationById(ctx.db, authzId))!;
    throw new AcmeError('malformed', `the authorization is ${effectiveAuthzStatus(now, ctx.clock.now())}; only pending or valid authorizations can be deactivated (RFC 8555 §7.5.2)`);
  }
  ctx.log.info({ audit: 'authz-deactivated', account: account.id, authz: authz.id, identifier: authz.identifier }, 'authorization deactivated');
  return (await authorizationById(ctx.db, authz.id))!;
}
