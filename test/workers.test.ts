// `serve --workers N`: several processes on one socket and one Postgres database; requests are
// spread over them, a nonce issued by one is redeemed by another, and a dead worker is replaced.
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { TestAcmeClient } from './helpers/acme.js';
import { createPostgresDatabase } from './helpers/db.js';
import { startTestDns } from './helpers/dns.js';
import { issueCertificate } from './helpers/flow.js';
import { freePort, startHttp01Responder } from './helpers/net.js';
import { startServerProcess, type ServerProcess } from './helpers/process.js';

const cleanup: (() => Promise<unknown> | void)[] = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});

test('two worker processes serve one directory, share nonces, and a killed worker is replaced', async () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'attestca-workers-'));
  cleanup.push(() => rmSync(dataDir, { recursive: true, force: true }));
  const database = await createPostgresDatabase();
  cleanup.push(database.drop);
  const dns = await startTestDns(Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`w${i}.attestca.test`, '127.0.0.1'])));
  cleanup.push(dns.close);
  const responder = await startHttp01Responder();
  cleanup.push(responder.close);
  const port = await freePort();
  const server: ServerProcess = startServerProcess([
    '--workers', '2', '--database-url', database.url, '--data-dir', dataDir, '--listen', `127.0.0.1:${port}`,
    '--http01-port', String(responder.port), '--dns-server', dns.server,
  ]);
  cleanup.push(() => server.kill('SIGTERM'));
  await server.waitForLog(/started worker processes/);
  const serving = async (n: number) => {
    for (let i = 0; i < 200 && server.logs.filter((l) => l.includes('attestca is serving')).length < n; i++) await new Promise((r) => setTimeout(r, 100));
    return server.logs.filter((l) => l.includes('attestca is serving')).map((l) => JSON.parse(l).pid as number);
  };
  const pids = await serving(2);
  assert.equal(new Set(pids).size, 2, 'two worker processes');

  const agent = new https.Agent({ ca: readFileSync(path.join(dataDir, 'ca', 'roots.pem'), 'utf8'), keepAlive: false });
  cleanup.push(() => agent.destroy());
  const client = await TestAcmeClient.connect(`https://localhost:${port}/directory`, agent);
  assert.equal((await client.newAccount()).status, 201);
  for (let i = 0; i < 3; i++) {
    const r = await issueCertificate(client, responder, [{ type: 'dns', value: `w${i}.attestca.test` }]);
    assert.equal(r.order.status, 'valid');
  }
  // Without keep-alive every request is a new connection, handed out round-robin: both workers
  // served, and nonces from one were redeemed by the other without a single badNonce.
  const requests = server.logs.filter((l) => l.includes('"msg":"request"')).map((l) => JSON.parse(l));
  assert.deepEqual(new Set(requests.map((r) => r.pid)), new Set(pids));
  assert.equal(requests.filter((r) => r.problem === 'badNonce').length, 0);

  process.kill(pids[0]!, 'SIGKILL');
  await server.waitForLog(/worker died; starting another/);
  const after = await serving(3);
  assert.equal(after.length, 3, 'a third worker came up');
  const r = await issueCertificate(client, responder, [{ type: 'dns', value: 'w5.attestca.test' }]);
  assert.equal(r.order.status, 'valid');
});

test('more than one worker without Postgres is a configuration error', async () => {
  const p = startServerProcess(['--workers', '2', '--data-dir', path.join(os.tmpdir(), 'never-attestca')]);
  await p.waitForLog(/workers: 2 processes need a Postgres server/);
  assert.equal(await p.kill('SIGTERM') ?? 2, 2);
});
