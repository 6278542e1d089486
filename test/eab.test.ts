// External account binding (RFC 8555 §7.3.4) over HTTPS: the policy (required / off) and the
// directory's meta.externalAccountRequired, HS256/HS384/HS512 bindings, single-use and reusable
// keys, revocation, every malformed binding and every refused one with its exact problem type,
// single use under a race on Postgres, and acme-client with EAB on both backends.
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import acme from 'acme-client';
import { createEabKey, type CreatedEabKey } from '../src/ra/eab.js';
import { eabKeyById, listEabKeys, revokeEabKey } from '../src/sa/eab.js';
import { generateAccountKey, TestAcmeClient, type HttpResult } from './helpers/acme.js';
import { backends } from './helpers/db.js';
import { b64u, buildJws, eabJws, es256, mac } from './helpers/jws.js';
import { assertProblem } from './helpers/problem.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const REQUIRED = 'acme:\n  externalAccountBinding: required\n';

/** A newAccount request from a fresh key whose binding is `eab(client)` (undefined: none). */
async function newAccountWith(server: TestServer, eab: ((c: TestAcmeClient) => unknown) | undefined, extra: Record<string, unknown> = {}): Promise<{ r: HttpResult; c: TestAcmeClient }> {
  const c = await TestAcmeClient.connect(server.directory, server.agent);
  const payload = { termsOfServiceAgreed: true, ...extra, ...(eab ? { externalAccountBinding: eab(c) } : {}) };
  const r = await c.newAccount(payload);
  return { r, c };
}

const binding = (key: CreatedEabKey, o: Partial<Parameters<typeof eabJws>[0]> = {}) => (c: TestAcmeClient) =>
  eabJws({ kid: key.keyId, hmacKey: key.hmacKey, url: c.dir.newAccount, jwk: c.jwk, ...o });

for (const backend of backends) {
  describe(`external account binding required, on ${backend}`, () => {
    let server: TestServer;
    const newKey = (reusable: boolean) => createEabKey(server.ctx.db, { reusable, note: 'test', now: new Date() });
    before(async () => {
      server = await startTestServer({ backend, configYaml: REQUIRED });
    });
    after(() => server?.stop());

    test('the directory says externalAccountRequired, and newAccount without a binding is externalAccountRequired', async () => {
      const { r, c } = await newAccountWith(server, undefined);
      assert.equal(c.dir.meta && (c.dir.meta as { externalAccountRequired?: boolean }).externalAccountRequired, true);
      assertProblem(r, 'externalAccountRequired', 400);
    });

    for (const alg of ['HS256', 'HS384', 'HS512']) {
      test(`a binding MACed with ${alg} creates the account, which repeats the binding`, async () => {
        const key = await newKey(false);
        const { r, c } = await newAccountWith(server, binding(key, { alg }));
        assert.equal(r.status, 201, r.text);
        assert.deepEqual(Object.keys(r.json.externalAccountBinding).sort(), ['payload', 'protected', 'signature']);
        assert.deepEqual(JSON.parse(Buffer.from(r.json.externalAccountBinding.protected, 'base64url').toString()), { alg, kid: key.keyId, url: c.dir.newAccount });
        assert.deepEqual((await c.post(c.kid!, '')).json.externalAccountBinding, r.json.externalAccountBinding, 'the account object keeps it');
        const stored = await listEabKeys(server.ctx.db);
        assert.deepEqual(stored.find((k) => k.keyId === key.keyId)?.accounts.map((a) => a.accountId), [c.kid!.split('/').at(-1)]);
      });
    }

    test('a single-use key binds one account; the same account asking again gets 200 without using it again', async () => {
      const key = await newKey(false);
      const first = await newAccountWith(server, binding(key));
      assert.equal(first.r.status, 201, first.r.text);
      const again = await first.c.newAccount({ termsOfServiceAgreed: true, externalAccountBinding: binding(key)(first.c) });
      assert.equal(again.status, 200, again.text);
      assert.equal(again.headers.location, first.c.kid);
      const second = await newAccountWith(server, binding(key));
      const p = assertProblem(second.r, 'unauthorized', 403);
      assert.match(p.detail, /already used/);
      assert.equal((await eabKeyById(server.ctx.db, key.keyId))?.uses, 1);
    });

    test('a reusable key binds several accounts until it is revoked', async () => {
      const key = await newKey(true);
      for (let i = 0; i < 3; i++) assert.equal((await newAccountWith(server, binding(key))).r.status, 201);
      assert.equal(await revokeEabKey(server.ctx.db, key.keyId, new Date()), true);
      const p = assertProblem((await newAccountWith(server, binding(key))).r, 'unauthorized', 403);
      assert.match(p.detail, /revoked/);
      assert.equal((await listEabKeys(server.ctx.db)).find((k) => k.keyId === key.keyId)?.accounts.length, 3);
    });

    test('onlyReturnExisting needs no binding and ignores one', async () => {
      const { r } = await newAccountWith(server, (c) => eabJws({ kid: 'unknown', hmacKey: b64u('x'.repeat(32)), url: c.dir.newAccount, jwk: c.jwk }), { onlyReturnExisting: true });
      assertProblem(r, 'accountDoesNotExist', 400);
    });

    test('acme-client with externalAccountBinding {kid, hmacKey} creates its account', async () => {
      const key = await newKey(false);
      acme.axios.defaults.httpsAgent = server.agent;
      const client = new acme.Client({ directoryUrl: server.directory, accountKey: await acme.crypto.createPrivateEcdsaKey(), externalAccountBinding: { kid: key.keyId, hmacKey: key.hmacKey } });
      const account = await client.createAccount({ termsOfServiceAgreed: true, contact: ['mailto:ops@attestca.test'] });
      assert.equal(account.status, 'valid');
      assert.equal((await eabKeyById(server.ctx.db, key.keyId))?.uses, 1);
      const without = new acme.Client({ directoryUrl: server.directory, accountKey: await acme.crypto.createPrivateEcdsaKey() });
      await assert.rejects(without.createAccount({ termsOfServiceAgreed: true }), /external account binding/i);
    });

    // The wire-format refusals, once (PGlite).
    if (backend === 'pglite') {
      describe('refusals', () => {
        let key: CreatedEabKey;
        let used: CreatedEabKey;
        let revoked: CreatedEabKey;
        before(async () => {
          const now = new Date();
          [key, used, revoked] = [await createEabKey(server.ctx.db, { reusable: true, note: undefined, now }), await createEabKey(server.ctx.db, { reusable: false, note: undefined, now }), await createEabKey(server.ctx.db, { reusable: true, note: undefined, now })];
          assert.equal((await newAccountWith(server, binding(used))).r.status, 201);
          await revokeEabKey(server.ctx.db, revoked.keyId, now);
        });

        const ok = (c: TestAcmeClient) => binding(key)(c);
        const otherJwk = createPublicKey(generateAccountKey('ES256')).export({ format: 'jwk' });
        // Bindings are built when a test runs: the keys exist only once before() has run.
        const later = (k: () => CreatedEabKey, o: Partial<Parameters<typeof eabJws>[0]> = {}) => (c: TestAcmeClient) => binding(k(), o)(c);
        const header = (h: Record<string, unknown>) => later(() => key, { header: h });
        // Structure (RFC 8555 §7.3.4 steps 1–2): malformed.
        const malformed: [string, (c: TestAcmeClient) => unknown][] = [
          ['binding is a string', () => 'eyJhbGciOiJIUzI1NiJ9'],
          ['binding is an array', () => []],
          ['binding in general serialization', (c) => { const j = ok(c); return { payload: j.payload, signatures: [{ protected: j.protected, signature: j.signature }] }; }],
          ['binding with an unprotected header', (c) => ({ ...ok(c), header: { kid: key.keyId } })],
          ['binding without a signature', (c) => { const { signature: _s, ...j } = ok(c); return j; }],
          ['protected header is not base64url JSON', (c) => ({ ...ok(c), protected: 'not+base64/' })],
          ['alg missing', header({ alg: undefined })],
          ['alg ES256 (not a MAC)', (c) => buildJws({ alg: 'ES256', kid: key.keyId, url: c.dir.newAccount }, c.jwk, es256(c.key))],
          ['alg "none"', (c) => buildJws({ alg: 'none', kid: key.keyId, url: c.dir.newAccount }, c.jwk, () => Buffer.alloc(0))],
          ['kid missing', header({ kid: undefined })],
          ['kid is a number', header({ kid: 42 })],
          ['nonce present', header({ nonce: 'abcdefghijklmnop' })],
          ['jwk in the header', (c) => binding(key, { header: { jwk: c.jwk } })(c)],
          ['url missing', header({ url: undefined })],
          ['url is newOrder, not newAccount', (c) => binding(key, { header: { url: c.dir.newOrder } })(c)],
          ['payload is not JSON', later(() => key, { payload: 'not json' })],
          ['payload is an array', later(() => key, { payload: [1, 2] })],
          ['payload is not a JWK', later(() => key, { payload: { account: 'me' } })],
          ['signature is not base64url', (c) => ({ ...ok(c), signature: 'a+b/c==' })],
        ];
        // The key and the MAC (steps 3–5): unauthorized.
        const unauthorized: [string, (c: TestAcmeClient) => unknown, RegExp][] = [
          ['unknown key id', (c) => eabJws({ kid: 'NoSuchKeyId0000000000', hmacKey: key.hmacKey, url: c.dir.newAccount, jwk: c.jwk }), /unknown/],
          ['key id that cannot be one of ours', (c) => eabJws({ kid: 'no such key/\u0000', hmacKey: key.hmacKey, url: c.dir.newAccount, jwk: c.jwk }), /unknown/],
          ['MAC made with another HMAC key', (c) => eabJws({ kid: key.keyId, hmacKey: used.hmacKey, url: c.dir.newAccount, jwk: c.jwk }), /does not verify/],
          ['MAC truncated', (c) => { const j = ok(c); return { ...j, signature: j.signature.slice(0, 20) }; }, /does not verify/],
          ['MAC over a tampered payload', (c) => { const j = ok(c); return { ...j, payload: b64u(JSON.stringify({ ...c.jwk, x: c.jwk.y })) }; }, /does not verify/],
          ['MAC with HS512 over a header saying HS256', (c) => buildJws({ alg: 'HS256', kid: key.keyId, url: c.dir.newAccount }, c.jwk, mac('HS512', key.hmacKey)), /does not verify/],
          ['binding of another account key', later(() => key, { jwk: otherJwk }), /another key/],
          ['single-use key already used', later(() => used), /already used/],
          ['revoked key', later(() => revoked), /revoked/],
        ];
        for (const [name, eab] of malformed) {
          test(`${name} → malformed 400`, async () => {
            assertProblem((await newAccountWith(server, eab)).r, 'malformed', 400);
          });
        }
        for (const [name, eab, detail] of unauthorized) {
          test(`${name} → unauthorized 403`, async () => {
            const p = assertProblem((await newAccountWith(server, eab)).r, 'unauthorized', 403);
            assert.match(p.detail, detail);
          });
        }
      });
    }

    if (backend === 'postgres') {
      test('eight accounts racing for one single-use key: exactly one gets it', async () => {
        for (let round = 0; round < 3; round++) {
          const key = await newKey(false);
          const results = await Promise.all(Array.from({ length: 8 }, () => newAccountWith(server, binding(key))));
          const statuses = results.map((x) => x.r.status).sort();
          assert.deepEqual(statuses, [201, 403, 403, 403, 403, 403, 403, 403], results.map((x) => x.r.text).join(' | '));
          assert.equal((await eabKeyById(server.ctx.db, key.keyId))?.uses, 1);
          assert.equal((await listEabKeys(server.ctx.db)).find((k) => k.keyId === key.keyId)?.accounts.length, 1);
        }
      });
    }
  });
}

describe('external account binding off (Postgres)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ backend: 'postgres' });
  });
  after(() => server?.stop());

  test('no binding is needed, one sent is still checked and recorded, and a bad one is refused', async () => {
    const plain = await newAccountWith(server, undefined);
    assert.equal(plain.r.status, 201, plain.r.text);
    assert.equal((plain.c.dir.meta as { externalAccountRequired?: boolean }).externalAccountRequired, false);
    assert.equal(plain.r.json.externalAccountBinding, undefined);
    const key = await createEabKey(server.ctx.db, { reusable: false, note: undefined, now: new Date() });
    const bound = await newAccountWith(server, binding(key));
    assert.equal(bound.r.status, 201, bound.r.text);
    assert.ok(bound.r.json.externalAccountBinding);
    assertProblem((await newAccountWith(server, binding(key))).r, 'unauthorized', 403);
  });
});
