// certbot's account commands against attestca with external account binding required, on both
// backends: register without a binding (refused), register with --eab-kid/--eab-hmac-key,
// update_account --email, unregister; then the account's key, taken from certbot's own files,
// is refused with `unauthorized` (RFC 8555 §7.3.6). certbot trusts the CA via REQUESTS_CA_BUNDLE.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createEabKey } from '../src/ra/eab.js';
import { accountById } from '../src/sa/accounts.js';
import { listEabKeys } from '../src/sa/eab.js';
import { TestAcmeClient } from './helpers/acme.js';
import { backends } from './helpers/db.js';
import { assertProblem } from './helpers/problem.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const CERTBOT = '/usr/bin/certbot';

interface Run {
  code: number | null;
  out: string;
}

for (const backend of backends) {
  describe(`certbot account commands on ${backend}`, () => {
    let server: TestServer;
    const dir = mkdtempSync(path.join(os.tmpdir(), 'attestca-certbot-acct-'));
    const bundle = path.join(dir, 'roots.pem');
    let accountUrl: string;
    let privateJwk: Record<string, unknown>;

    const certbot = (args: string[]): Promise<Run> =>
      new Promise((resolve) => {
        const common = ['--config-dir', path.join(dir, 'config'), '--work-dir', path.join(dir, 'work'), '--logs-dir', path.join(dir, 'logs'), '--non-interactive', '--server', server.directory];
        execFile(CERTBOT, [...args, ...common], { encoding: 'utf8', timeout: 90_000, killSignal: 'SIGKILL', env: { ...process.env, REQUESTS_CA_BUNDLE: bundle } }, (err, stdout, stderr) => {
          const log = path.join(dir, 'logs', 'letsencrypt.log');
          const tail = existsSync(log) ? readFileSync(log, 'utf8').split('\n').slice(-40).join('\n') : '';
          resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, out: `${stdout}\n${stderr}\n--- log tail ---\n${tail}` });
        });
      });
    /** certbot's stored account: accounts/<server>/directory/<id>/{regr.json, private_key.json}. */
    const storedAccount = () => {
      const root = path.join(dir, 'config', 'accounts');
      const regr = readdirSync(root, { recursive: true, withFileTypes: true }).find((d) => d.isFile() && d.name === 'regr.json');
      assert.ok(regr, 'certbot stored an account');
      return {
        uri: JSON.parse(readFileSync(path.join(regr.parentPath, 'regr.json'), 'utf8')).uri as string,
        key: JSON.parse(readFileSync(path.join(regr.parentPath, 'private_key.json'), 'utf8')) as Record<string, unknown>,
      };
    };
    const stored = () => accountById(server.ctx.db, accountUrl.split('/').at(-1)!);

    before(async () => {
      server = await startTestServer({ backend, configYaml: 'acme:\n  externalAccountBinding: required\n' });
      writeFileSync(bundle, server.rootsPem);
    });
    after(async () => {
      await server?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    test('register without a binding stops: certbot reads meta.externalAccountRequired from the directory', async () => {
      const r = await certbot(['register', '--agree-tos', '-m', 'ops@attestca.test']);
      assert.notEqual(r.code, 0, r.out);
      assert.match(r.out, /requires external account binding/i);
      const { rows } = await server.ctx.db.query<{ n: number }>('SELECT count(*) AS n FROM accounts');
      assert.equal(rows[0]!.n, 0);
    });

    test('register --eab-kid --eab-hmac-key creates an account bound to the key', async () => {
      const key = await createEabKey(server.ctx.db, { reusable: false, note: 'certbot', now: new Date() });
      const r = await certbot(['register', '--agree-tos', '-m', 'ops@attestca.test', `--eab-kid=${key.keyId}`, `--eab-hmac-key=${key.hmacKey}`]);
      assert.equal(r.code, 0, r.out);
      ({ uri: accountUrl, key: privateJwk } = storedAccount());
      const account = await stored();
      assert.equal(account?.status, 'valid');
      assert.deepEqual(account?.contact, ['mailto:ops@attestca.test']);
      const bound = (await listEabKeys(server.ctx.db)).find((k) => k.keyId === key.keyId);
      assert.deepEqual(bound?.accounts.map((a) => a.accountId), [account!.id]);
    });

    test('update_account --email replaces the contact', async () => {
      const r = await certbot(['update_account', '-m', 'oncall@attestca.test']);
      assert.equal(r.code, 0, r.out);
      assert.deepEqual((await stored())?.contact, ['mailto:oncall@attestca.test']);
    });

    test('unregister deactivates the account, and its key is refused afterwards', async () => {
      const r = await certbot(['unregister']);
      assert.equal(r.code, 0, r.out);
      assert.equal((await stored())?.status, 'deactivated');
      const jws = await TestAcmeClient.connect(server.directory, server.agent, 'RS256', createPrivateKey({ key: privateJwk as never, format: 'jwk' }));
      jws.kid = accountUrl;
      assertProblem(await jws.post(accountUrl, ''), 'unauthorized', 401);
      assertProblem(await jws.newOrder([{ type: 'dns', value: 'after.attestca.test' }]), 'unauthorized', 401);
    });
  });
}
