// Several stateless instances on one Postgres database: they start together (one migrates),
// share nonces (issued by one, redeemed by another, never twice), and carry one order between them.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { TestAcmeClient } from './helpers/acme.js';
import { createPostgresDatabase } from './helpers/db.js';
import { startTestDns, type TestDns } from './helpers/dns.js';
import { issueCertificate } from './helpers/flow.js';
import { buildJws, es256 } from './helpers/jws.js';
import { startHttp01Responder } from './helpers/net.js';
import { assertProblem } from './helpers/problem.js';
import { startTestServer, type TestServer } from './helpers/server.js';

describe('two instances on one Postgres database', () => {
  let dns: TestDns;
  let responder: Awaited<ReturnType<typeof startHttp01Responder>>;
  let database: Awaited<ReturnType<typeof createPostgresDatabase>>;
  let a: TestServer;
  let b: TestServer;

  before(async () => {
    dns = await startTestDns({ 'shared.attestca.test': '127.0.0.1' });
    responder = await startHttp01Responder();
    database = await createPostgresDatabase();
    a = await startTestServer({ backend: 'postgres', databaseUrl: database.url, dnsServer: dns.server, http01Port: responder.port });
    // Both share the data directory's CA, as instances behind one load balancer would.
    b = await startTestServer({ backend: 'postgres', databaseUrl: database.url, dataDir: a.dataDir, dnsServer: dns.server, http01Port: responder.port });
  });
  after(async () => {
    await b.stop();
    await a.stop();
    await database.drop();
    await responder.close();
    await dns.close();
  });

  test('the schema was migrated exactly once', async () => {
    const { rows } = await a.ctx.db.query<{ version: number; n: number }>('SELECT version, count(*) AS n FROM schema_migrations GROUP BY version');
    assert.ok(rows.length >= 1);
    for (const r of rows) assert.equal(r.n, 1);
  });

  test('a nonce issued by one instance is redeemed by the other, and only once', async () => {
    const onA = await TestAcmeClient.connect(a.directory, a.agent);
    const nonce = await onA.nonce();
    const onB = await TestAcmeClient.connect(b.directory, b.agent, 'ES256', onA.key);
    const created = await onB.post(onB.dir.newAccount, { termsOfServiceAgreed: true }, { useJwk: true, nonce });
    assert.equal(created.status, 201, created.text);
    const replayed = await onA.post(onA.dir.newAccount, { termsOfServiceAgreed: true }, { useJwk: true, nonce });
    assert.equal(replayed.status, 400);
    assert.equal(replayed.json.type, 'urn:ietf:params:acme:error:badNonce');
  });

  test('concurrent redemptions of one nonce on both instances: exactly one succeeds', async () => {
    const onA = await TestAcmeClient.connect(a.directory, a.agent);
    const onB = await TestAcmeClient.connect(b.directory, b.agent, 'ES256', onA.key);
    const nonce = await onA.nonce();
    const results = await Promise.all([
      ...Array.from({ length: 5 }, () => onA.post(onA.dir.newAccount, { termsOfServiceAgreed: true }, { useJwk: true, nonce })),
      ...Array.from({ length: 5 }, () => onB.post(onB.dir.newAccount, { termsOfServiceAgreed: true }, { useJwk: true, nonce })),
    ]);
    const ok = results.filter((r) => r.status === 201 || r.status === 200);
    assert.equal(ok.length, 1, results.map((r) => `${r.status} ${r.json?.type ?? ''}`).join(', '));
    for (const r of results.filter((x) => x.status >= 400)) assert.equal(r.json.type, 'urn:ietf:params:acme:error:badNonce');
  });

  test('an order created on one instance is validated, finalized and downloaded on the other', async () => {
    const onA = await TestAcmeClient.connect(a.directory, a.agent);
    assert.equal((await onA.newAccount()).status, 201);
    const onB = await TestAcmeClient.connect(b.directory, b.agent, 'ES256', onA.key);
    // Account URLs name the configured base URL; each test instance has its own port, so the
    // second client signs with the account URL of its own instance.
    onB.kid = onA.kid!.replace(a.baseUrl, b.baseUrl);
    const order = await onA.newOrder([{ type: 'dns', value: 'shared.attestca.test' }]);
    const authz = (await onB.post(order.json.authorizations[0].replace(a.baseUrl, b.baseUrl), '')).json;
    const ch = authz.challenges.find((c: { type: string }) => c.type === 'http-01');
    responder.set(ch.token, onB.keyAuthorization(ch.token));
    await onB.post(ch.url, {});
    const ready = await onA.poll(order.headers.location as string);
    assert.equal(ready.status, 'ready');
    const result = await issueCertificate(onB, responder, [{ type: 'dns', value: 'shared.attestca.test' }]);
    assert.equal(result.order.status, 'valid');
  });

  test('a key rolled over on one instance is the only key the other accepts, though it had the old one cached', async () => {
    const onA = await TestAcmeClient.connect(a.directory, a.agent);
    assert.equal((await onA.newAccount()).status, 201);
    const onB = await TestAcmeClient.connect(b.directory, b.agent, 'ES256', onA.key);
    onB.kid = onA.kid!.replace(a.baseUrl, b.baseUrl);
    assert.equal((await onB.post(onB.kid, '')).status, 200, 'B has now imported and cached the old key');

    const newKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const newJwk = createPublicKey(newKey).export({ format: 'jwk' });
    const inner = buildJws({ alg: 'ES256', jwk: newJwk, url: onA.dir.keyChange }, { account: onA.kid, oldKey: onA.jwk }, es256(newKey));
    const rolled = await onA.post(onA.dir.keyChange as string, inner);
    assert.equal(rolled.status, 200, rolled.text);

    assertProblem(await onB.post(onB.kid, ''), 'malformed', 400); // the old key, from B's cache: refused
    const movedB = await TestAcmeClient.connect(b.directory, b.agent, 'ES256', newKey);
    movedB.kid = onB.kid;
    const read = await movedB.post(movedB.kid, '');
    assert.equal(read.status, 200, read.text);
    assert.deepEqual(read.json.key, newJwk);
  });
});
