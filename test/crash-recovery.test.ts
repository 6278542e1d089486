// A CA that dies mid-validation or mid-issuance must lose nothing and leave nothing stuck: the
// server is killed with SIGKILL while a validation is in flight, and restarted; the validation is
// resumed, and an order left 'processing' by a crash gets its certificate.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { TestAcmeClient } from './helpers/acme.js';
import { makeCsr } from './helpers/csr.js';
import { createPostgresDatabase } from './helpers/db.js';
import { startTestDns, type TestDns } from './helpers/dns.js';
import { freePort } from './helpers/net.js';
import { startServerProcess, type ServerProcess } from './helpers/process.js';

describe('crash and restart', () => {
  let dns: TestDns;
  let dataDir: string;
  let database: Awaited<ReturnType<typeof createPostgresDatabase>>;
  let processes: ServerProcess[] = [];
  // An http-01 responder that can hold requests open, as a slow subscriber server would.
  const tokens = new Map<string, string>();
  let hold = true;
  const held: http.ServerResponse[] = [];
  let heldSeen: () => void = () => {};
  let responder: http.Server;
  let responderPort: number;
  let port: number;

  before(async () => {
    dns = await startTestDns({ 'slow.attestca.test': '127.0.0.1', 'fast.attestca.test': '127.0.0.1' });
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'attestca-crash-'));
    database = await createPostgresDatabase();
    responder = http.createServer((req, res) => {
      const token = (req.url ?? '').split('/').pop() ?? '';
      if (hold) {
        held.push(res);
        heldSeen();
        return;
      }
      const body = tokens.get(token);
      if (body) res.writeHead(200).end(body);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => responder.listen(0, '127.0.0.1', resolve));
    responderPort = (responder.address() as AddressInfo).port;
    port = await freePort();
    writeFileSync(path.join(dataDir, 'attestca.yaml'), 'acme:\n  validationLease: 2s\n  validationWait: "0"\n  http01Timeout: 60s\n');
  });
  after(async () => {
    for (const p of processes) await p.kill();
    for (const r of held) r.destroy();
    responder.closeAllConnections();
    await new Promise((resolve) => responder.close(resolve));
    await dns.close();
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const start = async () => {
    const p = startServerProcess([
      '--config', path.join(dataDir, 'attestca.yaml'),
      '--data-dir', dataDir,
      '--database-url', database.url,
      '--listen', `127.0.0.1:${port}`,
      '--http01-port', String(responderPort),
      '--dns-server', dns.server,
    ]);
    processes.push(p);
    await p.waitForLog(/attestca is serving/);
    return p;
  };

  test('a validation in flight when the server is killed is finished after restart; a crashed issuance completes', async () => {
    const first = await start();
    const agent1 = new https.Agent({ ca: (await import('node:fs')).readFileSync(path.join(dataDir, 'ca', 'roots.pem'), 'utf8') });
    const client = await TestAcmeClient.connect(`https://localhost:${port}/directory`, agent1);
    assert.equal((await client.newAccount()).status, 201);

    // Order 1: its validation will be in flight when the server dies.
    const o1 = await client.newOrder([{ type: 'dns', value: 'slow.attestca.test' }]);
    const authz1 = (await client.post(o1.json.authorizations[0], '')).json;
    const ch1 = authz1.challenges.find((c: { type: string }) => c.type === 'http-01');
    tokens.set(ch1.token, client.keyAuthorization(ch1.token));
    const seen = new Promise<void>((resolve) => (heldSeen = resolve));
    const answered = await client.post(ch1.url, {});
    assert.equal(answered.json.status, 'processing');
    await seen; // the validator is connected and waiting for our answer

    // Order 2: ready; we leave the database as a crash between "processing" and signing would.
    hold = false;
    const o2 = await client.newOrder([{ type: 'dns', value: 'fast.attestca.test' }]);
    const authz2 = (await client.post(o2.json.authorizations[0], '')).json;
    const ch2 = authz2.challenges.find((c: { type: string }) => c.type === 'http-01');
    tokens.set(ch2.token, client.keyAuthorization(ch2.token));
    await client.post(ch2.url, {});
    await client.poll(o2.headers.location as string);
    hold = true;

    await first.kill('SIGKILL');
    for (const r of held.splice(0)) r.destroy();
    hold = false;

    const { der } = await makeCsr({ dns: ['fast.attestca.test'] });
    const sql = new pg.Client({ connectionString: database.url });
    await sql.connect();
    const orderId = (o2.headers.location as string).split('/').pop();
    const crashed = await sql.query(`UPDATE orders SET status = 'processing', csr = $2, lease_until = now() - interval '1 second' WHERE id = $1 AND status = 'ready'`, [orderId, der]);
    assert.equal(crashed.rowCount, 1);
    const before = await sql.query(`SELECT status FROM challenges WHERE id = $1`, [ch1.url.split('/').pop()]);
    assert.equal(before.rows[0].status, 'processing', 'the killed server left the validation processing');

    await start();
    const agent2 = new https.Agent({ ca: (await import('node:fs')).readFileSync(path.join(dataDir, 'ca', 'roots.pem'), 'utf8') });
    const again = await TestAcmeClient.connect(`https://localhost:${port}/directory`, agent2, 'ES256', client.key);
    again.kid = client.kid;
    again.thumbprint = client.thumbprint;

    const order1 = await again.poll(o1.headers.location as string, (s) => s !== 'pending', 30_000);
    assert.equal(order1.status, 'ready', 'the interrupted validation was resumed and succeeded');
    const order2 = await again.poll(o2.headers.location as string, (s) => s !== 'processing', 30_000);
    assert.equal(order2.status, 'valid', 'the interrupted issuance was completed');
    const cert = await again.post(order2.certificate, '');
    assert.equal(cert.status, 200);
    assert.match(cert.text, /BEGIN CERTIFICATE/);

    const stuck = await sql.query(`SELECT (SELECT count(*) FROM orders WHERE status = 'processing') + (SELECT count(*) FROM challenges WHERE status = 'processing') AS n`);
    assert.equal(Number(stuck.rows[0].n), 0);
    await sql.end();
    agent1.destroy();
    agent2.destroy();
  });

  test('the embedded database keeps accounts across a hard kill', async () => {
    const pgliteDir = mkdtempSync(path.join(os.tmpdir(), 'attestca-pglite-'));
    const p2 = await freePort();
    const args = ['--data-dir', pgliteDir, '--listen', `127.0.0.1:${p2}`];
    const first = startServerProcess(args);
    processes.push(first);
    await first.waitForLog(/attestca is serving/);
    const agent = new https.Agent({ ca: (await import('node:fs')).readFileSync(path.join(pgliteDir, 'ca', 'roots.pem'), 'utf8') });
    const client = await TestAcmeClient.connect(`https://localhost:${p2}/directory`, agent);
    const created = await client.newAccount();
    assert.equal(created.status, 201);
    await first.kill('SIGKILL');

    const second = startServerProcess(args);
    processes.push(second);
    await second.waitForLog(/attestca is serving/);
    const again = await TestAcmeClient.connect(`https://localhost:${p2}/directory`, agent, 'ES256', client.key);
    const found = await again.post(again.dir.newAccount, { onlyReturnExisting: true }, { useJwk: true });
    assert.equal(found.status, 200);
    assert.equal(found.headers.location, created.headers.location);
    await second.kill('SIGTERM');
    agent.destroy();
    rmSync(pgliteDir, { recursive: true, force: true });
  });
});
