// The storage suite (STYLE.md habit 7): every sa state change, its guard and the schema's
// constraints, on PGlite and on the real Postgres server. Races only show on Postgres, where the
// concurrent cases run through two pools on one database, as two instances of the CA would.
// On PGlite the same cases run through its single connection, which serialises them.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { accountById, createAccount } from '../src/sa/accounts.js';
import type { Db } from '../src/sa/db.js';
import { openPglite } from '../src/sa/db-pglite.js';
import { openPostgres } from '../src/sa/db-postgres.js';
import { newId } from '../src/sa/ids.js';
import {
  beginIssuance,
  certificateBySerial,
  claimStaleIssuances,
  failIssuance,
  issuanceRequest,
  reserveSerial,
  storeCertificate,
  type NewCertificate,
} from '../src/sa/issuance.js';
import { migrate, readMigrations } from '../src/sa/migrate.js';
import { RateLimitReached, takeRateLimitSlots } from '../src/sa/rate-limits.js';
import { NonceRedeemer, nonceKey, purgeExpiredNonces, redeemNonces } from '../src/sa/nonces.js';
import { authorizationById, challengeById, createOrder, orderById } from '../src/sa/orders.js';
import { claimStaleValidations, finishValidation, startValidation } from '../src/sa/validations.js';
import { backends, createPostgresDatabase, openTestDatabase, type Backend, type TestDatabase } from './helpers/db.js';

const ALL = readMigrations().map((m) => m.name);
import { at, claim, DAY, http01Ids, makeAccount, makeOrder, makeProcessingOrder, makeReadyOrder, newSerial, problem, T0 } from './helpers/sa-fixtures.js';

// Postgres error codes (PostgreSQL manual, Appendix A).
const UNIQUE = '23505';
const FOREIGN_KEY = '23503';
const CHECK = '23514';

/** Every byte value, so a bytea round trip that mangles any of them shows. */
const CSR = Buffer.from(Array.from({ length: 512 }, (_, i) => i % 256));

const redeemNonce = async (d: Db, nonce: string, expiresAt: Date) => (await redeemNonces(d, [{ nonce, expiresAt }]))[0]!.fresh;

async function count(db: Db, sql: string, params: unknown[] = []): Promise<number> {
  const { rows } = await db.query<{ n: unknown }>(sql, params);
  assert.equal(typeof rows[0]?.n, 'number', 'count(*) (int8) comes back as a number');
  return rows[0]!.n as number;
}

const certificate = (serial: string, orderId: string, accountId: string, der = Buffer.from([0x30, 0x82, 0x00, 0x00, serial.length])): NewCertificate => ({
  serial,
  orderId,
  accountId,
  der,
  chainPem: '-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n',
  identifiers: [{ type: 'dns', value: 'a.attestca.test' }],
  notBefore: T0,
  notAfter: at(90 * DAY),
  createdAt: T0,
});

/** One database per describe block; on Postgres also a second pool, the "other instance". */
function useDatabase(backend: Backend): { db: () => Db; pools: () => Db[] } {
  let t: TestDatabase;
  let other: Db | undefined;
  before(async () => {
    t = await openTestDatabase(backend);
    if (t.url) other = openPostgres(t.url, { max: 20 });
  });
  after(async () => {
    await other?.close();
    await t.drop();
  });
  return { db: () => t.db, pools: () => (other ? [t.db, other] : [t.db]) };
}

/** Runs n calls of fn at once, spread over the pools (two instances on Postgres). */
function race<T>(pools: Db[], n: number, fn: (db: Db, i: number) => Promise<T>): Promise<T[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => fn(pools[i % pools.length]!, i)));
}

/** Fails instead of hanging when a query waits on a lock it should have skipped. */
function within<T>(p: Promise<T>, ms = 3000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still waiting after ${ms} ms: blocked on a locked row instead of skipping it`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

const trues = (results: boolean[]): number => results.filter(Boolean).length;

for (const backend of backends) {
  describe(`storage on ${backend}`, () => {
    // One migrated database for the cases that only add rows of their own; the migration and
    // lease cases, which look at the whole database, get their own.
    const { db, pools } = useDatabase(backend);

    describe('migrations', () => {
      const cleanup: (() => Promise<void>)[] = [];
      after(async () => {
        for (const drop of cleanup) await drop();
      });

      test('applies every migration once, in order; a second run applies nothing', async () => {
        const t = await openTestDatabase(backend, { migrate: false });
        cleanup.push(t.drop);
        assert.deepEqual(await migrate(t.db), ALL);
        assert.deepEqual(await migrate(t.db), []);
        const { rows } = await t.db.query<{ version: number; name: string; applied_at: unknown }>('SELECT version, name, applied_at FROM schema_migrations ORDER BY version');
        assert.deepEqual(rows.map((r) => r.name), ALL);
        assert.deepEqual(rows.map((r) => r.version), ALL.map((name) => Number(name.slice(0, 4))));
        assert.ok(rows.every((r) => r.applied_at instanceof Date));
        // 0001: schema_migrations + 8 tables; 0002: attestations; 0003: crls; 0004: eab_keys, eab_bindings; 0006: rate_limits;
        // 0008: nonces out, secrets and redeemed_nonces in.
        assert.equal(await count(t.db, `SELECT count(*) AS n FROM pg_tables WHERE schemaname = 'public'`), 15);
      });

      test('two instances migrating one fresh database at the same moment both succeed, each version recorded once', async () => {
        // PGlite has one connection, which serialises the two; the race is Postgres's to show.
        for (let round = 0; round < (backend === 'postgres' ? 3 : 1); round++) {
          let instances: Db[];
          if (backend === 'postgres') {
            const created = await createPostgresDatabase();
            instances = [openPostgres(created.url), openPostgres(created.url)];
            cleanup.push(async () => {
              for (const db of instances) await db.close();
              await created.drop();
            });
          } else {
            const db = await openPglite(undefined);
            instances = [db, db];
            cleanup.push(() => db.close());
          }
          const results = await Promise.all(instances.map((db) => migrate(db)));
          assert.deepEqual(results.map((r) => r.length).sort(), [0, ALL.length], 'one instance applies them all, the other finds them done');
          assert.deepEqual(results.flat(), ALL);
          for (const db of instances) {
            const { rows } = await db.query<{ version: number; n: number }>('SELECT version, count(*) AS n FROM schema_migrations GROUP BY version ORDER BY version');
            assert.deepEqual(rows, ALL.map((name) => ({ version: Number(name.slice(0, 4)), n: 1 })));
          }
        }
      });
    });

    describe('constraints', () => {

      test('one account per key thumbprint: createAccount again returns the existing account', async () => {
        const first = await makeAccount(db());
        const again = await createAccount(db(), {
          id: newId(),
          keyThumbprint: first.keyThumbprint,
          jwk: first.jwk,
          contact: [],
          tosAgreed: true,
          createdAt: at(10),
          createdIp: undefined,
        });
        assert.equal(again.created, false);
        assert.equal(again.account.id, first.id);
        assert.deepEqual(again.account.contact, ['mailto:ops@attestca.test']);
        assert.equal(await count(db(), 'SELECT count(*) AS n FROM accounts WHERE key_thumbprint = $1', [first.keyThumbprint]), 1);
      });

      test('newAccount racing with one key on two instances gives one account', async () => {
        const thumbprint = newId();
        const results = await race(pools(), 10, (d) =>
          createAccount(d, { id: newId(), keyThumbprint: thumbprint, jwk: { kty: 'OKP', crv: 'Ed25519', x: thumbprint }, contact: [], tosAgreed: true, createdAt: T0, createdIp: undefined }),
        );
        assert.equal(results.filter((r) => r.created).length, 1);
        assert.equal(new Set(results.map((r) => r.account.id)).size, 1);
      });

      test('a serial is recorded once, in lower-case hex', async () => {
        const serial = newSerial();
        await reserveSerial(db(), serial, null, 'tls-server', T0);
        await assert.rejects(reserveSerial(db(), serial, null, 'acme', T0), { code: UNIQUE, constraint: 'serials_pkey' });
        await assert.rejects(reserveSerial(db(), serial.toUpperCase() + 'F', null, 'acme', T0), { code: CHECK, constraint: 'serials_serial_check' });
        await assert.rejects(reserveSerial(db(), newSerial(), null, 'bogus' as 'acme', T0), { code: CHECK, constraint: 'serials_purpose_check' });
        assert.equal(await count(db(), 'SELECT count(*) AS n FROM serials WHERE serial = $1', [serial]), 1);
      });

      test('foreign keys: no order for a missing account, no serial for a missing order; createOrder leaves nothing behind', async () => {
        const orderId = newId();
        const authzId = newId();
        await assert.rejects(
          createOrder(db(), {
            id: orderId,
            accountId: newId(),
            expiresAt: at(DAY),
            identifiers: [{ type: 'dns', value: 'x.attestca.test' }],
            notBefore: null,
            notAfter: null,
            createdAt: T0,
            authorizations: [{ id: authzId, identifier: { type: 'dns', value: 'x.attestca.test' }, wildcard: false, expiresAt: at(DAY), challenges: [] }],
          }),
          // One statement inserts the order and its authorizations; either row's key may be the one reported.
          (err: { code?: string; constraint?: string }) => err.code === FOREIGN_KEY && ['orders_account_id_fkey', 'authorizations_account_id_fkey'].includes(err.constraint ?? ''),
        );
        assert.equal(await orderById(db(), orderId), undefined);
        assert.equal(await authorizationById(db(), authzId), undefined);
        await assert.rejects(reserveSerial(db(), newSerial(), newId(), 'acme', T0), { code: FOREIGN_KEY, constraint: 'serials_order_id_fkey' });
      });

      test('createOrder is all or nothing: a repeated challenge token rolls back the order', async () => {
        const account = await makeAccount(db());
        const taken = (await makeOrder(db(), account.id)).authzIds[0]!;
        const token = (await authorizationById(db(), taken))!.challenges[0]!.token;
        const orderId = newId();
        await assert.rejects(
          createOrder(db(), {
            id: orderId,
            accountId: account.id,
            expiresAt: at(DAY),
            identifiers: [{ type: 'dns', value: 'y.attestca.test' }],
            notBefore: null,
            notAfter: null,
            createdAt: T0,
            authorizations: [{ id: newId(), identifier: { type: 'dns', value: 'y.attestca.test' }, wildcard: false, expiresAt: at(DAY), challenges: [{ id: newId(), type: 'http-01', token }] }],
          }),
          { code: UNIQUE, constraint: 'challenges_token_key' },
        );
        assert.equal(await orderById(db(), orderId), undefined);
        assert.equal(await count(db(), 'SELECT count(*) AS n FROM order_authorizations WHERE order_id = $1', [orderId]), 0);
      });

      test('CHECK constraints reject a status outside RFC 8555 §7.1.6', async () => {
        const account = await makeAccount(db());
        const order = await makeOrder(db(), account.id);
        const authz = (await authorizationById(db(), order.authzIds[0]!))!;
        const cases = [
          ['accounts', account.id, 'accounts_status_check'],
          ['orders', order.id, 'orders_status_check'],
          ['authorizations', authz.id, 'authorizations_status_check'],
          ['challenges', authz.challenges[0]!.id, 'challenges_status_check'],
        ] as const;
        for (const [table, id, constraint] of cases) {
          await assert.rejects(db().query(`UPDATE ${table} SET status = 'bogus' WHERE id = $1`, [id]), { code: CHECK, constraint }, table);
        }
        assert.equal((await orderById(db(), order.id))!.status, 'pending');
      });

      test('an order cannot be processing without a CSR and a lease, nor invalid without an error', async () => {
        const account = await makeAccount(db());
        const order = await makeReadyOrder(db(), account.id);
        await assert.rejects(db().query(`UPDATE orders SET status = 'processing', lease_until = $2 WHERE id = $1`, [order.id, at(60)]), { code: CHECK, constraint: 'orders_check' });
        await assert.rejects(db().query(`UPDATE orders SET status = 'processing', csr = $2 WHERE id = $1`, [order.id, CSR]), { code: CHECK, constraint: 'orders_check' });
        await assert.rejects(db().query(`UPDATE orders SET status = 'invalid' WHERE id = $1`, [order.id]), { code: CHECK, constraint: 'orders_check1' });
        assert.equal((await orderById(db(), order.id))!.status, 'ready');
      });

      test('a challenge cannot be processing without a lease, invalid without an error, valid without a time', async () => {
        const account = await makeAccount(db());
        const order = await makeOrder(db(), account.id);
        const [id] = await http01Ids(db(), order);
        for (const [status, constraint] of [['processing', 'challenges_check'], ['invalid', 'challenges_check1'], ['valid', 'challenges_check2']]) {
          await assert.rejects(db().query('UPDATE challenges SET status = $2 WHERE id = $1', [id, status]), { code: CHECK, constraint }, status);
        }
      });
    });

    describe('nonces', () => {

      test('a nonce redeems once', async () => {
        const nonce = newId();
        assert.equal(await redeemNonce(db(), nonce, at(60)), true);
        assert.equal(await redeemNonce(db(), nonce, at(60)), false);
        assert.equal(await redeemNonce(db(), newId(), at(60)), true);
      });

      test('one statement redeems many nonces and reads each signer, in the order asked', async () => {
        const account = await makeAccount(db());
        const used = newId();
        await redeemNonce(db(), used, at(60));
        const [a, b, c] = [newId(), newId(), newId()];
        const got = await redeemNonces(db(), [
          { nonce: a, expiresAt: at(60), accountId: account.id },
          { nonce: used, expiresAt: at(60), accountId: account.id },
          { nonce: b, expiresAt: at(60) },
          { nonce: c, expiresAt: at(60), accountId: 'no-such-account' },
        ]);
        assert.deepEqual(got, [
          { account, fresh: true },
          { account, fresh: false },
          { account: undefined, fresh: true },
          // An unknown account still burns the nonce: the statement is one.
          { account: undefined, fresh: true },
        ]);
        for (const n of [a, b, c]) assert.equal(await redeemNonce(db(), n, at(60)), false);
      });

      test('20 concurrent redemptions of one nonce on two instances: exactly one wins', async () => {
        for (let round = 0; round < 5; round++) {
          const nonce = newId();
          assert.equal(trues(await race(pools(), 20, (d) => redeemNonce(d, nonce, at(60)))), 1);
        }
      });

      test('the redeemer: requests of one turn share a statement; a repeated nonce wins once', async () => {
        let statements = 0;
        const counting: Db = { ...db(), query: (sql, params) => (statements++, db().query(sql, params)) };
        const redeemers = pools().map((d) => new NonceRedeemer(d === db() ? counting : d));
        const account = await makeAccount(db());
        const distinct = Array.from({ length: 30 }, () => newId());
        const results = await Promise.all(distinct.map((nonce) => redeemers[0]!.redeem({ nonce, expiresAt: at(60), accountId: account.id })));
        assert.ok(results.every((r) => r.fresh && r.account?.id === account.id));
        assert.equal(statements, 1, '30 redemptions in one turn, one statement');
        for (let round = 0; round < 5; round++) {
          const nonce = newId();
          const tries = await Promise.all(Array.from({ length: 20 }, (_, i) => redeemers[i % redeemers.length]!.redeem({ nonce, expiresAt: at(60), accountId: account.id })));
          assert.equal(tries.filter((r) => r.fresh).length, 1);
          assert.ok(tries.every((r) => r.account?.id === account.id));
        }
      });

      test('the redeemer: a failed statement fails every request in its batch, and the next batch runs', async () => {
        let fail = true;
        const flaky: Db = { ...db(), query: (sql, params) => (fail ? Promise.reject(new Error('connection lost')) : db().query(sql, params)) };
        const redeemer = new NonceRedeemer(flaky);
        const failed = await Promise.allSettled([newId(), newId()].map((nonce) => redeemer.redeem({ nonce, expiresAt: at(60) })));
        assert.deepEqual(failed.map((r) => r.status), ['rejected', 'rejected']);
        fail = false;
        assert.equal((await redeemer.redeem({ nonce: newId(), expiresAt: at(60) })).fresh, true);
      });

      test('one key for every instance: the first to ask makes it', async () => {
        const keys = await Promise.all(pools().map((d) => nonceKey(d, T0)));
        assert.equal(keys[0]!.length, 32);
        for (const k of keys) assert.deepEqual(k, keys[0]);
        assert.deepEqual(await nonceKey(db(), T0), keys[0]);
      });

      test('purgeExpiredNonces removes the expired ones only', async () => {
        const now = at(DAY); // later than every nonce the other cases left behind
        const expired = [newId(), newId(), newId()];
        const live = [newId(), newId()];
        for (const n of expired) await redeemNonce(db(), n, at(DAY - 5));
        await redeemNonce(db(), expired[0] + 'edge', now);
        for (const n of live) await redeemNonce(db(), n, at(DAY + 60));
        const before = await count(db(), 'SELECT count(*) AS n FROM redeemed_nonces WHERE expires_at <= $1', [now]);
        const purged = await purgeExpiredNonces(db(), now);
        assert.equal(typeof purged, 'number');
        assert.equal(purged, before);
        assert.ok(purged >= 4);
        assert.equal(await count(db(), 'SELECT count(*) AS n FROM redeemed_nonces WHERE expires_at <= $1', [now]), 0);
        // Live redemptions stay: they still refuse a replay.
        for (const n of live) assert.equal(await redeemNonce(db(), n, at(DAY + 60)), false);
        assert.equal(await purgeExpiredNonces(db(), now), 0);
      });
    });

    describe('validations', () => {

      test('startValidation claims a pending challenge once', async () => {
        const account = await makeAccount(db());
        const [id] = await http01Ids(db(), await makeOrder(db(), account.id));
        assert.equal(await claim(db(), id!, T0, at(60)), true);
        assert.equal(await claim(db(), id!, T0, at(60)), false);
        const ch = (await challengeById(db(), id!))!;
        assert.equal(ch.status, 'processing');
        assert.equal(ch.attempts, 1);
      });

      test('startValidation claims for the account that owns the challenge only, and reads the authorization as it was', async () => {
        const account = await makeAccount(db());
        const other = await makeAccount(db());
        const order = await makeOrder(db(), account.id);
        const [id] = await http01Ids(db(), order);
        const refused = await startValidation(db(), id!, other.id, T0, at(60));
        assert.equal(refused.started, false, 'another account cannot start it');
        assert.equal(refused.authz?.accountId, account.id, 'but learns whose it is, to be told so');
        assert.equal((await challengeById(db(), id!))!.status, 'pending');
        const first = await startValidation(db(), id!, account.id, T0, at(60), '{"attObj":"x"}');
        assert.equal(first.started, true);
        assert.equal(first.authz?.id, order.authzIds[0]);
        assert.equal(first.authz?.challenges.find((c) => c.id === id)?.status, 'pending', 'read before the claim');
        assert.equal((await challengeById(db(), id!))!.status, 'processing');
        assert.equal(await count(db(), 'SELECT count(*) AS n FROM challenges WHERE id = $1 AND payload IS NULL', [id]), 1, 'a response is kept for device-attest-01 only');
        const again = await startValidation(db(), id!, account.id, T0, at(60));
        assert.equal(again.started, false);
        assert.equal(again.authz?.challenges.find((c) => c.id === id)?.status, 'processing');
        assert.deepEqual(await startValidation(db(), newId(), account.id, T0, at(60)), { started: false, authz: undefined });
      });

      test('concurrent startValidation of one challenge on two instances: exactly one succeeds', async () => {
        const account = await makeAccount(db());
        for (let round = 0; round < 5; round++) {
          const [id] = await http01Ids(db(), await makeOrder(db(), account.id));
          assert.equal(trues(await race(pools(), 10, (d) => claim(d, id!, T0, at(60)))), 1);
          assert.equal((await challengeById(db(), id!))!.attempts, 1);
        }
      });

      test('only one challenge of an authorization is tried, even when two start at once', async () => {
        const account = await makeAccount(db());
        for (let round = 0; round < 20; round++) {
          const order = await makeOrder(db(), account.id);
          const authz = (await authorizationById(db(), order.authzIds[0]!))!;
          const ids = authz.challenges.map((c) => c.id);
          assert.equal(ids.length, 2);
          const started = await race(pools(), 2, (d, i) => claim(d, ids[i]!, T0, at(60)));
          assert.equal(trues(started), 1, `round ${round}: ${JSON.stringify(started)}`);
          const after = (await authorizationById(db(), authz.id))!;
          assert.equal(after.challenges.filter((c) => c.status === 'processing').length, 1);
        }
      });

      test('startValidation refuses an expired authorization', async () => {
        const account = await makeAccount(db());
        const [id] = await http01Ids(db(), await makeOrder(db(), account.id, ['old.attestca.test'], { authzExpiresAt: T0 }));
        assert.equal(await claim(db(), id!, T0, at(60)), false);
        assert.equal((await challengeById(db(), id!))!.status, 'pending');
      });

      test('finishValidation records the challenge, the authorization and the order together', async () => {
        const account = await makeAccount(db());
        const order = await makeOrder(db(), account.id);
        const [id] = await http01Ids(db(), order);
        assert.equal(await finishValidation(db(), id!, { status: 'valid' }, T0), false, 'not processing yet');
        assert.equal(await claim(db(), id!, T0, at(60)), true);
        assert.equal(await finishValidation(db(), id!, { status: 'valid' }, at(2)), true);
        assert.equal(await finishValidation(db(), id!, { status: 'invalid', error: problem('late') }, at(3)), false, 'already finished');

        const ch = (await challengeById(db(), id!))!;
        assert.equal(ch.status, 'valid');
        assert.deepEqual(ch.validatedAt, at(2));
        assert.equal(ch.error, null);
        assert.equal(await count(db(), 'SELECT count(*) AS n FROM challenges WHERE id = $1 AND lease_until IS NULL', [id]), 1);
        assert.equal((await authorizationById(db(), order.authzIds[0]!))!.status, 'valid');
        assert.equal((await orderById(db(), order.id))!.status, 'ready');
      });

      test('an order waits for all its authorizations', async () => {
        const account = await makeAccount(db());
        const order = await makeOrder(db(), account.id, ['a.attestca.test', 'b.attestca.test']);
        const [first] = await http01Ids(db(), order);
        assert.equal(await claim(db(), first!, T0, at(60)), true);
        assert.equal(await finishValidation(db(), first!, { status: 'valid' }, T0), true);
        assert.equal((await orderById(db(), order.id))!.status, 'pending');
      });

      test('two authorizations of one order finishing at once on two instances always leave it ready', async () => {
        const account = await makeAccount(db());
        for (let round = 0; round < 20; round++) {
          const order = await makeOrder(db(), account.id, ['a.attestca.test', 'b.attestca.test']);
          const ids = await http01Ids(db(), order);
          for (const id of ids) assert.equal(await claim(db(), id, T0, at(60)), true);
          const finished = await race(pools(), 2, (d, i) => finishValidation(d, ids[i]!, { status: 'valid' }, T0));
          assert.deepEqual(finished, [true, true]);
          assert.equal((await orderById(db(), order.id))!.status, 'ready', `round ${round}`);
        }
      });

      test('an invalid validation makes the authorization and the order invalid, with the error stored', async () => {
        const account = await makeAccount(db());
        const order = await makeOrder(db(), account.id, ['a.attestca.test', 'b.attestca.test']);
        const [good, bad] = await http01Ids(db(), order);
        for (const id of [good!, bad!]) assert.equal(await claim(db(), id, T0, at(60)), true);
        assert.equal(await finishValidation(db(), good!, { status: 'valid' }, T0), true);
        const error = problem('the key authorization did not match');
        assert.equal(await finishValidation(db(), bad!, { status: 'invalid', error }, at(1)), true);

        const ch = (await challengeById(db(), bad!))!;
        assert.equal(ch.status, 'invalid');
        assert.deepEqual(ch.error, error);
        assert.equal(ch.validatedAt, null);
        assert.equal((await authorizationById(db(), order.authzIds[1]!))!.status, 'invalid');
        assert.equal((await authorizationById(db(), order.authzIds[0]!))!.status, 'valid');
        const after = (await orderById(db(), order.id))!;
        assert.equal(after.status, 'invalid');
        assert.deepEqual(after.error, error);
      });
    });

    describe('issuance', () => {

      test('beginIssuance takes a ready order into processing once, even under concurrency', async () => {
        const account = await makeAccount(db());
        for (let round = 0; round < 5; round++) {
          const order = await makeReadyOrder(db(), account.id);
          assert.equal(trues(await race(pools(), 10, (d) => beginIssuance(d, order.id, account.id, CSR, T0, at(60), newSerial()))), 1);
          assert.equal((await orderById(db(), order.id))!.status, 'processing');
          // The winner's serial is recorded with its claim; the losers' are not.
          assert.equal(await count(db(), "SELECT count(*) AS n FROM serials WHERE order_id = $1 AND purpose = 'acme'", [order.id]), 1);
        }
      });

      test('beginIssuance refuses a pending order, another account, an expired order', async () => {
        const account = await makeAccount(db());
        const other = await makeAccount(db());
        const pending = await makeOrder(db(), account.id);
        assert.equal(await beginIssuance(db(), pending.id, account.id, CSR, T0, at(60), newSerial()), false);
        const ready = await makeReadyOrder(db(), account.id);
        assert.equal(await beginIssuance(db(), ready.id, other.id, CSR, T0, at(60), newSerial()), false);
        assert.equal(await beginIssuance(db(), ready.id, account.id, CSR, at(7 * DAY), at(7 * DAY + 60), newSerial()), false);
        assert.equal((await orderById(db(), ready.id))!.status, 'ready');
        assert.equal((await orderById(db(), pending.id))!.status, 'pending');
        assert.equal(await count(db(), 'SELECT count(*) AS n FROM serials WHERE order_id IN ($1, $2)', [ready.id, pending.id]), 0);
      });

      test('storeCertificate stores the certificate and makes the order valid; a second one stores nothing', async () => {
        const account = await makeAccount(db());
        const order = await makeProcessingOrder(db(), account.id, CSR);
        const request = (await issuanceRequest(db(), order.id))!;
        assert.equal(request.accountId, account.id);
        assert.ok(request.csr.equals(CSR));
        assert.deepEqual(request.identifiers, [{ type: 'dns', value: 'a.attestca.test' }]);

        const [first, second] = [newSerial(), newSerial()];
        await reserveSerial(db(), first, order.id, 'acme', T0);
        await reserveSerial(db(), second, order.id, 'acme', T0);
        assert.equal(await storeCertificate(db(), certificate(first, order.id, account.id)), true);
        assert.equal(await storeCertificate(db(), certificate(second, order.id, account.id)), false);

        const after = (await orderById(db(), order.id))!;
        assert.equal(after.status, 'valid');
        assert.equal(after.certificateSerial, first);
        assert.equal(await issuanceRequest(db(), order.id), undefined);
        const cert = (await certificateBySerial(db(), first))!;
        assert.equal(cert.status, 'valid');
        assert.equal(cert.orderId, order.id);
        assert.ok(cert.der.equals(certificate(first, order.id, account.id).der));
        assert.equal(await certificateBySerial(db(), second), undefined);
        assert.equal(await count(db(), 'SELECT count(*) AS n FROM certificates WHERE order_id = $1', [order.id]), 1);
        assert.equal(await count(db(), 'SELECT count(*) AS n FROM orders WHERE id = $1 AND lease_until IS NULL', [order.id]), 1);
        // The unused serial stays recorded (signed-but-unused, DESIGN.md crash-safe issuance).
        assert.equal(await count(db(), 'SELECT count(*) AS n FROM serials WHERE serial = $1', [second]), 1);
      });

      test('two instances storing a certificate for one order at once: one certificate', async () => {
        const account = await makeAccount(db());
        for (let round = 0; round < 5; round++) {
          const order = await makeProcessingOrder(db(), account.id, CSR);
          const serials = [newSerial(), newSerial()];
          for (const s of serials) await reserveSerial(db(), s, order.id, 'acme', T0);
          const stored = await race(pools(), 2, (d, i) => storeCertificate(d, certificate(serials[i]!, order.id, account.id)));
          assert.equal(trues(stored), 1);
          const winner = serials[stored.indexOf(true)]!;
          assert.equal((await orderById(db(), order.id))!.certificateSerial, winner);
          assert.equal(await count(db(), 'SELECT count(*) AS n FROM certificates WHERE order_id = $1', [order.id]), 1);
        }
      });

      test('storeCertificate refuses an order that is not processing', async () => {
        const account = await makeAccount(db());
        const order = await makeReadyOrder(db(), account.id);
        const serial = newSerial();
        await reserveSerial(db(), serial, order.id, 'acme', T0);
        assert.equal(await storeCertificate(db(), certificate(serial, order.id, account.id)), false);
        assert.equal(await certificateBySerial(db(), serial), undefined);
        assert.equal((await orderById(db(), order.id))!.status, 'ready');
      });

      test('failIssuance moves processing to invalid with the reason, once', async () => {
        const account = await makeAccount(db());
        const order = await makeProcessingOrder(db(), account.id, CSR);
        const error = { type: 'urn:ietf:params:acme:error:badCSR', detail: 'the CSR key is not the attested key', status: 400 };
        assert.equal(await failIssuance(db(), order.id, error), true);
        assert.equal(await failIssuance(db(), order.id, error), false);
        const after = (await orderById(db(), order.id))!;
        assert.equal(after.status, 'invalid');
        assert.deepEqual(after.error, error);
        const ready = await makeReadyOrder(db(), account.id);
        assert.equal(await failIssuance(db(), ready.id, error), false);
        assert.equal((await orderById(db(), ready.id))!.status, 'ready');
      });
    });

    describe('leases', () => {
      // Claims sweep the whole table, so this block has a database of its own.
      const { db, pools } = useDatabase(backend);

      test('claimStaleValidations claims only run-out leases and extends them', async () => {
        const account = await makeAccount(db());
        const stale = await http01Ids(db(), await makeOrder(db(), account.id, ['s1.attestca.test', 's2.attestca.test']));
        const [edge] = await http01Ids(db(), await makeOrder(db(), account.id));
        const [fresh] = await http01Ids(db(), await makeOrder(db(), account.id));
        for (const id of stale) assert.equal(await claim(db(), id, T0, at(10)), true);
        assert.equal(await claim(db(), edge!, T0, at(100)), true);
        assert.equal(await claim(db(), fresh!, T0, at(101)), true);

        const claimed = await claimStaleValidations(db(), at(100), at(200), 10);
        assert.deepEqual(claimed.map((c) => c.id).sort(), [...stale, edge!].sort());
        for (const c of claimed) {
          assert.equal(c.attempts, 2);
          assert.equal((await challengeById(db(), c.id))!.status, 'processing');
        }
        assert.deepEqual(await claimStaleValidations(db(), at(100), at(200), 10), [], 'leases were extended');
        assert.deepEqual(await claimStaleValidations(db(), at(199), at(300), 10).then((r) => r.map((c) => c.id)), [fresh]);
        const later = await claimStaleValidations(db(), at(200), at(300), 2);
        assert.equal(later.length, 2, 'the limit holds');
        assert.equal((await claimStaleValidations(db(), at(200), at(300), 10)).length, 1);
        for (const id of [...stale, edge!, fresh!]) assert.equal(await finishValidation(db(), id, { status: 'valid' }, at(200)), true);
        assert.deepEqual(await claimStaleValidations(db(), at(10 * DAY), at(11 * DAY), 10), [], 'finished ones are never claimed');
      });

      test('claimStaleIssuances claims only run-out leases and extends them', async () => {
        const account = await makeAccount(db());
        const stale = (await makeProcessingOrder(db(), account.id, CSR, at(10))).id;
        const fresh = (await makeProcessingOrder(db(), account.id, CSR, at(500))).id;
        const done = (await makeProcessingOrder(db(), account.id, CSR, at(10))).id;
        assert.equal(await failIssuance(db(), done, problem('gone')), true);

        assert.deepEqual(await claimStaleIssuances(db(), at(100), at(200), 10), [stale]);
        assert.deepEqual(await claimStaleIssuances(db(), at(100), at(200), 10), [], 'the lease was extended');
        assert.deepEqual(await claimStaleIssuances(db(), at(200), at(300), 10), [stale]);
        assert.deepEqual((await claimStaleIssuances(db(), at(600), at(700), 10)).sort(), [stale, fresh].sort());
        assert.equal((await orderById(db(), stale))!.status, 'processing');
        for (const id of [stale, fresh]) assert.equal(await failIssuance(db(), id, problem('cleared')), true);
        assert.deepEqual(await claimStaleIssuances(db(), at(10 * DAY), at(11 * DAY), 10), [], 'finished ones are never claimed');
      });

      test('concurrent sweeps on two instances split the stale rows without overlap', async () => {
        const account = await makeAccount(db());
        const ids: string[] = [];
        for (let i = 0; i < 4; i++) ids.push(...(await http01Ids(db(), await makeOrder(db(), account.id, [`c${i}a.attestca.test`, `c${i}b.attestca.test`]))));
        for (const id of ids) assert.equal(await claim(db(), id, T0, at(20 * DAY)), true);
        const sweeps = await race(pools(), 4, (d) => claimStaleValidations(d, at(21 * DAY), at(22 * DAY), 3));
        const claimed = sweeps.flat().map((c) => c.id);
        assert.equal(new Set(claimed).size, claimed.length, 'no row claimed twice');
        assert.deepEqual(claimed.sort(), [...ids].sort());
        for (const id of ids) assert.equal(await finishValidation(db(), id, { status: 'valid' }, at(21 * DAY)), true);
      });

      if (backend === 'postgres') {
        test('a row locked by another instance is skipped, not waited for (SKIP LOCKED)', async () => {
          const [here, other] = pools();
          const account = await makeAccount(here!);
          const locked = (await makeProcessingOrder(here!, account.id, CSR, at(30 * DAY))).id;
          const free = (await makeProcessingOrder(here!, account.id, CSR, at(30 * DAY))).id;
          const [lockedCh, freeCh] = await http01Ids(here!, await makeOrder(here!, account.id, ['l.attestca.test', 'f.attestca.test']));
          for (const id of [lockedCh!, freeCh!]) assert.equal(await claim(here!, id, T0, at(30 * DAY)), true);

          let release!: () => void;
          const released = new Promise<void>((resolve) => (release = resolve));
          let holding!: () => void;
          const held = new Promise<void>((resolve) => (holding = resolve));
          const holder = other!.transaction(async (tx) => {
            await tx.query('SELECT id FROM orders WHERE id = $1 FOR UPDATE', [locked]);
            await tx.query('SELECT id FROM challenges WHERE id = $1 FOR UPDATE', [lockedCh]);
            holding();
            await released;
          });
          try {
            await held;
            assert.deepEqual(await within(claimStaleIssuances(here!, at(31 * DAY), at(32 * DAY), 10)), [free]);
            assert.deepEqual((await within(claimStaleValidations(here!, at(31 * DAY), at(32 * DAY), 10))).map((c) => c.id), [freeCh]);
          } finally {
            release();
            await holder;
          }
          assert.deepEqual(await claimStaleIssuances(here!, at(31 * DAY), at(32 * DAY), 10), [locked]);
          assert.deepEqual((await claimStaleValidations(here!, at(31 * DAY), at(32 * DAY), 10)).map((c) => c.id), [lockedCh]);
        });
      }
    });

    describe('rate-limit slots', () => {
      const W = at(0);
      const count = async (key: string): Promise<number | undefined> =>
        (await db().query<{ count: number }>('SELECT count FROM rate_limits WHERE key = $1 AND window_start = $2', [key, W])).rows[0]?.count;

      test('several keys are taken all or none: a full one leaves the others as they were', async () => {
        const [a, b, c] = ['slots-a', 'slots-b', 'slots-c'].map((k) => `${k}-${newId()}`) as [string, string, string];
        await takeRateLimitSlots(db(), { keys: [b], windowStart: W, limit: 2 });
        await takeRateLimitSlots(db(), { keys: [b, a], windowStart: W, limit: 2 });
        await assert.rejects(takeRateLimitSlots(db(), { keys: [c, b, a], windowStart: W, limit: 2 }), (err: unknown) => err instanceof RateLimitReached && err.key === b);
        assert.deepEqual([await count(a), await count(b), await count(c)], [1, 2, undefined]);
      });

      test('racing takes of overlapping keys, on two instances, take exactly the limit and never deadlock', async () => {
        const keys = [`race-x-${newId()}`, `race-y-${newId()}`];
        const results = await race(pools(), 12, (d, i) =>
          takeRateLimitSlots(d, { keys: i % 2 ? keys : [...keys].reverse(), windowStart: W, limit: 5 }).then(
            () => true,
            (err: unknown) => {
              if (err instanceof RateLimitReached) return false;
              throw err;
            },
          ),
        );
        assert.equal(trues(results), 5);
        assert.deepEqual([await count(keys[0]!), await count(keys[1]!)], [5, 5]);
      });

      test('an order refused by its slot is not stored; one allowed takes the slot with it', async () => {
        const account = await makeAccount(db());
        const key = `orders-${account.id}`;
        const slots = { keys: [key], windowStart: W, limit: 1 };
        const first = newId();
        const order = (id: string) => ({
          id,
          accountId: account.id,
          expiresAt: at(DAY),
          identifiers: [{ type: 'dns', value: 'slots.attestca.test' }],
          notBefore: null,
          notAfter: null,
          createdAt: T0,
          authorizations: [{ id: newId(), identifier: { type: 'dns', value: 'slots.attestca.test' }, wildcard: false, expiresAt: at(DAY), challenges: [{ id: newId(), type: 'http-01' as const, token: newId() }] }],
        });
        await createOrder(db(), order(first), slots);
        assert.equal(await count(key), 1);
        const refused = newId();
        await assert.rejects(createOrder(db(), order(refused), slots), RateLimitReached);
        assert.equal(await orderById(db(), refused), undefined);
        assert.equal(await count(key), 1);
        assert.equal((await orderById(db(), first))?.status, 'pending');
      });

      test('a claim refused by its slot leaves the order ready and records no serial', async () => {
        const account = await makeAccount(db());
        const order = await makeReadyOrder(db(), account.id);
        const key = `certs-${order.id}`;
        await takeRateLimitSlots(db(), { keys: [key], windowStart: W, limit: 1 });
        const serial = newSerial();
        await assert.rejects(beginIssuance(db(), order.id, account.id, CSR, T0, at(60), serial, { keys: [key], windowStart: W, limit: 1 }), RateLimitReached);
        assert.equal((await orderById(db(), order.id))?.status, 'ready');
        assert.equal((await db().query('SELECT 1 FROM serials WHERE serial = $1', [serial])).rowCount, 0);
        assert.equal(await beginIssuance(db(), order.id, account.id, CSR, T0, at(60), serial, { keys: [key], windowStart: W, limit: 2 }), true);
        assert.equal(await count(key), 2);
      });
    });

    describe('types', () => {

      test('bytea comes back as a Buffer, byte for byte, and stays intact after later queries', async () => {
        const account = await makeAccount(db());
        const order = await makeProcessingOrder(db(), account.id, CSR);
        const { csr } = (await issuanceRequest(db(), order.id))!;
        assert.ok(Buffer.isBuffer(csr));
        const serial = newSerial();
        await reserveSerial(db(), serial, order.id, 'acme', T0);
        assert.equal(await storeCertificate(db(), certificate(serial, order.id, account.id, CSR)), true);
        const { der } = (await certificateBySerial(db(), serial))!;
        assert.ok(Buffer.isBuffer(der));
        for (let i = 0; i < 3; i++) await db().query('SELECT $1::bytea AS b', [Buffer.alloc(4096, 0xee)]);
        assert.ok(csr.equals(CSR));
        assert.ok(der.equals(CSR));
      });

      test('int8 counts are numbers, int4 are numbers', async () => {
        const { rows } = await db().query<{ n: unknown; big: unknown; small: unknown }>('SELECT count(*) AS n, 9007199254740991::int8 AS big, 7::int4 AS small');
        assert.deepEqual(rows, [{ n: 1, big: Number.MAX_SAFE_INTEGER, small: 7 }]);
        const account = await makeAccount(db());
        const [id] = await http01Ids(db(), await makeOrder(db(), account.id));
        await claim(db(), id!, T0, at(60));
        assert.equal((await challengeById(db(), id!))!.attempts, 1);
      });

      test('timestamps come back as Date, equal to what was written', async () => {
        const account = await makeAccount(db());
        const stored = (await accountById(db(), account.id))!;
        assert.ok(stored.createdAt instanceof Date);
        assert.equal(stored.createdAt.toISOString(), T0.toISOString());
        const order = (await orderById(db(), (await makeOrder(db(), account.id, ['t.attestca.test'], { expiresAt: at(3.5) })).id))!;
        assert.ok(order.expiresAt instanceof Date);
        assert.equal(order.expiresAt.getTime(), at(3.5).getTime());
        assert.equal(order.notBefore, null);
        const authz = (await authorizationById(db(), order.authzIds[0]!))!;
        assert.ok(authz.expiresAt instanceof Date);
      });

      test('rowCount counts the rows a SELECT returned, as pg does', async () => {
        const { rows, rowCount } = await db().query('SELECT g FROM generate_series(1, 3) AS g');
        assert.equal(rows.length, 3);
        assert.equal(rowCount, 3);
        assert.equal((await db().transaction((tx) => tx.query('SELECT 1 UNION ALL SELECT 2'))).rowCount, 2);
        const nonce = newId();
        await redeemNonce(db(), nonce, at(60));
        assert.equal((await db().query('DELETE FROM redeemed_nonces WHERE nonce = $1 RETURNING nonce', [nonce])).rowCount, 1);
        assert.equal((await db().query('DELETE FROM redeemed_nonces WHERE nonce = $1', [nonce])).rowCount, 0);
      });
    });
  });
}
