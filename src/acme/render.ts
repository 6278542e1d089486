// The JSON views of ACME resources (RFC 8555 §7.1.2–§7.1.5). Pure: records and URLs in, JSON out.
import { effectiveAuthzStatus, effectiveOrderStatus, type Account, type Authorization, type Challenge, type Order } from '../core.js';
import type { AcmeUrls } from './urls.js';

/** `binding`: the externalAccountBinding the account was created with (RFC 8555 §7.3.4). */
export function renderAccount(a: Account, urls: AcmeUrls, binding?: unknown) {
  return {
    status: a.status,
    contact: a.contact,
    termsOfServiceAgreed: a.tosAgreed,
    orders: urls.accountOrders(a.id),
    key: a.jwk,
    createdAt: a.createdAt.toISOString(),
    ...(binding !== undefined ? { externalAccountBinding: binding } : {}),
  };
}

export function renderOrder(o: Order, urls: AcmeUrls, now: Date) {
  const status = effectiveOrderStatus(o, now);
  return {
    status,
    expires: o.expiresAt.toISOString(),
    identifiers: o.identifiers,
    ...(o.notBefore ? { notBefore: o.notBefore.toISOString() } : {}),
    ...(o.notAfter ? { notAfter: o.notAfter.toISOString() } : {}),
    // draft-ietf-acme-profiles §4: the profile the certificate is issued under.
    ...(o.profile ? { profile: o.profile } : {}),
    ...(o.error ? { error: o.error } : {}),
    authorizations: o.authzIds.map(urls.authz),
    finalize: urls.finalize(o.id),
    ...(o.replaces ? { replaces: o.replaces } : {}),
    ...(status === 'valid' && o.certificateSerial ? { certificate: urls.certificate(o.certificateSerial) } : {}),
  };
}

export function renderChallenge(c: Challenge, urls: AcmeUrls) {
  return {
    type: c.type,
    url: urls.challenge(c.id),
    status: c.status,
    token: c.token,
    ...(c.validatedAt ? { validated: c.validatedAt.toISOString() } : {}),
    ...(c.error ? { error: c.error } : {}),
  };
}

export function renderAuthorization(a: Authorization, urls: AcmeUrls, now: Date) {
  const status = effectiveAuthzStatus(a, now);
  // RFC 8555 §7.1.4: a valid authorization lists only the challenge that validated it.
  const challenges = status === 'valid' ? a.challenges.filter((c) => c.status === 'valid') : a.challenges;
  return {
    identifier: a.identifier,
    status,
    expires: a.expiresAt.toISOString(),
    challenges: challenges.map((c) => renderChallenge(c, urls)),
    ...(a.wildcard ? { wildcard: true } : {}),
  };
}
