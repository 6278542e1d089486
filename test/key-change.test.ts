// Account key rollover (RFC 8555 §7.3.5) over HTTPS: the jose test client for the exact nested
// JWS and each of its defects (every one refused with its problem type, the key unchanged), the
// 409 conflict with the holder's Location, acme-client's updateAccountKey, and on Postgres two
// rollovers racing, through two pools, for one account and for one new key.
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import acme from 'acme-client';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { accountById } from '../src/sa/accounts.js';
import { generateAccountKey, TestAcmeClient, type HttpResult } from './helpers/acme.js';
import { backends } from './helpers/db.js';
import { b64u, buildJws, es256, mac, type FlattenedJws } from './helpers/jws.js';
import { assertProblem } from './helpers/problem.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const publicJwk = (key: KeyObject): JWK => createPublicKey(key).export({ format: 'jwk' }) as JWK;
const idOf = (url: string): string => url.split('/').at(-1)!;

/** The inner JWS of a rollover of `c` to `newKey`; `o` bends one part of it. */
function innerJws(c: TestAcmeClient, newKey: KeyObject, o: { header?: Record<string, unknown>; payload?: unknown; signer?: (i: Buffer) => Buffer } = {}): FlattenedJws {
  const header: Record<string, unknown> = { alg: 'ES256', jwk: publicJwk(newKey), url: c.dir.keyChange, ...o.header };
  for (const [k, v] of Object.entries(header)) if (v === undefined) delete header[k];
  return buildJws(header, o.payload === undefined ? { account: c.kid, oldKey: c.jwk } : o.payload, o.signer ?? es256(newKey));
}

async function rollover(c: TestAcmeClient, newKey: KeyObject): Promise<HttpResult> {
  return c.post(c.dir.keyChange as string, innerJws(c, newKey));
}

/** The same account, now signing with `key`. */
async function as(c: TestAcmeClient, key: KeyObject): Promise<TestAcmeClient> {
  const moved = await TestAcmeClient.connect(c.directoryUrl, c.agent, 'ES256', key);
  moved.kid = c.kid;
  return moved;
}

for (const backend of backends) {
  describe(`keyChange on ${backend}`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer({ backend });
    });
    after(() => server?.stop());

    const account = async () => {
      const c = await TestAcmeClient.connect(server.directory, server.agent);
      assert.equal((await c.newAccount()).status, 201);
      return c;
    };

    test('the directory advertises keyChange', async () => {
      const c = await TestAcmeClient.connect(server.directory, server.agent);
      assert.equal(c.dir.keyChange, `${server.baseUrl}/acme/key-change`);
    });

    test('rolls the account to the new key: the old key is refused, the new one signs for the same account and its orders', async () => {
      const c = await account();
      const order = await c.newOrder([{ type: 'dns', value: 'keychange.attestca.test' }]);
      assert.equal(order.status, 201, order.text);
      const newKey = generateAccountKey('ES256');
      const r = await rollover(c, newKey);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers.location, c.kid);
      assert.deepEqual(r.json.key, publicJwk(newKey));
      assert.equal(r.json.status, 'valid');
      const stored = await accountById(server.ctx.db, idOf(c.kid!));
      assert.equal(stored?.keyThumbprint, await calculateJwkThumbprint(publicJwk(newKey), 'sha256'));

      assertProblem(await c.post(c.kid!, ''), 'malformed', 400); // signed with the old key: no longer the account's
      const moved = await as(c, newKey);
      assert.equal((await moved.post(order.headers.location as string, '')).status, 200);
      const existing = await moved.post(c.dir.newAccount, { onlyReturnExisting: true }, { useJwk: true });
      assert.equal(existing.status, 200, existing.text);
      assert.equal(existing.headers.location, c.kid, 'newAccount with the new key finds the account');
      assertProblem(await c.post(c.dir.newAccount, { onlyReturnExisting: true }, { useJwk: true }), 'accountDoesNotExist', 400);
    });

    test('a new key that already has an account is a 409 conflict with that account in Location, and nothing changes', async () => {
      const a = await account();
      const b = await account();
      const r = await rollover(a, b.key);
      const p = assertProblem(r, 'conflict', 409);
      assert.equal(r.headers.location, b.kid);
      assert.match(p.detail, /already belongs/);
      assert.equal((await a.post(a.kid!, '')).status, 200, 'a still signs with its own key');
      assert.equal((await b.post(b.kid!, '')).status, 200);
    });

    test('acme-client updateAccountKey rolls its account over and keeps working', async () => {
      acme.axios.defaults.httpsAgent = server.agent;
      const oldKey = await acme.crypto.createPrivateEcdsaKey();
      const client = new acme.Client({ directoryUrl: server.directory, accountKey: oldKey });
      await client.createAccount({ termsOfServiceAgreed: true });
      const url = client.getAccountUrl();
      const newKey = await acme.crypto.createPrivateRsaKey(2048);
      const updated = await client.updateAccountKey(newKey);
      assert.equal(updated.status, 'valid');
      assert.equal((updated as { key?: JWK }).key?.kty, 'RSA');
      assert.equal(client.getAccountUrl(), url);
      const order = await client.createOrder({ identifiers: [{ type: 'dns', value: 'acme-client.attestca.test' }] });
      assert.equal(order.status, 'pending');
      const stored = await accountById(server.ctx.db, idOf(url));
      assert.equal(stored?.jwk.kty, 'RSA');
    });

    // The wire-format refusals, once (PGlite).
    if (backend === 'pglite') {
      describe('refusals, each leaving the key unchanged', () => {
        let c: TestAcmeClient;
        let other: TestAcmeClient;
        const newKey = generateAccountKey('ES256');
        before(async () => {
          c = await TestAcmeClient.connect(server.directory, server.agent);
          other = await TestAcmeClient.connect(server.directory, server.agent);
          assert.equal((await c.newAccount()).status, 201);
          assert.equal((await other.newAccount()).status, 201);
        });

        const url = () => c.dir.keyChange as string;
        const send = (inner: unknown) => c.post(url(), inner);
        const signedBy = (key: KeyObject) => es256(key);
        const cases: [string, () => Promise<HttpResult>, string, number][] = [
          ['outer payload empty (POST-as-GET)', () => c.post(url(), ''), 'malformed', 400],
          ['outer payload is not a JWS', () => send({ account: 'x', oldKey: {} }), 'malformed', 400],
          ['outer JWS signed with jwk instead of the account kid', () => c.post(url(), innerJws(c, newKey), { useJwk: true }), 'malformed', 400],
          ['outer url is another resource', () => c.post(url(), innerJws(c, newKey), { url: c.kid! }), 'unauthorized', 403],
          ['inner JWS in general serialization', () => { const j = innerJws(c, newKey); return send({ payload: j.payload, signatures: [{ protected: j.protected, signature: j.signature }] }); }, 'malformed', 400],
          ['inner JWS without a signature', () => { const { signature: _s, ...j } = innerJws(c, newKey); return send(j); }, 'malformed', 400],
          ['inner protected header is not JSON', () => send({ ...innerJws(c, newKey), protected: b64u('{"alg":') }), 'malformed', 400],
          ['inner alg "none"', () => send(innerJws(c, newKey, { header: { alg: 'none' }, signer: () => Buffer.alloc(0) })), 'malformed', 400],
          ['inner alg HS256 (a MAC)', () => send(innerJws(c, newKey, { header: { alg: 'HS256' }, signer: mac('HS256', b64u('k'.repeat(32))) })), 'malformed', 400],
          ['inner without jwk', () => send(innerJws(c, newKey, { header: { jwk: undefined } })), 'malformed', 400],
          ['inner with a kid instead of jwk', () => send(innerJws(c, newKey, { header: { jwk: undefined, kid: c.kid } })), 'malformed', 400],
          ['inner with both jwk and kid', () => send(innerJws(c, newKey, { header: { kid: c.kid } })), 'malformed', 400],
          ['inner with a nonce', async () => send(innerJws(c, newKey, { header: { nonce: await c.nonce() } })), 'malformed', 400],
          ['inner without url', () => send(innerJws(c, newKey, { header: { url: undefined } })), 'malformed', 400],
          ['inner url is newAccount, not keyChange', () => send(innerJws(c, newKey, { header: { url: c.dir.newAccount } })), 'malformed', 400],
          ['inner signed by another key than its jwk', () => send(innerJws(c, newKey, { signer: signedBy(generateAccountKey('ES256')) })), 'malformed', 400],
          ['inner signed by the old key (jwk is the new one)', () => send(innerJws(c, newKey, { signer: signedBy(c.key) })), 'malformed', 400],
          ['inner jwk holds the private key', () => send(innerJws(c, newKey, { header: { jwk: newKey.export({ format: 'jwk' }) } })), 'badPublicKey', 400],
          ['inner jwk is a 1024-bit RSA key', () => { const k = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey; return send(innerJws(c, k, { header: { alg: 'RS256' }, signer: (i) => sign('sha256', i, k) })); }, 'badPublicKey', 400],
          ['inner payload is not JSON', () => send(innerJws(c, newKey, { payload: 'account=me' })), 'malformed', 400],
          ['inner payload is an array', () => send(innerJws(c, newKey, { payload: [c.kid, c.jwk] })), 'malformed', 400],
          ['inner payload without account', () => send(innerJws(c, newKey, { payload: { oldKey: c.jwk } })), 'malformed', 400],
          ['inner account is another account', () => send(innerJws(c, newKey, { payload: { account: other.kid, oldKey: c.jwk } })), 'malformed', 400],
          ['inner account is not a string', () => send(innerJws(c, newKey, { payload: { account: 7, oldKey: c.jwk } })), 'malformed', 400],
          ['inner without oldKey', () => send(innerJws(c, newKey, { payload: { account: c.kid } })), 'malformed', 400],
          ['inner oldKey is another key', () => send(innerJws(c, newKey, { payload: { account: c.kid, oldKey: other.jwk } })), 'malformed', 400],
          ['inner oldKey is not a JWK', () => send(innerJws(c, newKey, { payload: { account: c.kid, oldKey: { kty: 'EC' } } })), 'malformed', 400],
          ['new key is the current key', () => send(innerJws(c, c.key, { payload: { account: c.kid, oldKey: c.jwk } })), 'malformed', 400],
        ];
        for (const [name, run, type, status] of cases) {
          test(`${name} → ${type} ${status}`, async () => {
            assertProblem(await run(), type, status);
          });
        }

        test('after every refusal the account still has its old key, and the well-formed rollover then succeeds', async () => {
          assert.equal((await c.post(c.kid!, '')).status, 200);
          assert.equal((await rollover(c, newKey)).status, 200);
        });
      });
    }

    if (backend === 'postgres') {
      test('two rollovers of one account at once: exactly one wins, and the account ends on its key', async () => {
        for (let round = 0; round < 5; round++) {
          const c = await account();
          const keys = [generateAccountKey('ES256'), generateAccountKey('ES256')];
          const results = await Promise.all(keys.map((k) => rollover(c, k)));
          const winners = results.filter((r) => r.status === 200);
          assert.equal(winners.length, 1, results.map((r) => r.text).join(' | '));
          const loser = results.find((r) => r.status !== 200)!;
          assert.ok(['malformed', 'unauthorized'].some((t) => loser.json.type.endsWith(`:${t}`)), loser.text);
          const stored = await accountById(server.ctx.db, idOf(c.kid!));
          assert.deepEqual(stored?.jwk, winners[0]!.json.key);
        }
      });

      test('two accounts rolling to one new key at once: one gets it, the other a 409 naming the winner', async () => {
        for (let round = 0; round < 5; round++) {
          const [a, b] = [await account(), await account()];
          const newKey = generateAccountKey('ES256');
          const results = await Promise.all([rollover(a, newKey), rollover(b, newKey)]);
          assert.deepEqual(results.map((r) => r.status).sort(), [200, 409], results.map((r) => r.text).join(' | '));
          const winner = results[0]!.status === 200 ? a : b;
          assert.equal(results.find((r) => r.status === 409)!.headers.location, winner.kid);
        }
      });
    }
  });
}
