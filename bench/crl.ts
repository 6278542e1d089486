// CRL generation at scale (issue "Fast, and proven so"): a fresh database holding N issued
// certificates of which R are revoked (bench/seed.ts), then the CRL signed R entries long through
// the code path the server uses (ra/crl.ts refreshCrl: sa/crls.ts publishCrl reads the revoked
// certificates with the issuer's row locked, ca/ signs, the CRL is stored), several times; the
// median, the CRL's size, and openssl's count of its entries, which must be R. Where the time
// goes is measured apart: the SELECT (with its EXPLAIN ANALYZE) and the signing alone.
// Usage: npm run bench:crl -- --revoked 100000 [--certificates N] [--generations 5] [--pglite]
// Profile: node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/crl.ts --revoked 100000
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { AcmeUrls } from '../src/acme/urls.js';
import { CertificateAuthority } from '../src/ca/authority.js';
import { wholeSeconds } from '../src/ca/crl.js';
import { createDevHierarchy } from '../src/ca/hierarchy.js';
import { systemClock } from '../src/clock.js';
import { configSchema } from '../src/config-schema.js';
import { createLogger } from '../src/log.js';
import { refreshCrl, type CrlContext } from '../src/ra/crl.js';
import type { Db } from '../src/sa/db.js';
import { openPglite } from '../src/sa/db-pglite.js';
import { openPostgres } from '../src/sa/db-postgres.js';
import { migrate } from '../src/sa/migrate.js';
import { seedCertificates, tableBytes, type SeedResult, type SqlClient } from './seed.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const { values: args } = parseArgs({
  options: {
    revoked: { type: 'string', default: '100000' },
    // Default: twice as many certificates as revoked ones.
    certificates: { type: 'string' },
    generations: { type: 'string', default: '5' },
    pglite: { type: 'boolean', default: false },
    'database-url': { type: 'string', default: process.env.ATTESTCA_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' },
    label: { type: 'string', default: '' },
  },
});
const R = Number(args.revoked);
const N = args.certificates ? Number(args.certificates) : 2 * R;
const G = Number(args.generations);
const tmp = mkdtempSync(path.join(os.tmpdir(), 'attestca-bench-crl-'));
const progress = (line: string) => process.stderr.write(`${line}\n`);

// sa/crls.ts publishCrl's query, repeated here only to time it and EXPLAIN it on its own.
const REVOKED_SQL = `SELECT serial, revoked_at, revocation_reason FROM certificates
  WHERE status = 'revoked' AND ($1::timestamptz IS NULL OR not_after > $1) ORDER BY revoked_at, serial`;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

interface Backend {
  db: Db;
  /** One session for seeding (it runs BEGIN … COMMIT itself). */
  session: SqlClient;
  close(): Promise<void>;
}

async function postgresBackend(): Promise<Backend> {
  const name = `attestca_bench_crl_${randomBytes(4).toString('hex')}`;
  const admin = async (sql: string) => {
    const c = new pg.Client(args['database-url']);
    await c.connect();
    await c.query(sql).finally(() => c.end());
  };
  await admin(`CREATE DATABASE ${name}`);
  const url = Object.assign(new URL(args['database-url']!), { pathname: `/${name}` }).toString();
  const db = openPostgres(url);
  const session = new pg.Client(url);
  await session.connect();
  return {
    db,
    session,
    async close() {
      await session.end();
      await db.close();
      await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

async function pgliteBackend(): Promise<Backend> {
  const dir = mkdtempSync(path.join(tmp, 'pglite-'));
  const db = await openPglite(dir);
  return { db, session: db, close: () => db.close() };
}

async function measure(kind: 'postgres' | 'pglite') {
  progress(`${kind}: seeding ${N} certificates, ${R} revoked`);
  const backend = kind === 'postgres' ? await postgresBackend() : await pgliteBackend();
  try {
    const { db } = backend;
    await migrate(db);
    const caDir = path.join(tmp, `ca-${kind}`);
    const hierarchy = await createDevHierarchy(caDir, systemClock.now());
    const seed: SeedResult = await seedCertificates(backend.session, { certificates: N, revoked: R, chainPem: hierarchy.intermediatesPem, now: systemClock.now(), progress: (l) => progress(`${kind}: ${l}`) });
    progress(`${kind}: seeded in ${((seed.insertMs + seed.vacuumMs) / 1000).toFixed(1)} s`);

    // What src/main.ts builds, minus everything a CRL does not need.
    const ca = await CertificateAuthority.create(hierarchy, new AcmeUrls('https://localhost:8443'));
    const ctx: CrlContext = { db, ca, clock: systemClock, config: { crl: configSchema.parse({}).crl }, log: createLogger('silent') };
    const generationsMs: number[] = [];
    let der: Buffer = Buffer.alloc(0);
    for (let i = 0; i < G; i++) {
      const t = performance.now();
      const crl = await refreshCrl(ctx, true);
      generationsMs.push(performance.now() - t);
      der = crl!.der;
      progress(`${kind}: CRL ${crl!.number} signed in ${generationsMs.at(-1)!.toFixed(0)} ms, ${der.length} bytes`);
    }

    // The parts, each alone: the SELECT (as publishCrl runs it after the first CRL), then signing.
    const previous = wholeSeconds(systemClock.now());
    const q0 = performance.now();
    const { rows } = await db.query<{ serial: string; revoked_at: Date; revocation_reason: number }>(REVOKED_SQL, [previous]);
    const selectMs = performance.now() - q0;
    const explain = (await db.query<Record<string, string>>(`EXPLAIN (ANALYZE, BUFFERS) ${REVOKED_SQL}`, [previous])).rows.map((r) => Object.values(r)[0]!);
    const entries = rows.map((r) => ({ serial: r.serial, revokedAt: r.revoked_at, reason: r.revocation_reason }));
    const s0 = performance.now();
    await ca.signCrl({ number: 1_000_000, thisUpdate: previous, nextUpdate: new Date(previous.getTime() + 86_400_000), entries });
    const signMs = performance.now() - s0;

    // openssl reads what relying parties read: every entry present, the signature the issuer's.
    const crlFile = path.join(tmp, `${kind}.crl`);
    const caFile = path.join(tmp, `${kind}-ca.pem`);
    writeFileSync(crlFile, der);
    writeFileSync(caFile, hierarchy.intermediatesPem + hierarchy.rootsPem);
    const text = execFileSync('openssl', ['crl', '-inform', 'DER', '-in', crlFile, '-noout', '-text'], { encoding: 'utf8', maxBuffer: 1 << 30 });
    const opensslEntries = text.split('\n').filter((l) => l.includes('Serial Number')).length;
    const check = spawnSync('openssl', ['crl', '-inform', 'DER', '-in', crlFile, '-CAfile', caFile, '-noout'], { encoding: 'utf8' });
    const verified = check.status === 0 && /verify OK/.test(check.stdout + check.stderr);
    if (opensslEntries !== R) throw new Error(`openssl counts ${opensslEntries} entries in the CRL, ${R} certificates are revoked`);
    if (!verified) throw new Error(`openssl does not verify the CRL's signature: ${check.stdout}${check.stderr}`);

    return {
      seeding: { ...seed, ...(await tableBytes(backend.session)) },
      generationsMs,
      medianMs: median(generationsMs),
      crlBytes: der.length,
      opensslEntries,
      opensslVerified: verified,
      parts: { selectMs, selectRows: rows.length, signMs, explain },
    };
  } finally {
    await backend.close();
  }
}

async function main() {
  if (!(R > 0 && N >= R && G > 0)) throw new Error('need --revoked > 0, --certificates ≥ --revoked and --generations > 0');
  const report: Record<string, unknown> = {
    date: new Date().toISOString(),
    label: args.label,
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, memGb: Math.round(os.totalmem() / 2 ** 30), kernel: os.release() },
    versions: {
      node: process.version,
      commit: execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim(),
      openssl: execFileSync('openssl', ['version'], { encoding: 'utf8' }).trim(),
    },
    parameters: { certificates: N, revoked: R, generations: G, pglite: args.pglite },
  };
  try {
    report.postgres = await measure('postgres');
    if (args.pglite) report.pglite = await measure('pglite');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  mkdirSync(path.join(root, 'bench/results'), { recursive: true });
  const file = path.join(root, 'bench/results', `${(report.date as string).slice(0, 19).replace(/:/g, '')}-crl${args.label ? '-' + args.label : ''}.json`);
  writeFileSync(file, JSON.stringify(report, null, 1) + '\n');
  process.stdout.write(JSON.stringify(report, null, 1) + `\nwritten ${path.relative(root, file)}\n`);
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
