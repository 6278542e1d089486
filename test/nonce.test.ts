// Replay nonces minted without the database (src/acme/nonce.ts): only ours, only while fresh.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { Nonces } from '../src/acme/nonce.js';

const T0 = new Date('2026-11-26T12:00:00Z');
const LIFETIME = 60_000;
const at = (ms: number) => new Date(T0.getTime() + ms);

describe('stateless nonces', () => {
  const key = randomBytes(32);
  const nonces = new Nonces(key, LIFETIME);

  test('a minted nonce is accepted until its lifetime ends, with that expiry', () => {
    const n = nonces.mint(T0);
    assert.match(n, /^[A-Za-z0-9_-]{43}$/);
    assert.deepEqual(nonces.expiry(n, T0), at(LIFETIME));
    assert.deepEqual(nonces.expiry(n, at(LIFETIME - 1)), at(LIFETIME));
    assert.equal(nonces.expiry(n, at(LIFETIME)), undefined, 'expiry is exclusive');
  });

  test('another instance with the same key accepts it; one with another key does not', () => {
    const n = nonces.mint(T0);
    assert.deepEqual(new Nonces(Buffer.from(key), LIFETIME).expiry(n, T0), at(LIFETIME));
    assert.equal(new Nonces(randomBytes(32), LIFETIME).expiry(n, T0), undefined);
  });

  test('two mints differ', () => {
    const seen = new Set(Array.from({ length: 1000 }, () => nonces.mint(T0)));
    assert.equal(seen.size, 1000);
  });

  const minted = nonces.mint(T0);
  const raw = Buffer.from(minted, 'base64url');
  const flip = (i: number) => {
    const b = Buffer.from(raw);
    b[i]! ^= 1;
    return b.toString('base64url');
  };
  const refused: [string, string][] = [
    ['empty', ''],
    ['too short', minted.slice(0, 42)],
    ['too long', minted + 'A'],
    ['not base64url', minted.slice(0, 42) + '+'],
    ['the issue time moved (a forged later time)', flip(5)],
    ['the random part changed', flip(10)],
    ['the MAC changed', flip(31)],
    ['random bytes of the right length', randomBytes(32).toString('base64url')],
  ];
  for (const [name, text] of refused) {
    test(`refused: ${name}`, () => assert.equal(nonces.expiry(text, T0), undefined));
  }

  test('a key shorter than 32 bytes is refused', () => {
    assert.throws(() => new Nonces(randomBytes(16), LIFETIME), /32 bytes/);
  });
});
