// End to end with the real certbot (the Debian package) over real HTTPS and real http-01
// validation, on both storage backends. Certbot answers http-01 itself (--standalone) on a
// loopback port that the server is told to validate against, and trusts this CA through
// REQUESTS_CA_BUNDLE, never --no-verify-ssl. Every issued chain is checked with `openssl verify`.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { backends } from './helpers/db.js';
import { startTestDns, type TestDns } from './helpers/dns.js';
import { freePort } from './helpers/net.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const CERTBOT = '/usr/bin/certbot';
const NAMES = ['web1.attestca.test', 'web2.attestca.test'];
/** Every child process stops by itself: a hung certbot fails the test instead of the suite. */
const CHILD_TIMEOUT_MS = 90_000;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], env?: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { encoding: 'utf8', timeout: CHILD_TIMEOUT_MS, killSignal: 'SIGKILL', env, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      resolve({ code, stdout, stderr: err && code === null ? `${stderr}\n[${err.message}]` : stderr });
    });
  });
}

async function openssl(args: string[]): Promise<string> {
  const r = await run('openssl', args);
  assert.equal(r.code, 0, `openssl ${args.join(' ')} failed:\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** One certbot installation: its config, work and logs directories and the CA it trusts. */
class Certbot {
  readonly dir = mkdtempSync(path.join(os.tmpdir(), 'attestca-certbot-'));
  readonly caBundle = path.join(this.dir, 'roots.pem');

  constructor(
    private readonly server: TestServer,
    private readonly http01Port: number,
  ) {
    writeFileSync(this.caBundle, server.rootsPem);
  }

  private common(): string[] {
    return [
      '--config-dir', path.join(this.dir, 'config'),
      '--work-dir', path.join(this.dir, 'work'),
      '--logs-dir', path.join(this.dir, 'logs'),
      '--non-interactive',
    ];
  }

  /** `certbot certonly --standalone` for NAMES under `certName`. */
  certonly(certName: string, extra: string[]): Promise<Run> {
    return this.exec([
      'certonly', ...this.common(),
      '--standalone', '--preferred-challenges', 'http',
      '--http-01-port', String(this.http01Port), '--http-01-address', '127.0.0.1',
      '--server', this.server.directory,
      '--agree-tos', '-m', 'ops@attestca.test',
      '--cert-name', certName,
      ...NAMES.flatMap((n) => ['-d', n]),
      ...extra,
    ]);
  }

  /** `certbot renew`: everything (server, port, key type) comes from the stored renewal config. */
  renew(certName: string, extra: string[]): Promise<Run> {
    return this.exec(['renew', ...this.common(), '--cert-name', certName, '--no-random-sleep-on-renew', ...extra]);
  }

  private exec(args: string[]): Promise<Run> {
    // REQUESTS_CA_BUNDLE is how certbot (python-requests) is told which roots to trust.
    return run(CERTBOT, args, { ...process.env, REQUESTS_CA_BUNDLE: this.caBundle });
  }

  live(certName: string, file: 'cert.pem' | 'chain.pem' | 'fullchain.pem' | 'privkey.pem'): string {
    return path.join(this.dir, 'config', 'live', certName, file);
  }

  accounts(): string[] {
    const root = path.join(this.dir, 'config', 'accounts');
    if (!existsSync(root)) return [];
    // accounts/<server host:port>/directory/<account id>
    return readdirSync(root, { recursive: true, withFileTypes: true })
      .filter((d) => d.isFile() && d.name === 'regr.json')
      .map((d) => path.basename(d.parentPath));
  }

  /** What a failed run printed, and the end of certbot's own log, for the assertion message. */
  explain(r: Run): string {
    const log = path.join(this.dir, 'logs', 'letsencrypt.log');
    const tail = existsSync(log) ? readFileSync(log, 'utf8').split('\n').slice(-60).join('\n') : '(no log file)';
    return `certbot exited ${r.code}\n--- stderr ---\n${r.stderr}\n--- stdout ---\n${r.stdout}\n--- tail of ${log} ---\n${tail}`;
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** `openssl verify` of the files certbot wrote, against the CA's roots only. */
async function verifyLive(bot: Certbot, certName: string): Promise<void> {
  const out = await openssl(['verify', '-CAfile', bot.caBundle, '-untrusted', bot.live(certName, 'chain.pem'), bot.live(certName, 'cert.pem')]);
  assert.match(out, /cert\.pem: OK/);
  // fullchain.pem is the leaf followed by chain.pem, as servers are configured with it.
  const full = readFileSync(bot.live(certName, 'fullchain.pem'), 'utf8');
  assert.equal(full, readFileSync(bot.live(certName, 'cert.pem'), 'utf8') + readFileSync(bot.live(certName, 'chain.pem'), 'utf8'));
}

async function sans(certFile: string): Promise<string[]> {
  const out = await openssl(['x509', '-in', certFile, '-noout', '-ext', 'subjectAltName']);
  return [...out.matchAll(/DNS:([^,\s]+)/g)].map((m) => m[1]!).sort();
}

async function serial(certFile: string): Promise<string> {
  const out = await openssl(['x509', '-in', certFile, '-noout', '-serial']);
  return out.trim().replace(/^serial=/, '');
}

async function publicKeyAlgorithm(certFile: string): Promise<string> {
  const out = await openssl(['x509', '-in', certFile, '-noout', '-text']);
  return /Public Key Algorithm: (\S+)/.exec(out)?.[1] ?? '';
}

for (const backend of backends) {
  describe(`certbot against attestca on ${backend}`, () => {
    let dns: TestDns;
    let server: TestServer;
    let bot: Certbot;

    before(async () => {
      dns = await startTestDns(Object.fromEntries(NAMES.map((n) => [n, '127.0.0.1'])));
      const http01Port = await freePort();
      server = await startTestServer({ backend, dnsServer: dns.server, http01Port });
      bot = new Certbot(server, http01Port);
    });
    after(async () => {
      bot?.remove();
      await server?.stop();
      await dns?.close();
    });

    test('certonly --standalone with an ECDSA key: registers, validates http-01 for two names, and gets a chain openssl accepts', async () => {
      const r = await bot.certonly('ecdsa', ['--key-type', 'ecdsa', '--elliptic-curve', 'secp256r1']);
      assert.equal(r.code, 0, bot.explain(r));
      await verifyLive(bot, 'ecdsa');
      assert.deepEqual(await sans(bot.live('ecdsa', 'cert.pem')), NAMES);
      assert.equal(await publicKeyAlgorithm(bot.live('ecdsa', 'cert.pem')), 'id-ecPublicKey');
      assert.equal(bot.accounts().length, 1);
    });

    test('a forced renewal with the same account yields a new certificate with another serial', async () => {
      const oldSerial = await serial(bot.live('ecdsa', 'cert.pem'));
      const accountsBefore = bot.accounts();
      // `certbot renew` reads server, http-01 port and key type back from the renewal config.
      const r = await bot.renew('ecdsa', ['--force-renewal']);
      assert.equal(r.code, 0, bot.explain(r));
      await verifyLive(bot, 'ecdsa');
      assert.deepEqual(await sans(bot.live('ecdsa', 'cert.pem')), NAMES);
      assert.notEqual(await serial(bot.live('ecdsa', 'cert.pem')), oldSerial);
      assert.deepEqual(bot.accounts(), accountsBefore, 'the renewal must reuse the account, not register another');
    });

    test('certonly with an RSA key on the same account', async () => {
      const r = await bot.certonly('rsa', ['--key-type', 'rsa', '--rsa-key-size', '2048']);
      assert.equal(r.code, 0, bot.explain(r));
      await verifyLive(bot, 'rsa');
      assert.deepEqual(await sans(bot.live('rsa', 'cert.pem')), NAMES);
      assert.equal(await publicKeyAlgorithm(bot.live('rsa', 'cert.pem')), 'rsaEncryption');
      assert.notEqual(await serial(bot.live('rsa', 'cert.pem')), await serial(bot.live('ecdsa', 'cert.pem')));
      assert.equal(bot.accounts().length, 1);
    });
  });
}
