// The records the roles pass to each other. Status names and transitions are RFC 8555 §7.1.6.
import type { JWK } from 'jose';
import type { Identifier, ProblemDocument } from './errors.js';

export type { Identifier, ProblemDocument };

export type AccountStatus = 'valid' | 'deactivated' | 'revoked';
export type OrderStatus = 'pending' | 'ready' | 'processing' | 'valid' | 'invalid';
export type AuthzStatus = 'pending' | 'valid' | 'invalid' | 'deactivated' | 'expired' | 'revoked';
export type ChallengeStatus = 'pending' | 'processing' | 'valid' | 'invalid';
export type ChallengeType = 'http-01' | 'dns-01' | 'tls-alpn-01' | 'device-attest-01';

export interface Account {
  id: string;
  keyThumbprint: string;
  jwk: JWK;
  contact: string[];
  status: AccountStatus;
  tosAgreed: boolean;
  createdAt: Date;
}

export interface Order {
  id: string;
  accountId: string;
  status: OrderStatus;
  expiresAt: Date;
  identifiers: Identifier[];
  notBefore: Date | null;
  notAfter: Date | null;
  error: ProblemDocument | null;
  authzIds: string[];
  certificateSerial: string | null;
  createdAt: Date;
  /** RFC 9773 §5: the certID of the certificate this order replaces. */
  replaces: string | null;
  /** draft-ietf-acme-profiles §4: the profile (acme.profiles) it is issued under; null = built-in. */
  profile: string | null;
}

export interface Challenge {
  id: string;
  authzId: string;
  type: ChallengeType;
  token: string;
  status: ChallengeStatus;
  validatedAt: Date | null;
  error: ProblemDocument | null;
  attempts: number;
}

export interface Authorization {
  id: string;
  accountId: string;
  identifier: Identifier;
  wildcard: boolean;
  status: AuthzStatus;
  expiresAt: Date;
  challenges: Challenge[];
}

export interface IssuedCertificate {
  serial: string;
  orderId: string | null;
  accountId: string | null;
  der: Buffer;
  chainPem: string;
  notBefore: Date;
  notAfter: Date;
  status: 'valid' | 'revoked';
}

/** RFC 8555 §7.1.6: an order or authorization past its expiry is shown as invalid / expired. */
export function effectiveOrderStatus(order: Pick<Order, 'status' | 'expiresAt'>, now: Date): OrderStatus {
  if ((order.status === 'pending' || order.status === 'ready') && order.expiresAt <= now) return 'invalid';
  return order.status;
}

export function effectiveAuthzStatus(authz: Pick<Authorization, 'status' | 'expiresAt'>, now: Date): AuthzStatus {
  if ((authz.status === 'pending' || authz.status === 'valid') && authz.expiresAt <= now) return 'expired';
  return authz.status;
}

/** CRLReason codes (RFC 5280 §5.3.1). 7 is unassigned. */
export const revocationReasons = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  removeFromCRL: 8,
  privilegeWithdrawn: 9,
  aACompromise: 10,
} as const;

export type RevocationReasonName = keyof typeof revocationReasons;

export const revocationReasonName = (code: number): RevocationReasonName | undefined =>
  (Object.keys(revocationReasons) as RevocationReasonName[]).find((k) => revocationReasons[k] === code);

/** Where a certificate stands, for CRLs and OCSP. */
export type CertificateStatus = { status: 'good' } | { status: 'revoked'; revokedAt: Date; reason: number } | { status: 'unknown' };
