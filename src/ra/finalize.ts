// Finalization (RFC 8555 §7.4): the CSR must name exactly the order's identifiers with an
// acceptable key that is not the account key; then the order is processing until the signed
// certificate is stored. Issuance is crash-safe: see sa/issuance.ts.
import { createPublicKey } from 'node:crypto';
import type { JWK } from 'jose';
import { jwkThumbprint } from '../acme/thumbprint.js';
import type { Account, Identifier, Order } from '../core.js';
import { effectiveOrderStatus } from '../core.js';
import { AcmeError, notFound } from '../errors.js';
import { newSerial } from '../ca/hierarchy.js';
import { CsrError, parseCsr, type ParsedCsr } from '../pki/csr.js';
import { toPem } from '../pki/pem.js';
import { beginIssuance, failIssuance, issuanceRequest, reserveSerial, storeCertificate, type IssuanceRequest } from '../sa/issuance.js';
import { orderById } from '../sa/orders.js';
import { evidenceForOrder, keySha256 } from '../sa/attestations.js';
import { later, type RaContext } from './context.js';
import { identifierKey, isDeviceIdentifier } from './identifiers.js';
import { profileConfig } from './profiles.js';
import { limited, limitSlots } from './rate-limits.js';
import { certificateWindow } from './validity.js';

export async function finalizeOrder(ctx: RaContext, account: Account, orderId: string, csrB64: string): Promise<Order> {
  const order = await orderById(ctx.db, orderId);
  if (!order) throw notFound('order');
  if (order.accountId !== account.id) throw new AcmeError('unauthorized', 'this order belongs to another account');
  const status = effectiveOrderStatus(order, ctx.clock.now());
  if (status !== 'ready') throw new AcmeError('orderNotReady', `order is ${status}, not ready: ${status === 'pending' ? 'answer its challenges first' : 'it cannot be finalized again'}`);
  // draft-ietf-acme-profiles §4: a profile the CA no longer issues under is invalidProfile.
  profileConfig(ctx.config, order.profile);

  if (!/^[A-Za-z0-9_-]+$/.test(csrB64)) throw new AcmeError('badCSR', 'csr is not base64url without padding (RFC 8555 §7.4)');
  const der = Buffer.from(csrB64, 'base64url');
  const csr = readCsr(der);
  checkCsrKey(csr, account);
  // The attestation a device certificate records (certificates.attestation_id), as checked here.
  let attestationId: string | null = null;
  if (order.identifiers.some(isDeviceIdentifier)) attestationId = (await checkDeviceCsr(ctx, csr, order))[0]?.id ?? null;
  else checkCsrNames(csr, order.identifiers);

  const now = ctx.clock.now();
  if (!certificateWindow(ctx.config, order, order.identifiers.some(isDeviceIdentifier), now, ctx.ca.issuerNotAfter)) {
    if (!order.notAfter) throw new Error(`the issuing CA expired on ${ctx.ca.issuerNotAfter.toISOString()}`);
    throw new AcmeError('malformed', `the order's notAfter (${order.notAfter.toISOString()}) has passed: the certificate would be expired already; create a new order`);
  }
  // Counted per identifier, all or none, by the statement that claims the order for issuance.
  const slots = limitSlots(ctx, 'certificatesPerName', order.identifiers.map(identifierKey));
  const serial = newSerial();
  const claimed = await limited(ctx, 'certificatesPerName', slots, () =>
    beginIssuance(ctx.db, order.id, account.id, der, now, later(ctx, ctx.config.acme.validationLease), serial, slots),
  );
  if (!claimed) {
    throw new AcmeError('orderNotReady', 'order is no longer ready (finalized by a concurrent request, or expired)');
  }
  // What issue() would read back from the order just claimed, the CSR already parsed and the
  // serial just recorded.
  const stored = await issue(ctx, order.id, { request: { accountId: account.id, csr: der, identifiers: order.identifiers, notBefore: order.notBefore, notAfter: order.notAfter, profile: order.profile }, csr, serial, attestationId });
  // Stored here: the order is valid with this certificate. Otherwise (failed, or finished
  // elsewhere) the order as stored says what happened.
  return stored ? { ...order, status: 'valid', certificateSerial: stored } : (await orderById(ctx.db, order.id))!;
}

function readCsr(der: Buffer): ParsedCsr {
  try {
    return parseCsr(der);
  } catch (err) {
    if (err instanceof CsrError) throw new AcmeError('badCSR', err.message);
    throw err;
  }
}

/** Key types accepted for end-entity certificates. */
function checkCsrKey(csr: ParsedCsr, account: Account): void {
  const k = csr.publicKey;
  const d = k.asymmetricKeyDetails ?? {};
  if (k.asymmetricKeyType === 'ec') {
    if (d.namedCurve !== 'prime256v1' && d.namedCurve !== 'secp384r1') throw new AcmeError('badCSR', `EC curve ${d.namedCurve} is not accepted; use P-256 or P-384`);
  } else if (k.asymmetricKeyType === 'rsa') {
    const bits = d.modulusLength ?? 0;
    if (bits < 2048 || bits > 8192 || bits % 8 !== 0) throw new AcmeError('badCSR', `RSA key of ${bits} bits is not accepted; use 2048 to 8192 bits`);
  } else {
    throw new AcmeError('badCSR', `key type ${k.asymmetricKeyType} is not accepted; use EC P-256/P-384 or RSA`);
  }
  // Pebble's and Boulder's rule: the certificate key must not be the account key.
  const csrThumbprint = jwkThumbprint(k.export({ format: 'jwk' }) as JWK);
  if (csrThumbprint === account.keyThumbprint) throw new AcmeError('badCSR', 'the CSR public key is the account key; use a separate key for the certificate');
}

/** RFC 8555 §7.4: the CSR names exactly the order's identifiers, no more and no fewer. */
function checkCsrNames(csr: ParsedCsr, identifiers: Identifier[]): void {
  if (csr.otherNames.length) throw new AcmeError('badCSR', `CSR asks for names this server does not issue: ${csr.otherNames.join(', ')}`);
  const requested = new Set([...csr.dnsNames.map((v) => `dns:${v}`), ...csr.ipAddresses.map((v) => `ip:${v}`)]);
  if (csr.commonName !== undefined) {
    const cn = csr.commonName.toLowerCase();
    if (!requested.has(`dns:${cn}`) && !requested.has(`ip:${cn}`)) requested.add(`dns:${cn}`);
  }
  const ordered = new Set(identifiers.map(identifierKey));
  const extra = [...requested].filter((n) => !ordered.has(n));
  const missing = [...ordered].filter((n) => !requested.has(n));
  if (extra.length || missing.length) {
    const parts = [extra.length ? `names not in the order: ${extra.join(', ')}` : '', missing.length ? `order identifiers missing from the CSR: ${missing.join(', ')}` : ''];
    throw new AcmeError('badCSR', `CSR names must equal the order's identifiers; ${parts.filter(Boolean).join('; ')}`);
  }
}

/** One canonical DER SubjectPublicKeyInfo for a key, whichever encoder produced the input. */
const canonicalSpki = (spki: Buffer): Buffer => createPublicKey({ key: spki, format: 'der', type: 'spki' }).export({ type: 'spki', format: 'der' });

/** Whether two DER SubjectPublicKeyInfos hold the same key; the same bytes need no decoding. */
const sameSpki = (a: Buffer, b: Buffer): boolean => a.equals(b) || canonicalSpki(a).equals(canonicalSpki(b));

/**
 * A device order (draft-ietf-acme-device-attest §3–§5): the CSR key must be the attested key,
 * and a PermanentIdentifier/HardwareModuleName SAN in the CSR must name exactly the order's
 * identifier (or be absent: the draft's privacy-preserving mode forbids it). Other names a device
 * asks for (Apple's payload SubjectAltName, other Subject attributes) are not issued: the
 * certificate names only what the attestation proved, so they are ignored rather than refused;
 * a CN, though, must be the identifier. Returns the order's attestations, as checked.
 */
async function checkDeviceCsr(ctx: RaContext, csr: ParsedCsr, order: Order): Promise<Awaited<ReturnType<typeof evidenceForOrder>>> {
  const evidence = await evidenceForOrder(ctx.db, order.id);
  if (evidence.length !== order.identifiers.length) throw new AcmeError('orderNotReady', 'the order has no recorded attestation for every identifier');
  for (const e of evidence) {
    if (!e.attestedSpki) continue; // an unattested device accepted by policy: no key to bind
    if (!sameSpki(csr.spki, e.attestedSpki)) {
      throw new AcmeError('badCSR', `the CSR public key (SHA-256 ${keySha256(canonicalSpki(csr.spki))}) is not the attested key (SHA-256 ${e.attestedKeySha256}) of ${e.identifier.value}: the CSR must be signed by the key the device attested`);
    }
  }
  // step-ca's rule, and what Fleet's and NanoMDM's payloads produce (Subject CN = the serial =
  // ClientIdentifier): a CN must be the identifier, so a CSR cannot ask to be named otherwise.
  const id = order.identifiers[0]!;
  if (!ctx.config.deviceAttest.privacyPreserving && csr.commonName !== undefined && csr.commonName !== id.value && csr.commonName !== id.value.split('/')[0]) {
    throw new AcmeError('badCSR', `CSR subject CN "${csr.commonName.slice(0, 80)}" is not the identifier ${id.value}; set the payload's Subject CN to the ClientIdentifier, or leave it out`);
  }
  if (csr.deviceIdentifiers.length && ctx.config.deviceAttest.privacyPreserving) {
    throw new AcmeError('badCSR', 'this CA issues privacy-preserving device certificates: leave the PermanentIdentifier / HardwareModuleName SAN out of the CSR (draft-ietf-acme-device-attest §3)');
  }
  if (csr.deviceIdentifiers.length) {
    const asked = new Set(csr.deviceIdentifiers.map(identifierKey));
    const ordered = new Set(order.identifiers.map(identifierKey));
    if (asked.size !== ordered.size || [...asked].some((a) => !ordered.has(a))) {
      throw new AcmeError('badCSR', `CSR device names ${[...asked].join(', ')} are not the order's ${[...ordered].join(', ')} (compared octet for octet, draft-ietf-acme-device-attest §3)`);
    }
  }
  return evidence;
}

/**
 * Signs and stores the certificate of a processing order. Called by finalize, which passes what
 * it just claimed (the serial recorded with the claim), and after a crash by recovery, which
 * reads it back from the order. The serial is recorded before signing; certificate and order
 * state change together. Returns the serial when this call stored the certificate (the order is
 * then valid), else undefined.
 */
export async function issue(ctx: RaContext, orderId: string, claimed?: { request: IssuanceRequest; csr: ParsedCsr; serial: string; attestationId: string | null }): Promise<string | undefined> {
  const req = claimed?.request ?? (await issuanceRequest(ctx.db, orderId));
  if (!req) return;
  let csr: ParsedCsr;
  try {
    csr = claimed?.csr ?? parseCsr(req.csr);
  } catch (err) {
    await failIssuance(ctx.db, orderId, new AcmeError('badCSR', (err as Error).message).toProblem());
    return;
  }
  let profile: ReturnType<typeof profileConfig>;
  try {
    profile = profileConfig(ctx.config, req.profile);
  } catch (err) {
    if (!(err instanceof AcmeError)) throw err;
    await failIssuance(ctx.db, orderId, err.toProblem());
    return;
  }
  const now = ctx.clock.now();
  const device = req.identifiers.some(isDeviceIdentifier);
  // The order's notBefore/notAfter when it asked for them (RFC 8555 §7.4), else the configured validity.
  const window = certificateWindow(ctx.config, req, device, now, ctx.ca.issuerNotAfter);
  if (!window) {
    const why = req.notAfter ? "the order's notAfter passed before the certificate could be signed" : 'the issuing CA has expired';
    await failIssuance(ctx.db, orderId, new AcmeError(req.notAfter ? 'malformed' : 'serverInternal', why).toProblem());
    return;
  }
  const { notBefore, notAfter } = window;
  // Attestations are written once, when their authorization is validated: what finalize read
  // before the claim is still what is stored.
  const attestationId = claimed ? claimed.attestationId : device ? ((await evidenceForOrder(ctx.db, orderId))[0]?.id ?? null) : null;
  let serial = claimed?.serial;
  if (!serial) {
    serial = newSerial();
    await reserveSerial(ctx.db, serial, orderId, 'acme', now);
  }
  const der = await ctx.ca.issue({
    serial,
    spki: csr.spki,
    identifiers: req.identifiers,
    notBefore,
    notAfter,
    profile: device ? 'device' : 'server',
    privacy: device && ctx.config.deviceAttest.privacyPreserving,
    usage: profile,
  });
  const stored = await storeCertificate(ctx.db, {
    serial,
    orderId,
    accountId: req.accountId,
    der,
    chainPem: toPem(der) + ctx.ca.intermediatesPem,
    identifiers: req.identifiers,
    notBefore,
    notAfter,
    createdAt: now,
    attestationId,
  });
  ctx.log.info(
    { audit: 'issuance', account: req.accountId, order: orderId, serial, identifiers: req.identifiers, profile: req.profile ?? undefined, notBefore, notAfter, attestation: attestationId ?? undefined, stored },
    stored ? 'certificate issued' : 'certificate signed but the order was finished elsewhere; serial left unused',
  );
  return stored ? serial : undefined;
}
