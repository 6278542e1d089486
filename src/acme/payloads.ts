// The JSON bodies clients send (RFC 8555 §7.3, §7.4, §7.5.1), as zod schemas. Unknown fields
// are ignored, as RFC 8555 §7.1 asks of servers; wrong types are `malformed`.
import { z } from 'zod';

const identifier = z.object({ type: z.string(), value: z.string() });

export const newAccountPayload = z.object({
  contact: z.array(z.string()).optional(),
  termsOfServiceAgreed: z.boolean().optional(),
  onlyReturnExisting: z.boolean().optional(),
  externalAccountBinding: z.unknown().optional(),
});

export const accountUpdatePayload = z.object({
  contact: z.array(z.string()).optional(),
  status: z.string().optional(),
  termsOfServiceAgreed: z.boolean().optional(),
});

export const newOrderPayload = z.object({
  identifiers: z.array(identifier).min(1, 'an order needs at least one identifier'),
  notBefore: z.string().optional(),
  notAfter: z.string().optional(),
  /** RFC 9773 §5: the certID of the certificate this order replaces. */
  replaces: z.string().max(200).optional(),
  /** draft-ietf-acme-profiles §4: the name of one of the directory's meta.profiles. */
  profile: z.string().max(200).optional(),
});

/** RFC 8555 §7.4.1: pre-authorization names one identifier. */
export const newAuthzPayload = z.object({
  identifier,
});

/** RFC 8555 §7.5.2: the only change a client may make to an authorization. */
export const authzUpdatePayload = z.object({
  status: z.literal('deactivated', { error: 'an authorization can only be updated to {"status": "deactivated"} (RFC 8555 §7.5.2)' }),
});

export const finalizePayload = z.object({
  csr: z.string().min(1),
});

/** RFC 8555 §7.6: the certificate as base64url DER and an optional RFC 5280 §5.3.1 reason code. */
export const revokeCertPayload = z.object({
  certificate: z.string().min(1),
  reason: z.number().int('reason must be an integer reason code (RFC 5280 §5.3.1)').optional(),
});

/** RFC 8555 §7.5.1: the client POSTs an empty object (device-attest-01 adds attObj). */
export const challengePayload = z.record(z.string(), z.unknown());

export type NewAccountPayload = z.infer<typeof newAccountPayload>;
export type NewOrderPayload = z.infer<typeof newOrderPayload>;
