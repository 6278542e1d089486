// Rate limits (config `limits`, RFC 8555 §6.6) over real HTTPS: each one answers rateLimited
// (429) with a Retry-After once exceeded and allows again after its window (pinned clock), and
// they hold across two instances sharing one Postgres database.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fixedClock } from '../src/clock.js';
import { recoverInterrupted } from '../src/ra/recovery.js';
import { TestAcmeClient } from './helpers/acme.js';
import { makeCsr } from './helpers/csr.js';
import { createPostgresDatabase } from './helpers/db.js';
import { startTestDns, type TestDns } from './helpers/dns.js';
import { issueCertificate } from './helpers/flow.js';
import { startHttp01Responder } from './helpers/net.js';
import { assertProblem } from './helpers/problem.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const HOUR = 3_600_000;
const dns = (value: string) => ({ type: 'dns', value });

/** A 429 rateLimited naming `limit`, whose Retry-After is `seconds` (or within 1..max). */
function assertRateLimited(r: Parameters<typeof assertProblem>[0], limit: string, seconds: number | { max: number }): number {
  const p = assertProblem(r, 'rateLimited', 429);
  assert.match(p.detail, new RegExp(`limits\\.${limit}`));
  const retryAfter = Number(r.headers['retry-after']);
  assert.ok(Number.isInteger(retryAfter), `Retry-After is delay-seconds (RFC 9110 §10.2.3): ${r.headers['retry-after']}`);
  if (typeof seconds === 'number') assert.equal(retryAfter, seconds);
  else assert.ok(retryAfter >= 1 && retryAfter <= seconds.max, `Retry-After ${retryAfter} within 1..${seconds.max}`);
  return retryAfter;
}

describe('rate limits on one instance', () => {
  // Ten minutes into an hour-aligned window, in the past so that certificates are valid now.
  const start = Math.floor(Date.now() / HOUR) * HOUR - HOUR + 10 * 60_000;
  const clock = fixedClock(new Date(start));
  let dnsServer: TestDns;
  let responder: Awaited<ReturnType<typeof startHttp01Responder>>;
  let server: TestServer;

  before(async () => {
    dnsServer = await startTestDns({ 'limited.attestca.test': '127.0.0.1' });
    responder = await startHttp01Responder();
    server = await startTestServer({
      backend: 'pglite',
      clock,
      dnsServer: dnsServer.server,
      http01Port: responder.port,
      configYaml: `
limits:
  ordersPerAccount: { count: 3, window: 1h }
  accountsPerIp: { count: 2, window: 1h }
  certificatesPerName: { count: 2, window: 1h }
  pendingAuthorizationsPerAccount: 3
acme:
  validationWait: "0"
`,
    });
  });
  after(async () => {
    await server?.stop();
    await responder?.close();
    await dnsServer?.close();
  });

  test('accountsPerIp: the third new account from one address waits for the next window; lookups are not counted', async () => {
    clock.set(new Date(start));
    const first = await TestAcmeClient.connect(server.directory, server.agent);
    assert.equal((await first.newAccount()).status, 201);
    assert.equal((await (await TestAcmeClient.connect(server.directory, server.agent)).newAccount()).status, 201);
    const third = await TestAcmeClient.connect(server.directory, server.agent);
    assertRateLimited(await third.newAccount(), 'accountsPerIp', 50 * 60);
    // RFC 8555 §7.3.1: finding an existing account creates nothing and takes no slot.
    assert.equal((await first.newAccount()).status, 200);
    clock.advance(50 * 60_000);
    assert.equal((await third.newAccount()).status, 201);
  });

  test('ordersPerAccount: the fourth order in a window is refused until the window ends', async () => {
    clock.set(new Date(start + 2 * HOUR));
    const client = await TestAcmeClient.connect(server.directory, server.agent);
    assert.equal((await client.newAccount()).status, 201);
    for (let i = 0; i < 3; i++) {
      const r = await client.newOrder([dns(`o${i}.attestca.test`)]);
      assert.equal(r.status, 201, r.text);
      // Keep the pending-authorization cap out of this test.
      const authz = r.json.authorizations[0] as string;
      assert.equal((await client.post(authz, { status: 'deactivated' })).status, 200);
    }
    clock.advance(20 * 60_000);
    // 30 minutes into the window: the window frees its slots in 30 minutes.
    assertRateLimited(await client.newOrder([dns('o3.attestca.test')]), 'ordersPerAccount', 30 * 60);
    // Another account has its own count.
    const other = await TestAcmeClient.connect(server.directory, server.agent);
    assert.equal((await other.newAccount()).status, 201);
    assert.equal((await other.newOrder([dns('other.attestca.test')])).status, 201);
    clock.advance(30 * 60_000);
    assert.equal((await client.newOrder([dns('o3.attestca.test')])).status, 201);
  });

  test('the sweeper drops the counters of windows that have ended, and only those', async () => {
    clock.set(new Date(start + 3 * HOUR));
    const client = await TestAcmeClient.connect(server.directory, server.agent);
    assert.equal((await client.newAccount()).status, 201);
    const r = await client.newOrder([dns('sweep.attestca.test')]);
    assert.equal(r.status, 201, r.text);
    assert.equal((await client.post(r.json.authorizations[0] as string, { status: 'deactivated' })).status, 200);
    const live = async () => (await server.ctx.db.query<{ n: number }>(`SELECT count(*) AS n FROM rate_limits WHERE window_start >= $1`, [new Date(start + 3 * HOUR - 10 * 60_000)])).rows[0]!.n;
    const old = async () => (await server.ctx.db.query<{ n: number }>(`SELECT count(*) AS n FROM rate_limits WHERE window_start < $1`, [new Date(start + 3 * HOUR - 10 * 60_000)])).rows[0]!.n;
    // A counter of a window long over (the background sweep may beat this test to it; either way it goes).
    await server.ctx.db.query(`INSERT INTO rate_limits (key, window_start, count) VALUES ('ordersPerAccount:gone', $1, 3)`, [new Date(start - 5 * HOUR)]);
    const liveBefore = await live();
    assert.ok(liveBefore >= 2, 'this account and its order hold a slot each');
    await recoverInterrupted(server.ctx);
    assert.equal(await old(), 0);
    assert.equal(await live(), liveBefore);
  });

  test('pendingAuthorizationsPerAccount: counted at newOrder and newAuthz; deactivating one frees a place', async () => {
    clock.set(new Date(start + 4 * HOUR));
    const client = await TestAcmeClient.connect(server.directory, server.agent);
    assert.equal((await client.newAccount()).status, 201);
    const order = await client.newOrder([dns('p1.attestca.test'), dns('p2.attestca.test')]);
    assert.equal(order.status, 201, order.text);
    const pre = await client.post(client.dir.newAuthz as string, { identifier: dns('p3.attestca.test') });
    assert.equal(pre.status, 201, pre.text);
    // The authorizations expire after acme.authzLifetime (7d): that is when a place frees itself.
    assertRateLimited(await client.newOrder([dns('p4.attestca.test')]), 'pendingAuthorizationsPerAccount', 7 * 24 * 3600);
    assertRateLimited(await client.post(client.dir.newAuthz as string, { identifier: dns('p4.attestca.test') }), 'pendingAuthorizationsPerAccount', 7 * 24 * 3600);
    assert.equal((await client.post(pre.headers.location as string, { status: 'deactivated' })).status, 200);
    assert.equal((await client.newOrder([dns('p4.attestca.test')])).status, 201);
  });

  test('certificatesPerName: the third certificate for a name in a window is refused at finalize', async () => {
    clock.set(new Date(start + 6 * HOUR));
    const client = await TestAcmeClient.connect(server.directory, server.agent);
    assert.equal((await client.newAccount()).status, 201);
    const name = [dns('limited.attestca.test')];
    await issueCertificate(client, responder, name);
    // The valid authorization is reused (RFC 8555 §7.1.3): later orders are ready at once.
    const finalizeNew = async () => {
      const order = await client.newOrder(name);
      assert.equal(order.status, 201, order.text);
      assert.equal(order.json.status, 'ready');
      const { b64url } = await makeCsr({ dns: ['limited.attestca.test'] });
      return { order, fin: await client.post(order.json.finalize, { csr: b64url }) };
    };
    assert.equal((await finalizeNew()).fin.status, 200);
    const refused = await finalizeNew();
    assertRateLimited(refused.fin, 'certificatesPerName', 50 * 60);
    assert.match(refused.fin.json.detail, /dns:limited\.attestca\.test/);
    // The refused order stays ready: the client retries the same order after Retry-After.
    assert.equal((await client.post(refused.order.headers.location as string, '')).json.status, 'ready');
    clock.advance(HOUR);
    const { b64url } = await makeCsr({ dns: ['limited.attestca.test'] });
    const retried = await client.post(refused.order.json.finalize, { csr: b64url });
    assert.equal(retried.status, 200, retried.text);
  });
});

describe('rate limits across two instances on one Postgres database', () => {
  let database: Awaited<ReturnType<typeof createPostgresDatabase>>;
  let a: TestServer;
  let b: TestServer;
  const LIMITS = `
limits:
  ordersPerAccount: { count: 5, window: 1h }
  accountsPerIp: { count: 4, window: 1h }
`;

  before(async () => {
    database = await createPostgresDatabase();
    a = await startTestServer({ backend: 'postgres', databaseUrl: database.url, configYaml: LIMITS });
    b = await startTestServer({ backend: 'postgres', databaseUrl: database.url, dataDir: a.dataDir, configYaml: LIMITS });
  });
  after(async () => {
    await b?.stop();
    await a?.stop();
    await database?.drop();
  });

  test('ordersPerAccount trips at the configured count in total, even when both instances race', async () => {
    const onA = await TestAcmeClient.connect(a.directory, a.agent);
    assert.equal((await onA.newAccount()).status, 201);
    const onB = await TestAcmeClient.connect(b.directory, b.agent, 'ES256', onA.key);
    onB.kid = onA.kid!.replace(a.baseUrl, b.baseUrl);
    const sequential: number[] = [];
    for (let i = 0; i < 3; i++) sequential.push((await (i % 2 === 0 ? onA : onB).newOrder([dns(`seq${i}.attestca.test`)])).status);
    assert.deepEqual(sequential, [201, 201, 201]);
    const raced = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? onA : onB).newOrder([dns(`race${i}.attestca.test`)])));
    const statuses = raced.map((r) => r.status);
    assert.equal(statuses.filter((s) => s === 201).length, 2, statuses.join(','));
    for (const r of raced.filter((x) => x.status !== 201)) assertRateLimited(r, 'ordersPerAccount', { max: 3600 });
    const { rows } = await b.ctx.db.query<{ count: number }>(`SELECT count FROM rate_limits WHERE key = $1`, [`ordersPerAccount:${onA.kid!.split('/').at(-1)}`]);
    assert.deepEqual(rows, [{ count: 5 }]);
  });
  test('accountsPerIp trips at the configured count in total, alternating instances', async () => {
    // The test above created one account from this address already: three more fit in the four.
    const results: number[] = [];
    for (let i = 0; i < 5; i++) {
      const s = i % 2 === 0 ? a : b;
      results.push((await (await TestAcmeClient.connect(s.directory, s.agent)).newAccount()).status);
    }
    assert.deepEqual(results, [201, 201, 201, 429, 429]);
  });

});
