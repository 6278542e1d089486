// The externalAccountBinding of a newAccount request (RFC 8555 §7.3.4): a JWS whose protected
// header is {alg: a MAC algorithm, kid: the EAB key id, url: the newAccount URL} with no nonce,
// whose payload is the account's JWK, MACed with the EAB key the CA handed out. Checked in the
// RFC's order: well-formed JWS, header as required, the key, the MAC, the payload's key.
// Whether the key may still bind an account (revoked, used up) is ra/eab.ts's rule.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { JWK } from 'jose';
import { jwkThumbprint } from '../acme/thumbprint.js';
import { AcmeError } from '../errors.js';
import { eabKeyById } from '../sa/eab.js';
import type { RaContext } from '../ra/context.js';
import { b64urlJson, parseJwsObject } from './jws.js';

/** RFC 8555 §7.3.4 "alg" MUST be a MAC-based algorithm; RFC 7518 §3.2 names these. */
const MAC_ALGORITHMS: Record<string, string> = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' };

export interface VerifiedBinding {
  keyId: string;
  /** The binding as the client sent it, for the account object. */
  jws: { protected: string; payload: string; signature: string };
}

const WHAT = 'externalAccountBinding';

/** Key ids are ours (sa/ids.ts): anything else names no key and is not sent to the database. */
const KEY_ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Verifies the binding of a newAccount request signed with `outer.jwk` and sent to `outer.url`.
 * Structure errors are malformed; an unknown key, a MAC that does not verify or a payload naming
 * another key are unauthorized.
 */
export async function verifyExternalAccountBinding(ctx: RaContext, value: unknown, outer: { jwk: JWK; url: string }): Promise<VerifiedBinding> {
  const { jws, header } = parseJwsObject(value, WHAT);
  const alg = header.alg;
  const hash = typeof alg === 'string' ? MAC_ALGORITHMS[alg] : undefined;
  if (!hash) throw new AcmeError('malformed', `${WHAT} "alg" must be a MAC algorithm (${Object.keys(MAC_ALGORITHMS).join(', ')}), not ${JSON.stringify(alg)} (RFC 8555 §7.3.4)`);
  if (typeof header.kid !== 'string' || header.kid.length === 0) throw new AcmeError('malformed', `${WHAT} has no "kid": give the key id the CA issued with the MAC key (RFC 8555 §7.3.4)`);
  if ('nonce' in header) throw new AcmeError('malformed', `${WHAT} must not have a "nonce" (RFC 8555 §7.3.4)`);
  if ('jwk' in header) throw new AcmeError('malformed', `${WHAT} must not have a "jwk" header: the account key goes in its payload (RFC 8555 §7.3.4)`);
  if (header.url !== outer.url) throw new AcmeError('malformed', `${WHAT} "url" must be the newAccount URL of the outer JWS, ${outer.url} (RFC 8555 §7.3.4)`);
  if (!/^[A-Za-z0-9_-]+$/.test(jws.signature)) throw new AcmeError('malformed', `${WHAT} signature is not base64url`);
  const payload = b64urlJson(jws.payload, `${WHAT} payload`);
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) throw new AcmeError('malformed', `${WHAT} payload must be the account's JWK, a JSON object`);

  const keyId = header.kid;
  const key = KEY_ID.test(keyId) ? await eabKeyById(ctx.db, keyId) : undefined;
  if (!key) throw new AcmeError('unauthorized', `external account key id "${keyId.slice(0, 100)}" is unknown to this CA; ask the CA operator for a key (attestca eab create)`);

  // Constant-time comparison: a MAC compared byte by byte with an early exit leaks how much of a
  // guess is right. The lengths are public (fixed by the algorithm).
  const expected = createHmac(hash, key.hmacKey).update(`${jws.protected}.${jws.payload}`, 'ascii').digest();
  const given = Buffer.from(jws.signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new AcmeError('unauthorized', `${WHAT} MAC does not verify with external account key ${keyId}: check the HMAC key (base64url, as printed by attestca eab create)`);
  }

  let boundThumbprint: string;
  try {
    boundThumbprint = jwkThumbprint(payload as JWK);
  } catch (err) {
    throw new AcmeError('malformed', `${WHAT} payload is not a JWK: ${(err as Error).message}`);
  }
  if (boundThumbprint !== jwkThumbprint(outer.jwk)) {
    throw new AcmeError('unauthorized', `${WHAT} binds another key than the one this newAccount request is signed with (RFC 8555 §7.3.4)`);
  }
  return { keyId, jws };
}
