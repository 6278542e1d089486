// acme/thumbprint.ts against jose's RFC 7638 implementation, and the RFC's own example.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, test } from 'node:test';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { jwkThumbprint } from '../src/acme/thumbprint.js';

describe('jwkThumbprint (RFC 7638)', () => {
  test('the example of RFC 7638 §3.1', () => {
    const jwk = {
      kty: 'RSA',
      n: '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
      e: 'AQAB',
      alg: 'RS256',
      kid: '2011-04-29',
    };
    assert.equal(jwkThumbprint(jwk), 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
  });

  for (const [name, key] of [
    ['EC P-256', generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey],
    ['EC P-384', generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey],
    ['RSA', generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey],
    ['Ed25519', generateKeyPairSync('ed25519').publicKey],
  ] as const) {
    test(`${name}: the same as jose's`, async () => {
      const jwk = key.export({ format: 'jwk' }) as JWK;
      assert.equal(jwkThumbprint(jwk), await calculateJwkThumbprint(jwk, 'sha256'));
    });
  }

  test('a key type without a defined thumbprint, or a missing member, is refused', () => {
    assert.throws(() => jwkThumbprint({ kty: 'oct', k: 'AAAA' }), /key type oct/);
    assert.throws(() => jwkThumbprint({ kty: 'EC', crv: 'P-256', x: 'AAAA' }), /"y" is missing/);
  });
});
