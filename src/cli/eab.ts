import { parseArgs } from 'node:util';
import { createLogger } from '../log.js';
import { openDatabase } from '../main.js';
import { createEabKey } from '../ra/eab.js';
import type { Db } from '../sa/db.js';
import { listEabKeys, revokeEabKey, type EabKeyListing } from '../sa/eab.js';
import { migrate } from '../sa/migrate.js';
import { configFromFlags, stateOptions, UsageError } from './common.js';

export const eabHelp = `attestca eab: external account binding keys (RFC 8555 §7.3.4)

Usage:
  attestca eab create [--reusable] [--note TEXT] [--json]
  attestca eab list [--json]
  attestca eab revoke KEYID
  (each with [--database-url URL | --data-dir DIR] [--config FILE])

An ACME client binds its new account to a key with the key id and the HMAC key, e.g.
  certbot register --eab-kid=KEYID --eab-hmac-key=HMACKEY --server https://ca.example.com/directory
With acme.externalAccountBinding: required, no account is created without one.

  create   makes a key and prints its key id and base64url HMAC key. The HMAC key is shown this
           once: hand it to the client owner. A key binds one account and is then used up,
           unless --reusable (any number of accounts, until revoked).
  list     every key (never its HMAC key): state, reusable, created, note, and the accounts it bound.
  revoke   no account can be bound with the key afterwards; accounts already bound stay.

With the embedded database, stop the server first: PGlite is opened by one process at a time.

Flags:
  --reusable           the key may bind any number of accounts
  --note TEXT          what the key is for (shown by list)
  --json               machine-readable output (one JSON object per line)
  --database-url URL   the Postgres server (or DATABASE_URL)
  --data-dir DIR       the data directory of an embedded-database CA (default ./data)
  --config FILE        config file
`;

const state = (k: EabKeyListing): string => (k.revokedAt ? 'revoked' : !k.reusable && k.uses > 0 ? 'used' : 'active');

export async function eab(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (!sub || sub === '--help' || sub === '-h') {
    process.stdout.write(eabHelp);
    return sub ? 0 : 2;
  }
  const { values, positionals } = parseSub(sub, rest);
  if (values.help) {
    process.stdout.write(eabHelp);
    return 0;
  }
  const config = configFromFlags({ ...values, 'log-level': values['log-level'] ?? 'warn' });
  const db = await openDatabase(config, createLogger(config.logLevel));
  try {
    await migrate(db);
    if (sub === 'create') return await create(db, values);
    if (sub === 'list') return await list(db, values.json === true);
    return await revoke(db, positionals);
  } finally {
    await db.close();
  }
}

function parseSub(sub: string, rest: string[]) {
  const options = { ...stateOptions, reusable: { type: 'boolean' }, note: { type: 'string' }, json: { type: 'boolean' } } as const;
  const allowed: Record<string, string[]> = { create: ['reusable', 'note', 'json'], list: ['json'], revoke: [] };
  const own = allowed[sub];
  if (!own) throw new UsageError(`unknown eab command "${sub}"; use create, list or revoke (attestca eab --help)`);
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options, strict: true, allowPositionals: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  for (const flag of ['reusable', 'note', 'json'] as const) {
    if (parsed.values[flag] !== undefined && !own.includes(flag)) throw new UsageError(`--${flag} does not apply to eab ${sub}`);
  }
  if (sub !== 'revoke' && parsed.positionals.length) throw new UsageError(`eab ${sub} takes no arguments, got "${parsed.positionals[0]}"`);
  if (sub === 'revoke' && parsed.positionals.length !== 1 && !parsed.values.help) throw new UsageError('give the key id to revoke: attestca eab revoke KEYID');
  return parsed;
}

async function create(db: Db, values: { reusable?: boolean; note?: string; json?: boolean }): Promise<number> {
  const key = await createEabKey(db, { reusable: values.reusable === true, note: values.note, now: new Date() });
  if (values.json) {
    process.stdout.write(`${JSON.stringify(key)}\n`);
    return 0;
  }
  process.stdout.write(
    `key id:    ${key.keyId}\nhmac key:  ${key.hmacKey}\nreusable:  ${key.reusable ? 'yes' : 'no (binds one account)'}\n${key.note ? `note:      ${key.note}\n` : ''}` +
      `\nThe HMAC key is not shown again. For certbot (the = keeps a value that starts with "-" from being read as an option): --eab-kid=${key.keyId} --eab-hmac-key=${key.hmacKey}\n`,
  );
  return 0;
}

async function list(db: Db, json: boolean): Promise<number> {
  const keys = await listEabKeys(db);
  if (json) {
    for (const k of keys) process.stdout.write(`${JSON.stringify({ ...k, state: state(k) })}\n`);
    return 0;
  }
  if (!keys.length) {
    process.stdout.write('no external account binding keys; create one with attestca eab create\n');
    return 0;
  }
  process.stdout.write('key id                  state    reusable  created               accounts  note\n');
  for (const k of keys) {
    process.stdout.write(
      `${k.keyId.padEnd(23)} ${state(k).padEnd(8)} ${(k.reusable ? 'yes' : 'no').padEnd(9)} ${k.createdAt.toISOString().slice(0, 19)}Z  ${String(k.accounts.length).padEnd(9)} ${k.note ?? ''}\n`,
    );
    for (const a of k.accounts) process.stdout.write(`    account ${a.accountId} bound ${a.boundAt.toISOString().slice(0, 19)}Z\n`);
  }
  return 0;
}

async function revoke(db: Db, positionals: string[]): Promise<number> {
  const keyId = positionals[0]!;
  if (await revokeEabKey(db, keyId, new Date())) {
    process.stdout.write(`revoked ${keyId}: no new account can be bound with it\n`);
    return 0;
  }
  const known = (await listEabKeys(db)).find((k) => k.keyId === keyId);
  process.stderr.write(known ? `attestca eab revoke: ${keyId} was already revoked\n` : `attestca eab revoke: no key ${keyId}\n`);
  return 1;
}
