// `attestca revoke` as an operator runs it, in its own process: on Postgres beside a running server
// (OCSP says revoked at once; the server's scheduled check re-signs the CRL without anyone asking),
// and on the embedded database with the server stopped (the CRL is re-signed when it starts again).
// Every refusal exits non-zero with a message that says what to do.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TestAcmeClient } from './helpers/acme.js';
import { startTestDns, type TestDns } from './helpers/dns.js';
import { issueCertificate } from './helpers/flow.js';
import { startHttp01Responder } from './helpers/net.js';
import { fetchBinary, runTool, splitChain, type Run } from './helpers/revocation.js';
import { startTestServer, type TestServer } from './helpers/server.js';

/** The CLI in a child process, asynchronously: the server it shares a database with runs in this one. */
function cli(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { env: { PATH: process.env.PATH ?? '', HOME: os.tmpdir() } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** openssl's way of printing a serial: upper case with colons, as an operator would paste it. */
const colonSerial = (serial: string) => serial.toUpperCase().match(/../g)!.join(':');

const FAST_CRL_CHECK = 'crl:\n  checkInterval: 1s\n';

describe('attestca revoke', () => {
  let dns: TestDns;
  let responder: Awaited<ReturnType<typeof startHttp01Responder>>;
  const work = mkdtempSync(path.join(os.tmpdir(), 'attestca-cli-revoke-'));

  before(async () => {
    dns = await startTestDns({ 'cli-a.attestca.test': '127.0.0.1', 'cli-b.attestca.test': '127.0.0.1' });
    responder = await startHttp01Responder();
  });
  after(async () => {
    await responder?.close();
    await dns?.close();
    rmSync(work, { recursive: true, force: true });
  });

  const issue = async (server: TestServer, name: string) => {
    const client = await TestAcmeClient.connect(server.directory, server.agent);
    await client.newAccount();
    return splitChain((await issueCertificate(client, responder, [{ type: 'dns', value: name }])).chainPem);
  };
  const ocspText = async (server: TestServer, cert: ReturnType<typeof splitChain>) => {
    writeFileSync(path.join(work, 'leaf.pem'), cert.leafPem);
    writeFileSync(path.join(work, 'int.pem'), cert.intermediatesPem);
    writeFileSync(path.join(work, 'roots.pem'), server.rootsPem);
    const r = await runTool('openssl', ['ocsp', '-issuer', path.join(work, 'int.pem'), '-cert', path.join(work, 'leaf.pem'), '-url', `${server.baseUrl}/ocsp`, '-CAfile', path.join(work, 'roots.pem')]);
    assert.match(r.stderr, /Response verify OK/, r.stderr);
    return r.stdout;
  };
  const crlText = async (server: TestServer) => {
    const crl = await fetchBinary(`${server.baseUrl}/crl/${server.ctx.ca.issuerId}.crl`, server.agent);
    writeFileSync(path.join(work, 'now.crl'), crl.body);
    return (await runTool('openssl', ['crl', '-in', path.join(work, 'now.crl'), '-inform', 'DER', '-noout', '-text'])).stdout;
  };

  describe('on Postgres, beside a running server', () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer({ backend: 'postgres', dnsServer: dns.server, http01Port: responder.port, configYaml: FAST_CRL_CHECK });
    });
    after(async () => server?.stop());

    test('revokes by serial: OCSP says revoked at once, and the scheduled check re-signs the CRL unasked', async () => {
      const cert = await issue(server, 'cli-a.attestca.test');
      const crlBefore = (await server.ctx.db.query<{ crl_number: number }>('SELECT crl_number FROM crls')).rows[0]!.crl_number;
      const r = await cli(['revoke', '--database-url', server.databaseUrl!, '--serial', colonSerial(cert.serial), '--reason', 'keyCompromise']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`revoked ${cert.serial} \\(keyCompromise\\)`));
      const auditLine = r.stderr.split('\n').filter(Boolean).map((l) => JSON.parse(l)).find((l) => l.audit === 'revocation');
      assert.deepEqual([auditLine?.serial, auditLine?.method, auditLine?.reason], [cert.serial, 'operator', 'keyCompromise']);

      const status = await ocspText(server, cert);
      assert.match(status, /leaf\.pem: revoked/);
      assert.match(status, /Reason: keyCompromise/);

      // Nobody fetches the CRL: the server's own check (every second here) notices the stale flag.
      let row = { crl_number: crlBefore, stale: true };
      for (let i = 0; i < 100 && (row.stale || row.crl_number === crlBefore); i++) {
        await new Promise((res) => setTimeout(res, 100));
        row = (await server.ctx.db.query<{ crl_number: number; stale: boolean }>('SELECT crl_number, stale FROM crls')).rows[0]!;
      }
      assert.equal(row.stale, false);
      assert.ok(row.crl_number > crlBefore, 'a new CRL was signed');
      assert.match(await crlText(server), new RegExp(`Serial Number: ${cert.serial.toUpperCase()}\\n[^\\n]+\\n[^\\n]+\\n[^\\n]+\\n\\s+Key Compromise`));
    });

    test('refusals: unknown serial, reasons 7 and 8, no serial, already revoked; --help says when the CRL follows', async () => {
      const cert = await issue(server, 'cli-b.attestca.test');
      const db = ['--database-url', server.databaseUrl!];
      const cases: [string, string[], number, RegExp][] = [
        ['unknown serial', [...db, '--serial', '0123456789abcdef'], 1, /no certificate with serial 0123456789abcdef/],
        ['reason 7', [...db, '--serial', cert.serial, '--reason', '7'], 2, /--reason: "7" cannot be used; give one of 0 \(unspecified\)/],
        ['reason 8', [...db, '--serial', cert.serial, '--reason', 'removeFromCRL'], 2, /--reason: "removeFromCRL" cannot be used/],
        ['no serial', db, 2, /--serial HEX/],
      ];
      // Independent processes: run side by side.
      const [help, ...results] = await Promise.all([cli(['revoke', '--help']), ...cases.map(([, args]) => cli(['revoke', ...args]))]);
      results.forEach((r, i) => {
        const [what, , code, message] = cases[i]!;
        assert.equal(r.code, code, `${what}: ${r.stderr}`);
        assert.match(r.stderr, message, what);
      });
      assert.equal(help!.code, 0);
      assert.match(help!.stdout, /crl\.checkInterval/);
      assert.match(await ocspText(server, cert), /leaf\.pem: good/, 'no refusal revoked it');

      assert.equal((await cli(['revoke', ...db, '--serial', cert.serial, '--reason', '6'])).code, 0, 'operators may put a certificate on hold');
      const again = await cli(['revoke', ...db, '--serial', cert.serial]);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /already revoked/);
      assert.match(await ocspText(server, cert), /Reason: certificateHold/);
    });
  });

  test('on the embedded database: revoke with the server stopped, and the CRL lists it when the server starts again', async () => {
    const dataDir = path.join(work, 'embedded');
    let server = await startTestServer({ backend: 'pglite', dataDir, dnsServer: dns.server, http01Port: responder.port });
    let cert: ReturnType<typeof splitChain>;
    try {
      cert = await issue(server, 'cli-a.attestca.test');
    } finally {
      await server.stop();
    }
    const r = await cli(['revoke', '--data-dir', dataDir, '--serial', cert.serial, '--reason', '4']);
    assert.equal(r.code, 0, r.stderr);
    server = await startTestServer({ backend: 'pglite', dataDir });
    try {
      assert.match(await crlText(server), new RegExp(`Serial Number: ${cert.serial.toUpperCase()}\\n[^\\n]+\\n[^\\n]+\\n[^\\n]+\\n\\s+Superseded`));
      assert.match(await ocspText(server, cert), /leaf\.pem: revoked/);
      assert.equal(new X509Certificate(cert.leafDer).serialNumber.toLowerCase(), cert.serial);
    } finally {
      await server.stop();
    }
  });
});
