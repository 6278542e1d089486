// The storage suite for accounts, EAB keys and authorizations outside an order: each sa state
// change, its guard and the constraints behind it, on PGlite and Postgres, on a pinned clock.
// Races run through two pools on Postgres, as two instances of the CA would.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { accountById, changeAccountKey, deactivateAccount } from '../src/sa/accounts.js';
import { authorizationsForNewOrder, createAuthorization, deactivateAuthorization } from '../src/sa/authorizations.js';
import type { Db } from '../src/sa/db.js';
import { openPostgres } from '../src/sa/db-postgres.js';
import { createBoundAccount, createEabKey, eabKeyById, listEabKeys, revokeEabKey } from '../src/sa/eab.js';
import { newId } from '../src/sa/ids.js';
import { authorizationById, createOrder, orderById, orderIdsByAccount, ReusedAuthorizationGone } from '../src/sa/orders.js';
import { finishValidation } from '../src/sa/validations.js';
import { backends, openTestDatabase, type TestDatabase } from './helpers/db.js';
import { at, claim, DAY, http01Ids, makeAccount, makeOrder, makeReadyOrder, problem, T0 } from './helpers/sa-fixtures.js';

const UNIQUE = '23505';
const CHECK = '23514';

const newAccountRow = (thumbprint = newId()) => ({ id: newId(), keyThumbprint: thumbprint, jwk: { kty: 'EC', crv: 'P-256', x: newId(), y: newId() }, contact: [], tosAgreed: true, createdAt: T0, createdIp: undefined });
const eabKey = (db: Db, reusable: boolean) => createEabKey(db, { keyId: newId(), hmacKey: Buffer.alloc(64, 7), reusable, note: null, createdAt: T0 });

for (const backend of backends) {
  describe(`account storage on ${backend}`, () => {
    let t: TestDatabase;
    let other: Db | undefined;
    const pools = () => (other ? [t.db, other] : [t.db]);
    before(async () => {
      t = await openTestDatabase(backend);
      if (t.url) other = openPostgres(t.url, { max: 20 });
    });
    after(async () => {
      await other?.close();
      await t?.drop();
    });

    test('changeAccountKey: guarded on the old thumbprint and a valid account; a taken key is a conflict naming its holder', async () => {
      const a = await makeAccount(t.db);
      const b = await makeAccount(t.db);
      const jwk = { kty: 'EC', crv: 'P-256', x: 'nx', y: 'ny' };
      assert.deepEqual(await changeAccountKey(t.db, a.id, 'not-the-old-one', 'new-1', jwk), { status: 'stale' });
      assert.deepEqual(await changeAccountKey(t.db, a.id, a.keyThumbprint, b.keyThumbprint, jwk), { status: 'conflict', accountId: b.id });
      const changed = await changeAccountKey(t.db, a.id, a.keyThumbprint, 'new-1', jwk);
      assert.equal(changed.status, 'changed');
      assert.deepEqual((await accountById(t.db, a.id))?.jwk, jwk);
      assert.equal((await accountById(t.db, a.id))?.keyThumbprint, 'new-1');
      assert.deepEqual(await changeAccountKey(t.db, a.id, a.keyThumbprint, 'new-2', jwk), { status: 'stale' }, 'the old key is gone');
      await deactivateAccount(t.db, b.id, problem('deactivated'));
      assert.deepEqual(await changeAccountKey(t.db, b.id, b.keyThumbprint, 'new-3', jwk), { status: 'stale' }, 'a deactivated account keeps its key');
    });

    test('deactivateAccount: once; its pending and ready orders become invalid, its authorizations deactivated, its valid orders stay', async () => {
      const a = await makeAccount(t.db);
      const pending = await makeOrder(t.db, a.id, ['p.attestca.test']);
      const ready = await makeReadyOrder(t.db, a.id, ['r.attestca.test']);
      const untouched = await makeOrder(t.db, (await makeAccount(t.db)).id, ['p.attestca.test']);
      assert.equal((await deactivateAccount(t.db, a.id, problem('account deactivated')))?.status, 'deactivated');
      assert.equal(await deactivateAccount(t.db, a.id, problem('again')), undefined);
      for (const o of [pending, ready]) {
        const stored = await orderById(t.db, o.id);
        assert.equal(stored?.status, 'invalid');
        assert.equal(stored?.error?.detail, 'account deactivated');
        assert.equal((await authorizationById(t.db, o.authzIds[0]!))?.status, 'deactivated');
      }
      assert.equal((await orderById(t.db, untouched.id))?.status, 'pending', "another account's order is not touched");
    });

    test('EAB keys: a single-use key binds once, a reusable one many times, a revoked one never; the CHECK backs the guard', async () => {
      const single = await eabKey(t.db, false);
      const first = await createBoundAccount(t.db, newAccountRow(), { keyId: single.keyId, jws: { protected: 'p' } });
      assert.equal(first.status, 'created');
      assert.deepEqual(await createBoundAccount(t.db, newAccountRow(), { keyId: single.keyId, jws: {} }), { status: 'unavailable' });
      const sameKey = newAccountRow(first.status === 'created' ? first.account.keyThumbprint : '');
      const existing = await createBoundAccount(t.db, sameKey, { keyId: (await eabKey(t.db, true)).keyId, jws: {} });
      assert.equal(existing.status, 'exists', 'an account key that has an account: the existing one, and the key use rolled back');
      assert.equal((await listEabKeys(t.db)).find((k) => k.uses === 0 && k.reusable)?.accounts.length, 0);
      await assert.rejects(t.db.query('UPDATE eab_keys SET uses = 2 WHERE key_id = $1', [single.keyId]), (e: { code?: string }) => e.code === CHECK);

      const shared = await eabKey(t.db, true);
      for (let i = 0; i < 3; i++) assert.equal((await createBoundAccount(t.db, newAccountRow(), { keyId: shared.keyId, jws: {} })).status, 'created');
      assert.equal(await revokeEabKey(t.db, shared.keyId, at(60)), true);
      assert.equal(await revokeEabKey(t.db, shared.keyId, at(61)), false);
      assert.deepEqual(await createBoundAccount(t.db, newAccountRow(), { keyId: shared.keyId, jws: {} }), { status: 'unavailable' });
      const listed = (await listEabKeys(t.db)).find((k) => k.keyId === shared.keyId)!;
      assert.deepEqual([listed.uses, listed.accounts.length, listed.revokedAt?.toISOString()], [3, 3, at(60).toISOString()]);
      assert.equal((await eabKeyById(t.db, shared.keyId))?.hmacKey.length, 64);
      await assert.rejects(createEabKey(t.db, { keyId: shared.keyId, hmacKey: Buffer.alloc(64), reusable: false, note: null, createdAt: T0 }), (e: { code?: string }) => e.code === UNIQUE);
      await assert.rejects(createEabKey(t.db, { keyId: newId(), hmacKey: Buffer.alloc(16), reusable: false, note: null, createdAt: T0 }), (e: { code?: string }) => e.code === CHECK);
    });

    test('ten accounts binding one single-use key at once, across instances: exactly one', async () => {
      const key = await eabKey(t.db, false);
      const ps = pools();
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => createBoundAccount(ps[i % ps.length]!, newAccountRow(), { keyId: key.keyId, jws: {} })));
      assert.deepEqual(results.map((r) => r.status).sort(), ['created', ...Array(9).fill('unavailable')]);
      assert.equal((await listEabKeys(t.db)).find((k) => k.keyId === key.keyId)?.accounts.length, 1);
    });

    test('deactivateAuthorization: pending or valid and unexpired only; its pending and ready orders become invalid, valid ones stay', async () => {
      const a = await makeAccount(t.db);
      const pending = await makeOrder(t.db, a.id, ['x.attestca.test']);
      assert.equal(await deactivateAuthorization(t.db, pending.authzIds[0]!, T0, problem('gone')), true);
      assert.equal(await deactivateAuthorization(t.db, pending.authzIds[0]!, T0, problem('gone')), false, 'only once');
      assert.equal((await orderById(t.db, pending.id))?.status, 'invalid');
      const ready = await makeReadyOrder(t.db, a.id, ['y.attestca.test']);
      assert.equal(await deactivateAuthorization(t.db, ready.authzIds[0]!, at(8 * DAY), problem('late')), false, 'an expired authorization stays as it is');
      assert.equal(await deactivateAuthorization(t.db, ready.authzIds[0]!, T0, problem('gone')), true);
      assert.deepEqual([(await orderById(t.db, ready.id))?.status, (await orderById(t.db, ready.id))?.error?.detail], ['invalid', 'gone']);
    });

    test('one read for a new order: the reusable authorization of each identifier, and the pending count', async () => {
      const a = await makeAccount(t.db);
      const ready = await makeReadyOrder(t.db, a.id, ['one.attestca.test', 'two.attestca.test']);
      await makeOrder(t.db, a.id, ['p1.attestca.test', 'p2.attestca.test', 'p3.attestca.test']);
      const wanted = ['two.attestca.test', 'none.attestca.test', 'one.attestca.test'].map((value) => ({ identifier: { type: 'dns', value }, wildcard: false }));
      const { reusable, pending } = await authorizationsForNewOrder(t.db, a.id, wanted, at(60), T0);
      assert.deepEqual([...reusable.keys()].sort(), ['dns:one.attestca.test:', 'dns:two.attestca.test:']);
      assert.deepEqual(new Set([...reusable.values()].map((r) => r.id)), new Set(ready.authzIds));
      assert.equal(pending.count, 3);
      assert.ok(pending.firstExpiry instanceof Date);
      const none = await authorizationsForNewOrder(t.db, (await makeAccount(t.db)).id, [], at(60), T0);
      assert.deepEqual(none, { reusable: new Map(), pending: { count: 0, firstExpiry: undefined } });
    });

    test('createOrder reuses valid authorizations (ready at once), and refuses one deactivated since it was found', async () => {
      const a = await makeAccount(t.db);
      const first = await makeReadyOrder(t.db, a.id, ['reuse.attestca.test']);
      const reusableAuthorizations = async (...args: Parameters<typeof authorizationsForNewOrder>) => (await authorizationsForNewOrder(...args)).reusable;
      const found = await reusableAuthorizations(t.db, a.id, [{ identifier: { type: 'dns', value: 'reuse.attestca.test' }, wildcard: false }], at(60), T0);
      const reuse = found.get('dns:reuse.attestca.test:')!;
      assert.equal(reuse.id, first.authzIds[0]);
      assert.equal((await reusableAuthorizations(t.db, a.id, [{ identifier: { type: 'dns', value: 'reuse.attestca.test' }, wildcard: true }], at(60), T0)).size, 0, 'a wildcard is another authorization');
      assert.equal((await reusableAuthorizations(t.db, a.id, [{ identifier: { type: 'dns', value: 'reuse.attestca.test' }, wildcard: false }], at(8 * DAY), T0)).size, 0, 'not valid long enough');
      const orderOf = () => ({ id: newId(), accountId: a.id, expiresAt: at(DAY), identifiers: [{ type: 'dns', value: 'reuse.attestca.test' }], notBefore: null, notAfter: null, createdAt: T0, authorizations: [{ reuse: reuse.id }] });
      const second = await createOrder(t.db, orderOf());
      assert.deepEqual([second.status, second.authzIds], ['ready', [reuse.id]]);
      await deactivateAuthorization(t.db, reuse.id, T0, problem('gone'));
      assert.equal((await orderById(t.db, second.id))?.status, 'invalid', 'the reusing order is invalidated with it');
      await assert.rejects(createOrder(t.db, orderOf()), ReusedAuthorizationGone);
    });

    test('a validation sets the new expiry of a valid authorization (the reuse window); a pre-authorization belongs to no order', async () => {
      const a = await makeAccount(t.db);
      const order = await makeOrder(t.db, a.id, ['window.attestca.test']);
      const [ch] = await http01Ids(t.db, order);
      assert.equal(await claim(t.db, ch!, T0, at(60)), true);
      assert.equal(await finishValidation(t.db, ch!, { status: 'valid', authzExpiresAt: at(30 * DAY) }, T0), true);
      assert.equal((await authorizationById(t.db, order.authzIds[0]!))?.expiresAt.toISOString(), at(30 * DAY).toISOString());
      const pre = await createAuthorization(t.db, a.id, { id: newId(), identifier: { type: 'dns', value: 'pre.attestca.test' }, wildcard: false, expiresAt: at(DAY), challenges: [{ id: newId(), type: 'http-01', token: newId() }] }, T0);
      assert.deepEqual([pre.status, pre.challenges.length], ['pending', 1]);
      const { rows } = await t.db.query('SELECT 1 FROM order_authorizations WHERE authz_id = $1', [pre.id]);
      assert.equal(rows.length, 0);
    });

    test('orderIdsByAccount: oldest first, paged by the last id, without invalid or expired orders', async () => {
      const a = await makeAccount(t.db);
      const orders = [];
      for (let i = 0; i < 5; i++) orders.push(await makeOrder(t.db, a.id, [`page${i}.attestca.test`]));
      await deactivateAuthorization(t.db, orders[1]!.authzIds[0]!, T0, problem('gone'));
      const expired = await makeOrder(t.db, a.id, ['old.attestca.test'], { expiresAt: at(10) });
      const live = orders.filter((_, i) => i !== 1).map((o) => o.id).sort();
      const first = await orderIdsByAccount(t.db, a.id, undefined, 2, at(60));
      const rest = await orderIdsByAccount(t.db, a.id, first.at(-1), 10, at(60));
      assert.deepEqual([...first, ...rest].sort(), live);
      assert.equal(first.length, 2);
      assert.ok(!rest.includes(expired.id));
      assert.ok((await orderIdsByAccount(t.db, a.id, undefined, 10, T0)).includes(expired.id), 'listed while it has not expired');
    });
  });
}
