// Fills a migrated attestca database with certificates already issued, the way months of a
// fleet's renewals leave it: for every certificate the account's order, its authorization with
// the three challenges a dns identifier is offered (one valid), the order–authorization link, the
// serial and the certificate, all with realistic sizes (~500-byte DER, the issuer chain as PEM,
// a ~300-byte CSR kept on the order). Issuance times are spread over the last 90 days and every
// certificate is valid for 90 days, so not_after is spread over the next 90 days and none has
// expired. A given number of them are revoked, evenly spread, with mixed reason codes.
//
// Set-based SQL only (INSERT … SELECT FROM generate_series), in chunks, so that a million
// certificates take minutes (2.5 on a busy 2-core machine), not an afternoon of round trips. Ids, tokens and serials
// are derived from the row number with md5(): as long and as random-looking as the server's own,
// and reproducible. The indexes and keys are dropped for the insert and rebuilt after it, in the
// same transaction (see indexesAndKeys): rebuilding the foreign keys also checks that the seeded
// rows hang together. Works on Postgres and on PGlite. Seeds dns certificates only: no
// attestations rows (device-attest-01 evidence).

import { randomBytes } from 'node:crypto';

/** What both pg.Client and PGlite offer. */
export interface SqlClient {
  query(sql: string, params?: unknown[]): Promise<{ rows: unknown[] }>;
}

export interface SeedOptions {
  certificates: number;
  /** How many of them are revoked (at most `certificates`). */
  revoked: number;
  /** Accounts owning them; default one per 250 certificates. */
  accounts?: number;
  /** The intermediates' PEM, stored with every certificate as the server does. */
  chainPem: string;
  now: Date;
  /** Rows per INSERT statement (all in one transaction). */
  chunk?: number;
  progress?: (line: string) => void;
}

export interface SeedResult {
  certificates: number;
  revoked: number;
  accounts: number;
  /** Inserting (with rebuilding the indexes), then VACUUM ANALYZE, in milliseconds. */
  insertMs: number;
  vacuumMs: number;
}

// 16 bytes as 22 base64url characters, like sa/ids.ts newId().
const id16 = (x: string) => `rtrim(translate(encode(decode(md5(${x}), 'hex'), 'base64'), '+/', '-_'), '=')`;
// 32 bytes as 43 base64url characters: JWK coordinates, thumbprints, challenge tokens.
const id32 = (x: string) => `rtrim(translate(encode(decode(md5(${x}) || md5((${x}) || '/2'), 'hex'), 'base64'), '+/', '-_'), '=')`;

const DER_TAIL = randomBytes(500 - 4 - 16);

// Parameters of every chunk statement: $1 now, $2 total certificates, $3 first row, $4 last row,
// $5 accounts, $6 revoked; certificates also $7 chain PEM, $8 DER tail. Row g (1-based) was issued at t, (N - g)/N of 90 days ago.
const rows = `(SELECT g,
    'h' || g || '.a' || (g % $5::bigint) || '.fleet.example' AS name,
    ${id16(`'acct' || (g % $5::bigint)`)} AS account_id,
    ${id16(`'order' || g`)} AS order_id,
    ${id16(`'authz' || g`)} AS authz_id,
    substr('1234567', (g % 7)::int + 1, 1) || substr(md5('serial' || g), 2) AS serial,
    $1::timestamptz - make_interval(secs => 7776000 * ($2::bigint - g)::float8 / $2::bigint) AS t,
    (g * $6::bigint) / $2::bigint > ((g - 1) * $6::bigint) / $2::bigint AS revoked
  FROM generate_series($3::bigint, $4::bigint) AS g) AS s`;

const CHUNK_STATEMENTS: [string, string][] = [
  [
    'orders',
    `INSERT INTO orders (id, account_id, status, expires_at, identifiers, csr, created_at)
     SELECT order_id, account_id, 'valid', t + interval '7 days', jsonb_build_array(jsonb_build_object('type', 'dns', 'value', name)),
            decode(repeat(md5('csr' || g), 19), 'hex'), t
     FROM ${rows}`,
  ],
  [
    'authorizations',
    `INSERT INTO authorizations (id, account_id, identifier_type, identifier_value, wildcard, status, expires_at, created_at)
     SELECT authz_id, account_id, 'dns', name, false, 'valid', t + interval '30 days', t FROM ${rows}`,
  ],
  [
    'order_authorizations',
    `INSERT INTO order_authorizations (order_id, authz_id, position) SELECT order_id, authz_id, 0 FROM ${rows}`,
  ],
  [
    'challenges',
    `INSERT INTO challenges (id, authz_id, type, token, status, validated_at, attempts)
     SELECT ${id16(`'chall' || g || c.type`)}, authz_id, c.type, ${id32(`'token' || g || c.type`)},
            CASE WHEN c.type = 'http-01' THEN 'valid' ELSE 'pending' END,
            CASE WHEN c.type = 'http-01' THEN t + interval '1 second' END,
            CASE WHEN c.type = 'http-01' THEN 1 ELSE 0 END
     FROM ${rows} CROSS JOIN (VALUES ('http-01'), ('dns-01'), ('tls-alpn-01')) AS c (type)`,
  ],
  ['serials', `INSERT INTO serials (serial, order_id, purpose, created_at) SELECT serial, order_id, 'acme', t FROM ${rows}`],
  [
    'certificates',
    // DER: 500 bytes, a SEQUENCE header, 16 bytes of the row's own and a fixed tail ($8); rows
    // this small are stored uncompressed, so what the bytes are does not change the table's size.
    `INSERT INTO certificates (serial, order_id, account_id, der, chain_pem, identifiers, not_before, not_after,
                               status, revoked_at, revocation_reason, created_at)
     SELECT serial, order_id, account_id, '\\x308201f0'::bytea || decode(md5('der' || g), 'hex') || $8::bytea, $7::text,
            jsonb_build_array(jsonb_build_object('type', 'dns', 'value', name)), t, t + interval '90 days',
            CASE WHEN revoked THEN 'revoked' ELSE 'valid' END,
            CASE WHEN revoked THEN t + ($1::timestamptz - t) / 2 END,
            CASE WHEN revoked THEN (ARRAY[0, 1, 4, 5])[(g % 4)::int + 1] END,
            t
     FROM ${rows}`,
  ],
];

const SEEDED_TABLES = ['accounts', 'orders', 'authorizations', 'order_authorizations', 'challenges', 'serials', 'certificates'];

interface Ddl {
  drop: string[];
  create: string[];
}

/**
 * The statements that drop, and afterwards recreate exactly, every index and key of the seeded
 * tables (and the foreign keys pointing at them), read from the catalogue so that a later
 * migration's indexes are handled too: what pg_restore does, building each index in one sort
 * instead of a million random insertions, and checking each foreign key in one join.
 */
async function indexesAndKeys(db: SqlClient, tables: string[]): Promise<Ddl> {
  const q = async (sql: string) => ((await db.query(sql, [tables])) as { rows: { tbl: string; name: string; def: string }[] }).rows;
  const foreign = await q(
    `SELECT conrelid::regclass::text AS tbl, conname AS name, pg_get_constraintdef(oid) AS def FROM pg_constraint
     WHERE contype = 'f' AND (conrelid::regclass::text = ANY($1) OR confrelid::regclass::text = ANY($1)) ORDER BY 1, 2`,
  );
  const keys = await q(
    `SELECT conrelid::regclass::text AS tbl, conname AS name, pg_get_constraintdef(oid) AS def FROM pg_constraint
     WHERE contype IN ('p', 'u') AND conrelid::regclass::text = ANY($1) ORDER BY 1, 2`,
  );
  const indexes = await q(
    `SELECT i.indrelid::regclass::text AS tbl, i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def FROM pg_index i
     WHERE i.indrelid::regclass::text = ANY($1)
       AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.contype IN ('p', 'u', 'x')) ORDER BY 1, 2`,
  );
  const alterDrop = (c: { tbl: string; name: string }) => `ALTER TABLE ${c.tbl} DROP CONSTRAINT "${c.name}"`;
  const alterAdd = (c: { tbl: string; name: string; def: string }) => `ALTER TABLE ${c.tbl} ADD CONSTRAINT "${c.name}" ${c.def}`;
  return {
    drop: [...foreign.map(alterDrop), ...keys.map(alterDrop), ...indexes.map((i) => `DROP INDEX ${i.name}`)],
    create: [...keys.map(alterAdd), ...indexes.map((i) => i.def), ...foreign.map(alterAdd)],
  };
}

export async function seedCertificates(db: SqlClient, o: SeedOptions): Promise<SeedResult> {
  const N = o.certificates;
  if (!Number.isSafeInteger(N) || N < 0) throw new Error(`cannot seed ${N} certificates`);
  if (!(o.revoked >= 0 && o.revoked <= N)) throw new Error(`cannot revoke ${o.revoked} of ${N} certificates`);
  const accounts = o.accounts ?? Math.max(1, Math.ceil(N / 250));
  const chunk = o.chunk ?? 100_000;
  const started = performance.now();
  const elapsed = () => `${((performance.now() - started) / 1000).toFixed(1)} s`;
  const run = async (what: string, sql: string, params?: unknown[]) => {
    await db.query(sql, params).catch((err: Error) => {
      throw new Error(`seeding, ${what}: ${err.message}`, { cause: err });
    });
  };
  // One transaction: if anything fails, the database is left as the migrations made it.
  await db.query('BEGIN');
  try {
    await db.query("SET LOCAL maintenance_work_mem = '256MB'");
    const ddl = await indexesAndKeys(db, SEEDED_TABLES);
    for (const sql of ddl.drop) await run(sql, sql);
    if (N > 0) {
      await run(
        'accounts',
        `INSERT INTO accounts (id, key_thumbprint, jwk, contact, status, tos_agreed, created_at, created_ip)
         SELECT ${id16(`'acct' || a`)}, ${id32(`'thumbprint' || a`)},
                jsonb_build_object('kty', 'EC', 'crv', 'P-256', 'x', ${id32(`'x' || a`)}, 'y', ${id32(`'y' || a`)}),
                '[]'::jsonb, 'valid', true, $1::timestamptz - interval '365 days',
                '10.' || (a / 65536 % 256) || '.' || (a / 256 % 256) || '.' || (a % 256)
         FROM generate_series(0, $2::bigint - 1) AS a`,
        [o.now, accounts],
      );
    }
    for (let lo = 1; lo <= N; lo += chunk) {
      const hi = Math.min(N, lo + chunk - 1);
      for (const [table, sql] of CHUNK_STATEMENTS) {
        // Only certificates uses $7 and $8; Postgres refuses parameters a statement does not use.
        await run(table, sql, [o.now, N, lo, hi, accounts, o.revoked, o.chainPem, DER_TAIL].slice(0, sql.includes('$7') ? 8 : 6));
      }
      o.progress?.(`inserted ${hi} of ${N} certificates (${elapsed()})`);
    }
    for (const sql of ddl.create) await run(sql, sql);
    o.progress?.(`rebuilt ${ddl.create.length} indexes and keys (${elapsed()})`);
    await db.query('COMMIT');
  } catch (err) {
    await db.query('ROLLBACK');
    throw err;
  }
  const insertMs = performance.now() - started;
  const v = performance.now();
  await db.query('VACUUM ANALYZE');
  return { certificates: N, revoked: o.revoked, accounts, insertMs, vacuumMs: performance.now() - v };
}

/** pg_total_relation_size (table, indexes and TOAST) of every table, and the whole database. */
export async function tableBytes(db: SqlClient): Promise<{ tables: Record<string, number>; database: number }> {
  const { rows } = (await db.query(
    `SELECT c.relname AS name, pg_total_relation_size(c.oid)::float8 AS bytes
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY bytes DESC, name`,
  )) as { rows: { name: string; bytes: number }[] };
  const db_ = (await db.query('SELECT pg_database_size(current_database())::float8 AS bytes')) as { rows: { bytes: number }[] };
  return { tables: Object.fromEntries(rows.map((r) => [r.name, Number(r.bytes)])), database: Number(db_.rows[0]!.bytes) };
}
