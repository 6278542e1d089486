// Nested JWSs built byte by byte, for what a well-behaved client would never send: the
// externalAccountBinding MAC JWS of RFC 8555 §7.3.4 and keyChange's inner JWS of §7.3.5, each
// with exactly the defect a test wants.
import { createHmac, sign, type KeyObject } from 'node:crypto';

export const b64u = (data: string | Buffer): string => Buffer.from(data).toString('base64url');

export interface FlattenedJws {
  protected: string;
  payload: string;
  signature: string;
}

/** A flattened JWS (RFC 7515 §7.2.2) over `header` and `payload` (a string, or JSON of an object). */
export function buildJws(header: Record<string, unknown>, payload: unknown, signer: (input: Buffer) => Buffer): FlattenedJws {
  const protectedB64 = b64u(JSON.stringify(header));
  const payloadB64 = b64u(typeof payload === 'string' ? payload : JSON.stringify(payload));
  return { protected: protectedB64, payload: payloadB64, signature: b64u(signer(Buffer.from(`${protectedB64}.${payloadB64}`, 'ascii'))) };
}

const HASH: Record<string, string> = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' };

/** HMAC signer for HS256/HS384/HS512 with a base64url key, as EAB clients sign. */
export const mac = (alg: string, hmacKeyB64u: string) => (input: Buffer) => createHmac(HASH[alg] ?? 'sha256', Buffer.from(hmacKeyB64u, 'base64url')).update(input).digest();

/** ES256 signer with the JWS (IEEE P1363) signature encoding. */
export const es256 = (key: KeyObject) => (input: Buffer) => sign('sha256', input, { key, dsaEncoding: 'ieee-p1363' });

/** An EAB JWS (RFC 8555 §7.3.4) binding `jwk`; `header` overrides or removes (undefined) members. */
export function eabJws(o: { kid: string; hmacKey: string; url: string; jwk: unknown; alg?: string; header?: Record<string, unknown>; payload?: unknown }): FlattenedJws {
  const alg = o.alg ?? 'HS256';
  const header: Record<string, unknown> = { alg, kid: o.kid, url: o.url, ...o.header };
  for (const [k, v] of Object.entries(header)) if (v === undefined) delete header[k];
  return buildJws(header, o.payload === undefined ? o.jwk : o.payload, mac(alg, o.hmacKey));
}
