// RFC 7638 JWK thumbprints (account keys, EAB bindings, CSR keys), computed synchronously with
// node:crypto: the required members of the key type in lexicographic order, as JSON without
// whitespace, hashed with SHA-256 (§3.2, §3.3).
import { createHash } from 'node:crypto';
import type { JWK } from 'jose';

const REQUIRED_MEMBERS: Record<string, readonly string[]> = {
  EC: ['crv', 'kty', 'x', 'y'], // RFC 7638 §3.2
  RSA: ['e', 'kty', 'n'], // RFC 7638 §3.2
  OKP: ['crv', 'kty', 'x'], // RFC 8037 §2
};

/** The base64url SHA-256 thumbprint of a public JWK of type EC, RSA or OKP. */
export function jwkThumbprint(jwk: JWK): string {
  const members = jwk.kty ? REQUIRED_MEMBERS[jwk.kty] : undefined;
  if (!members) throw new TypeError(`no thumbprint for JWK key type ${String(jwk.kty)}`);
  const parts = members.map((name) => {
    const value = (jwk as Record<string, unknown>)[name];
    if (typeof value !== 'string' || value === '') throw new TypeError(`JWK member "${name}" is missing`);
    return `${JSON.stringify(name)}:${JSON.stringify(value)}`;
  });
  return createHash('sha256').update(`{${parts.join(',')}}`).digest('base64url');
}
