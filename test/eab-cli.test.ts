// `attestca eab` as an operator uses it, on both backends: create keys (the HMAC key printed
// once), start the CA on that database, let acme-client bind accounts with them, list which
// accounts each key bound, revoke one, and see the CA refuse it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import acme from 'acme-client';
import { backends, createPostgresDatabase } from './helpers/db.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const cli = (args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', HOME: os.tmpdir() },
    timeout: 60_000,
  });

interface Listed {
  keyId: string;
  state: string;
  reusable: boolean;
  note: string | null;
  uses: number;
  accounts: { accountId: string }[];
}

const lines = (stdout: string) => stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));

for (const backend of backends) {
  describe(`attestca eab on ${backend}`, () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'attestca-eab-cli-'));
    let db: { url: string; drop: () => Promise<void> } | undefined;
    let server: TestServer | undefined;
    after(async () => {
      await server?.stop();
      await db?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    });
    /** Where the CLI finds the CA's database: the Postgres URL, or the embedded one under --data-dir. */
    const target = async (): Promise<string[]> => {
      if (backend === 'pglite') return ['--data-dir', dataDir];
      db ??= await createPostgresDatabase();
      return ['--database-url', db.url];
    };
    const keys: Record<string, { keyId: string; hmacKey: string }> = {};

    test('create prints the key id and the base64url HMAC key once; list never shows the HMAC key', async () => {
      const human = cli(['eab', 'create', '--note', 'team web', ...(await target())]);
      assert.equal(human.status, 0, human.stderr);
      const keyId = /^key id:\s+(\S+)$/m.exec(human.stdout)?.[1];
      const hmacKey = /^hmac key:\s+(\S+)$/m.exec(human.stdout)?.[1];
      assert.ok(keyId && hmacKey, human.stdout);
      assert.match(hmacKey, /^[A-Za-z0-9_-]{86}$/, '64 bytes, base64url');
      assert.match(human.stdout, /reusable:\s+no/);
      assert.match(human.stdout, new RegExp(`--eab-kid=${keyId} --eab-hmac-key=${hmacKey}`));
      keys.single = { keyId, hmacKey };

      const json = cli(['eab', 'create', '--reusable', '--json', ...(await target())]);
      assert.equal(json.status, 0, json.stderr);
      const [created] = lines(json.stdout);
      assert.equal(created.reusable, true);
      keys.reusable = { keyId: created.keyId, hmacKey: created.hmacKey };

      const list = cli(['eab', 'list', '--json', ...(await target())]);
      assert.equal(list.status, 0, list.stderr);
      assert.ok(!list.stdout.includes(hmacKey) && !list.stdout.includes(created.hmacKey), 'list shows no HMAC key');
      const listed = lines(list.stdout) as Listed[];
      assert.deepEqual(listed.map((k) => [k.keyId, k.state, k.reusable, k.note]).sort(), [
        [keyId, 'active', false, 'team web'],
        [created.keyId, 'active', true, null],
      ].sort());
    });

    test('the CA, started on that database, binds accounts with the keys; list names them; a revoked key is refused', async () => {
      server = await startTestServer({ backend, dataDir, databaseUrl: db?.url, configYaml: 'acme:\n  externalAccountBinding: required\n' });
      acme.axios.defaults.httpsAgent = server.agent;
      const account = async (k: { keyId: string; hmacKey: string }) => {
        const c = new acme.Client({ directoryUrl: server!.directory, accountKey: await acme.crypto.createPrivateEcdsaKey(), externalAccountBinding: { kid: k.keyId, hmacKey: k.hmacKey } });
        await c.createAccount({ termsOfServiceAgreed: true });
        return c.getAccountUrl().split('/').at(-1)!;
      };
      const first = await account(keys.single!);
      await assert.rejects(account(keys.single!), /already used/);
      const shared = [await account(keys.reusable!), await account(keys.reusable!)];
      await server.stop();
      server = undefined; // PGlite is one process's at a time: the operator stops the CA first

      // The table (without --json) lists each key with the accounts it bound under it.
      const table = cli(['eab', 'list', ...(await target())]).stdout;
      const section = (keyId: string) => table.slice(table.indexOf(keyId)).split(/\n(?=\S)/)[0]!;
      assert.match(section(keys.single!.keyId), /^\S+\s+used\s+no\s/);
      assert.deepEqual([...section(keys.single!.keyId).matchAll(/account (\S+) bound/g)].map((m) => m[1]), [first]);
      assert.deepEqual([...section(keys.reusable!.keyId).matchAll(/account (\S+) bound/g)].map((m) => m[1]).sort(), shared.sort());

      const revoke = cli(['eab', 'revoke', keys.reusable!.keyId, ...(await target())]);
      assert.equal(revoke.status, 0, revoke.stderr);
      assert.match(revoke.stdout, /revoked/);
      if (backend === 'postgres') {
        const again = cli(['eab', 'revoke', keys.reusable!.keyId, ...(await target())]);
        assert.equal(again.status, 1);
        assert.match(again.stderr, /already revoked/);
        assert.equal(cli(['eab', 'revoke', 'NoSuchKey', ...(await target())]).status, 1);
      }

      server = await startTestServer({ backend, dataDir, databaseUrl: db?.url, configYaml: 'acme:\n  externalAccountBinding: required\n' });
      acme.axios.defaults.httpsAgent = server.agent;
      await assert.rejects(account(keys.reusable!), /revoked/);
    });

  });
}

test('attestca eab usage errors exit 2 before opening any database', () => {
  for (const args of [['eab', 'bogus'], ['eab', 'list', '--reusable'], ['eab', 'revoke']]) {
    const r = cli([...args, '--data-dir', path.join(os.tmpdir(), 'attestca-eab-never')]);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
  }
});
