// certbot (the Debian package) answering dns-01 for a wildcard and its base name, on both storage
// backends. certbot's manual plugin runs our auth hook, which puts the TXT value into the test DNS
// responder through its control endpoint, and our cleanup hook, which takes it out again. certbot
// trusts this CA through REQUESTS_CA_BUNDLE. (tls-alpn-01 cannot be driven by certbot: its
// standalone plugin answers http-01 only, see `certbot --help standalone`.)
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createResolver } from '../src/va/resolver.js';
import { backends } from './helpers/db.js';
import { startTestDns, type TestDns } from './helpers/dns.js';
import { opensslSans, opensslVerify } from './helpers/openssl.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const CERTBOT = '/usr/bin/certbot';
const CHILD_TIMEOUT_MS = 90_000;
const BASE = 'cb.attestca.test';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { encoding: 'utf8', timeout: CHILD_TIMEOUT_MS, killSignal: 'SIGKILL', env, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      resolve({ code, stdout, stderr: err && code === null ? `${stderr}\n[${err.message}]` : stderr });
    });
  });
}

/**
 * A certbot hook: certbot passes CERTBOT_DOMAIN (for a wildcard, the base name) and
 * CERTBOT_VALIDATION (the TXT value) in the environment; the hook POSTs or DELETEs the record.
 */
function writeHook(file: string, control: string, method: 'POST' | 'DELETE'): void {
  writeFileSync(
    file,
    `const name = '_acme-challenge.' + process.env.CERTBOT_DOMAIN;
const url = ${JSON.stringify(control)} + '/txt?name=' + encodeURIComponent(name) + '&value=' + encodeURIComponent(process.env.CERTBOT_VALIDATION);
const res = await fetch(url, { method: ${JSON.stringify(method)} });
if (res.status !== 204) { console.error('control endpoint answered ' + res.status); process.exit(1); }
`,
  );
}

for (const backend of backends) {
  describe(`certbot --manual --preferred-challenges dns against attestca on ${backend}`, () => {
    let dns: TestDns;
    let server: TestServer;
    let dir: string;

    before(async () => {
      dns = await startTestDns({});
      server = await startTestServer({ backend, dnsServer: dns.server });
      dir = mkdtempSync(path.join(os.tmpdir(), 'attestca-certbot-dns-'));
      writeFileSync(path.join(dir, 'roots.pem'), server.rootsPem);
      writeHook(path.join(dir, 'auth-hook.mjs'), dns.control, 'POST');
      writeHook(path.join(dir, 'cleanup-hook.mjs'), dns.control, 'DELETE');
    });
    after(async () => {
      if (dir) rmSync(dir, { recursive: true, force: true });
      await server?.stop();
      await dns?.close();
    });

    test('a certificate for *.name and name, both by dns-01 through hooks; openssl accepts it; the records are cleaned up', async () => {
      const hook = (name: string) => `${process.execPath} ${path.join(dir, name)}`;
      const r = await run(
        CERTBOT,
        [
          'certonly',
          '--config-dir', path.join(dir, 'config'),
          '--work-dir', path.join(dir, 'work'),
          '--logs-dir', path.join(dir, 'logs'),
          '--non-interactive',
          '--manual', '--preferred-challenges', 'dns',
          '--manual-auth-hook', hook('auth-hook.mjs'),
          '--manual-cleanup-hook', hook('cleanup-hook.mjs'),
          '--server', server.directory,
          '--agree-tos', '-m', 'ops@attestca.test',
          '--cert-name', 'wild',
          '-d', `*.${BASE}`, '-d', BASE,
        ],
        { ...process.env, REQUESTS_CA_BUNDLE: path.join(dir, 'roots.pem') },
      );
      const log = path.join(dir, 'logs', 'letsencrypt.log');
      const tail = existsSync(log) ? readFileSync(log, 'utf8').split('\n').slice(-60).join('\n') : '(no log)';
      assert.equal(r.code, 0, `certbot exited ${r.code}\n${r.stderr}\n${r.stdout}\n--- log ---\n${tail}`);

      const live = (f: string) => readFileSync(path.join(dir, 'config', 'live', 'wild', f), 'utf8');
      assert.match(opensslVerify(server.rootsPem, live('fullchain.pem')), /leaf\.pem: OK/);
      assert.deepEqual(opensslSans(live('cert.pem')), [`DNS:*.${BASE}`, `DNS:${BASE}`]);
      // Both authorizations were answered at the one validation name, and the cleanup hook ran.
      assert.equal(dns.queries.filter((q) => q === `TXT _acme-challenge.${BASE}`).length, 2);
      assert.deepEqual(await createResolver(dns.server, 1000).txt(`_acme-challenge.${BASE}`), []);
    });
  });
}
