// Many orders at once against the real Postgres server: 50 concurrent full flows on one account
// (the case that breaks step-ca's key-value index, smallstep/certificates#341) and 50 on 50
// accounts. No request may fail and every order must end valid with its own certificate.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { TestAcmeClient } from './helpers/acme.js';
import { startTestDns, type TestDns } from './helpers/dns.js';
import { issueCertificate } from './helpers/flow.js';
import { startHttp01Responder } from './helpers/net.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const N = 50;

describe('concurrent issuance on Postgres', () => {
  let dns: TestDns;
  let responder: Awaited<ReturnType<typeof startHttp01Responder>>;
  let server: TestServer;
  const names = Array.from({ length: N }, (_, i) => `host${i}.attestca.test`);

  before(async () => {
    dns = await startTestDns(Object.fromEntries(names.map((n) => [n, '127.0.0.1'])));
    responder = await startHttp01Responder();
    // Every account here comes from 127.0.0.1: more than limits.accountsPerIp lets one address make.
    server = await startTestServer({ backend: 'postgres', dnsServer: dns.server, http01Port: responder.port, configYaml: 'limits: { accountsPerIp: { count: 0 } }\n' });
  });
  after(async () => {
    await server.stop();
    await responder.close();
    await dns.close();
  });

  const checkResults = (results: Awaited<ReturnType<typeof issueCertificate>>[]) => {
    const serials = new Set<string>();
    results.forEach((r, i) => {
      assert.equal(r.order.status, 'valid', `order ${i} is ${r.order.status}`);
      const leaf = new X509Certificate(r.chainPem.split(/(?=-----BEGIN CERTIFICATE-----)/)[0]!);
      assert.equal(leaf.subjectAltName, `DNS:${names[i]}`);
      serials.add(leaf.serialNumber);
    });
    assert.equal(serials.size, results.length, 'every certificate has its own serial');
  };

  test(`${N} concurrent orders on one account`, async () => {
    const client = await TestAcmeClient.connect(server.directory, server.agent);
    assert.equal((await client.newAccount()).status, 201);
    const results = await Promise.all(names.map((n) => issueCertificate(client, responder, [{ type: 'dns', value: n }])));
    checkResults(results);
  });

  test(`${N} concurrent orders on ${N} accounts`, async () => {
    const clients = await Promise.all(names.map(() => TestAcmeClient.connect(server.directory, server.agent)));
    await Promise.all(clients.map(async (c) => assert.equal((await c.newAccount()).status, 201)));
    const results = await Promise.all(clients.map((c, i) => issueCertificate(c, responder, [{ type: 'dns', value: names[i]! }])));
    checkResults(results);
  });

  test('the database holds no stuck or inconsistent state afterwards', async () => {
    const { db } = server.ctx;
    const stuck = await db.query<{ n: number }>(`SELECT count(*) AS n FROM orders WHERE status NOT IN ('valid')`);
    assert.equal(stuck.rows[0]!.n, 0);
    // Each authorization offers several challenges and one was answered: that one is valid, the
    // others stay pending; none is left processing or invalid.
    const challenges = await db.query<{ n: number }>(`SELECT count(*) AS n FROM challenges WHERE status NOT IN ('valid', 'pending')`);
    assert.equal(challenges.rows[0]!.n, 0);
    const authzs = await db.query<{ n: number }>(
      `SELECT count(*) AS n FROM authorizations a WHERE a.status <> 'valid' OR (SELECT count(*) FROM challenges c WHERE c.authz_id = a.id AND c.status = 'valid') <> 1`,
    );
    assert.equal(authzs.rows[0]!.n, 0);
    const certs = await db.query<{ n: number }>(`SELECT count(*) AS n FROM certificates WHERE order_id IS NOT NULL`);
    assert.equal(certs.rows[0]!.n, 2 * N);
    const orphans = await db.query<{ n: number }>(`SELECT count(*) AS n FROM serials s WHERE NOT EXISTS (SELECT 1 FROM certificates c WHERE c.serial = s.serial)`);
    assert.equal(orphans.rows[0]!.n, 0, 'every recorded serial has its certificate');
  });
});
