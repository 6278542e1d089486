// Authenticating an ACME POST (RFC 8555 §6.2–§6.5): flattened JWS JSON only, an allowed
// asymmetric algorithm, exactly one of jwk / kid, a nonce redeemed once, and a url equal to the
// URL the request was sent to. Every failure is the AcmeError the RFC names. Signatures are
// checked with node:crypto directly, and an account's key is imported once per instance
// (acme/account-keys.ts): on the hot path a request costs one verification and one statement.
import { constants, createPublicKey, verify as cryptoVerify, type JsonWebKeyInput, type KeyObject } from 'node:crypto';
import type { FlattenedJWSInput, JWK, JWSHeaderParameters } from 'jose';
import type { Account } from '../core.js';
import { AcmeError } from '../errors.js';
import { accountById } from '../sa/accounts.js';
import type { RaContext } from '../ra/context.js';

/** RFC 8555 §6.2: asymmetric algorithms only; "none" and MACs are refused for requests. */
export const ALLOWED_ALGORITHMS = ['ES256', 'ES384', 'ES512', 'RS256', 'PS256', 'EdDSA'] as const;

export interface VerifiedRequest {
  protected: JWSHeaderParameters & { nonce?: string; url?: string };
  jwk: JWK;
  /** The account for kid-signed requests. */
  account: Account | undefined;
  /** The payload, a JSON object, or null for POST-as-GET (empty payload, RFC 8555 §6.3). */
  payload: unknown;
  /** The raw flattened JWS, for nested verification (keyChange). */
  jws: FlattenedJWSInput;
}

export type KeyMode = 'jwk' | 'kid';

/** A flattened JWS as sent: every member a base64url string (RFC 7515 §7.2.2). */
export type FlattenedJws = { protected: string; payload: string; signature: string } & FlattenedJWSInput;

export const b64urlJson = (text: string, what: string): unknown => {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new AcmeError('malformed', `${what} is not base64url`);
  try {
    return JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw new AcmeError('malformed', `${what} is not base64url-encoded JSON`);
  }
};

/** Parses a request body into a flattened JWS (RFC 7515 §7.2.2) and its protected header. */
export function parseJws(body: Buffer): { jws: FlattenedJWSInput; header: Record<string, unknown> } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new AcmeError('malformed', 'request body is not JSON');
  }
  return parseJwsObject(parsed, 'JWS');
}

/**
 * A flattened JWS JSON object (RFC 7515 §7.2.2) and its protected header: the request body, or
 * a JWS nested in a payload (keyChange's inner JWS, externalAccountBinding), named `what`.
 */
export function parseJwsObject(parsed: unknown, what: string): { jws: FlattenedJws; header: Record<string, unknown> } {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new AcmeError('malformed', `${what} is not a JWS object`);
  const o = parsed as Record<string, unknown>;
  if ('signatures' in o) throw new AcmeError('malformed', `${what}: JWS general serialization is not allowed; use flattened JSON (RFC 8555 §6.2)`);
  if ('header' in o) throw new AcmeError('malformed', `${what}: JWS unprotected header is not allowed (RFC 8555 §6.2)`);
  for (const k of ['protected', 'payload', 'signature'] as const) {
    if (typeof o[k] !== 'string') throw new AcmeError('malformed', `${what} has no "${k}" string`);
  }
  const header = b64urlJson(o.protected as string, `${what} protected header`);
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new AcmeError('malformed', `${what} protected header is not a JSON object`);
  return { jws: { protected: o.protected as string, payload: o.payload as string, signature: o.signature as string }, header: header as Record<string, unknown> };
}

/** Checks that a JWK is an acceptable public key for the algorithm (RFC 8555 §6.2, §7.3). */
export function importAccountKey(jwk: unknown, alg: string): KeyObject {
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) throw new AcmeError('malformed', 'jwk is not a JSON object');
  const k = jwk as JWK;
  if ('d' in k || 'p' in k || 'k' in k) throw new AcmeError('badPublicKey', 'jwk holds private or symmetric key material; send only the public key');
  if (k.kty === 'RSA') {
    const bits = typeof k.n === 'string' ? Buffer.from(k.n, 'base64url').length * 8 : 0;
    if (bits < 2048 || bits > 8192) throw new AcmeError('badPublicKey', `RSA account keys must be 2048 to 8192 bits, this one is ${bits}`);
  } else if (k.kty === 'EC') {
    if (!['P-256', 'P-384', 'P-521'].includes(k.crv ?? '')) throw new AcmeError('badPublicKey', `EC curve ${k.crv} is not accepted; use P-256, P-384 or P-521`);
  } else if (k.kty === 'OKP') {
    if (k.crv !== 'Ed25519') throw new AcmeError('badPublicKey', `OKP curve ${k.crv} is not accepted; use Ed25519`);
  } else {
    throw new AcmeError('badPublicKey', `key type ${String(k.kty)} is not accepted`);
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: k as JsonWebKeyInput['key'], format: 'jwk' });
  } catch (err) {
    throw new AcmeError('badPublicKey', `jwk is not a valid public key: ${(err as Error).message}`);
  }
  if (!suits(key, alg)) throw new AcmeError('badPublicKey', `a ${k.kty} ${k.crv ?? ''} key cannot sign with ${alg}`.replace('  ', ' '));
  return key;
}

/** RFC 7518 §3.1: each JWS algorithm, the key it needs and how node:crypto checks it. */
const VERIFIERS: Record<Algorithm, { hash: string | null; key: (k: KeyObject) => boolean; options?: object }> = {
  ES256: { hash: 'sha256', key: (k) => ecCurve(k) === 'prime256v1', options: { dsaEncoding: 'ieee-p1363' } },
  ES384: { hash: 'sha384', key: (k) => ecCurve(k) === 'secp384r1', options: { dsaEncoding: 'ieee-p1363' } },
  ES512: { hash: 'sha512', key: (k) => ecCurve(k) === 'secp521r1', options: { dsaEncoding: 'ieee-p1363' } },
  RS256: { hash: 'sha256', key: (k) => k.asymmetricKeyType === 'rsa', options: { padding: constants.RSA_PKCS1_PADDING } },
  // RFC 7518 §3.5: the PSS salt is as long as the hash.
  PS256: { hash: 'sha256', key: (k) => k.asymmetricKeyType === 'rsa', options: { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } },
  // RFC 8037 §3.1: EdDSA signs the input itself, no separate hash.
  EdDSA: { hash: null, key: (k) => k.asymmetricKeyType === 'ed25519' },
};

type Algorithm = (typeof ALLOWED_ALGORITHMS)[number];
const ecCurve = (k: KeyObject) => (k.asymmetricKeyType === 'ec' ? k.asymmetricKeyDetails?.namedCurve : undefined);
const suits = (key: KeyObject, alg: string) => VERIFIERS[alg as Algorithm]?.key(key) === true;

/** True when the flattened JWS's signature holds under the key (RFC 7515 §5.2). */
function signatureHolds(jws: FlattenedJWSInput, key: KeyObject, alg: string): boolean {
  const v = VERIFIERS[alg as Algorithm];
  if (!v || !v.key(key) || !/^[A-Za-z0-9_-]*$/.test(jws.signature)) return false;
  const input = Buffer.from(`${jws.protected}.${jws.payload as string}`, 'ascii');
  try {
    return cryptoVerify(v.hash, input, { key, ...v.options } as Parameters<typeof cryptoVerify>[2], Buffer.from(jws.signature, 'base64url'));
  } catch {
    // A signature of the wrong length for the curve, for one.
    return false;
  }
}

/**
 * The payload of a flattened JWS whose signature holds, or the AcmeError to answer with. `what`
 * names the JWS in errors (the request, or the keyChange inner JWS).
 */
export function verifiedPayload(jws: FlattenedJWSInput, header: Record<string, unknown>, key: KeyObject, alg: string, what: string): Buffer {
  const payload = jwsPayload(jws, header, what);
  if (!signatureHolds(jws, key, alg)) throw signatureFails(what);
  return payload;
}

/** The payload bytes, once the JWS uses no extension that would change what was signed. */
function jwsPayload(jws: FlattenedJWSInput, header: Record<string, unknown>, what: string): Buffer {
  // RFC 7515 §4.1.11: extensions listed in "crit" must be understood; ACME defines none, and
  // "b64": false (RFC 7797) would change what was signed.
  if (header.crit !== undefined || header.b64 !== undefined) throw new AcmeError('malformed', `${what} uses a JWS extension ("crit" or "b64") that ACME does not allow`);
  if (typeof jws.payload !== 'string' || !/^[A-Za-z0-9_-]*$/.test(jws.payload)) throw new AcmeError('malformed', `${what} payload is not base64url`);
  return Buffer.from(jws.payload, 'base64url');
}

const signatureFails = (what: string) => new AcmeError('malformed', `${what} signature does not verify`);

/**
 * Verifies an ACME POST. `requestUrl` is the full URL the client sent the request to; `mode`
 * says whether the resource takes a jwk (newAccount, revokeCert by key) or a kid.
 */
export async function verifyRequest(ctx: RaContext, body: Buffer, requestUrl: string, modes: readonly KeyMode[]): Promise<VerifiedRequest> {
  const { jws, header } = parseJws(body);
  const alg = header.alg;
  if (typeof alg !== 'string' || !(ALLOWED_ALGORITHMS as readonly string[]).includes(alg)) {
    throw new AcmeError('badSignatureAlgorithm', `JWS algorithm ${JSON.stringify(alg)} is not accepted`, { algorithms: [...ALLOWED_ALGORITHMS] });
  }
  const hasJwk = header.jwk !== undefined;
  const hasKid = header.kid !== undefined;
  if (hasJwk === hasKid) throw new AcmeError('malformed', 'JWS protected header must have exactly one of "jwk" and "kid" (RFC 8555 §6.2)');
  if (hasJwk && !modes.includes('jwk')) throw new AcmeError('malformed', 'this resource takes requests signed by an account: use "kid", not "jwk"');
  if (hasKid && !modes.includes('kid')) throw new AcmeError('malformed', 'this resource takes requests signed with "jwk", not "kid"');

  // The nonce is redeemed only once the signature holds, so a forged request cannot burn
  // someone else's nonce. Its MAC and age are checked first: that needs no database.
  const nonceExpiry = () => {
    if (typeof header.nonce !== 'string' || header.nonce.length === 0) throw new AcmeError('badNonce', 'JWS protected header has no nonce');
    const expiresAt = ctx.nonces.expiry(header.nonce, ctx.clock.now());
    if (!expiresAt) throw new AcmeError('badNonce', 'nonce is unknown or expired; retry with the nonce from this response');
    return { nonce: header.nonce, expiresAt };
  };
  const usedNonce = () => new AcmeError('badNonce', 'nonce was already used; retry with the nonce from this response');

  let account: Account | undefined;
  let jwk: JWK;
  let payloadBytes: Buffer;
  if (hasKid) {
    if (typeof header.kid !== 'string') throw new AcmeError('malformed', 'JWS "kid" is not a string');
    const kid = header.kid;
    const id = ctx.urls.accountIdFromKid(kid);
    if (id === undefined) throw new AcmeError('accountDoesNotExist', `no account at ${kid.slice(0, 200)}`);
    // The account's key, imported once per instance; the statement that redeems the nonce also
    // reads the account, and its key thumbprint says whether the cached key is still the one.
    const keyOf = async (fresh: Account | undefined) => {
      const a = fresh ?? (await accountById(ctx.db, id));
      if (!a) throw new AcmeError('accountDoesNotExist', `no account at ${kid.slice(0, 200)}`);
      return ctx.accountKeys.put(id, a.keyThumbprint, importAccountKey(a.jwk, alg));
    };
    payloadBytes = jwsPayload(jws, header, 'JWS');
    let cached = ctx.accountKeys.get(id);
    // A cached key that does not verify may have been rolled over (RFC 8555 §7.3.5): read the
    // account's key again, and that one must verify.
    if (!cached || !signatureHolds(jws, cached.key, alg)) {
      cached = await keyOf(undefined);
      if (!signatureHolds(jws, cached.key, alg)) throw signatureFails('JWS');
    }
    const { nonce, expiresAt } = nonceExpiry();
    const current = await ctx.redeemer.redeem({ nonce, expiresAt, accountId: id });
    if (!current.account) throw new AcmeError('accountDoesNotExist', `no account at ${kid.slice(0, 200)}`);
    if (current.account.keyThumbprint !== cached.thumbprint) {
      // The key changed after it was cached, perhaps on another instance: the request must hold
      // under the account's key as it is now.
      cached = await keyOf(current.account);
      payloadBytes = verifiedPayload(jws, header, cached.key, alg, 'JWS');
    }
    if (!current.fresh) throw usedNonce();
    account = current.account;
    jwk = account.jwk;
  } else {
    jwk = header.jwk as JWK;
    payloadBytes = verifiedPayload(jws, header, importAccountKey(jwk, alg), alg, 'JWS');
    const { nonce, expiresAt } = nonceExpiry();
    if (!(await ctx.redeemer.redeem({ nonce, expiresAt })).fresh) throw usedNonce();
  }

  if (typeof header.url !== 'string') throw new AcmeError('malformed', 'JWS protected header has no url (RFC 8555 §6.4)');
  if (header.url !== requestUrl) throw new AcmeError('unauthorized', `JWS url "${header.url.slice(0, 200)}" is not the URL this request was sent to, ${requestUrl}`);
  // RFC 8555 §7.3.6: a request from a deactivated account MUST get 401 (not the usual 403).
  if (account && account.status !== 'valid') throw new AcmeError('unauthorized', `account is ${account.status}`, { status: 401 });

  // Every ACME request payload is a JSON object (RFC 8555 §7); only the empty string is a
  // POST-as-GET (§6.3), so "null" or "[]" cannot pass for one.
  let payload: unknown = null;
  const payloadText = payloadBytes.toString('utf8');
  if (payloadText !== '') {
    try {
      payload = JSON.parse(payloadText);
    } catch {
      throw new AcmeError('malformed', 'JWS payload is neither empty (POST-as-GET) nor JSON');
    }
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) throw new AcmeError('malformed', 'JWS payload is neither empty (POST-as-GET) nor a JSON object');
  }
  return { protected: header as VerifiedRequest['protected'], jwk, account, payload, jws };
}
