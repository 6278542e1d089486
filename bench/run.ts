// The benchmark harness: starts each server under test, drives it with bench/driver.ts, and
// measures its CPU per certificate (Postgres backends included) and peak memory from /proc.
// Targets alternate within each round (A/B/A/B…) so that a noisy neighbour hurts all alike;
// the report gives medians and min–max over rounds. Usage: see bench/README.md.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, appendFileSync, constants, copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createDevHierarchy } from '../src/ca/hierarchy.js';
import { initSimHierarchy, loadSimHierarchy, type SimHierarchy } from '../src/devicesim/hierarchy.js';
import { openPglite } from '../src/sa/db-pglite.js';
import { startBenchDns } from './dns.js';
import { runDriver, startHttp01Responder, summarise, type Flow, type Http01Responder } from './driver.js';
import { cpuDelta, cpuSample, descendants, peakRssMb, pidsNamed } from './procs.js';
import { seedCertificates, tableBytes, type SeedResult } from './seed.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const { values: args } = parseArgs({
  options: {
    concurrency: { type: 'string', default: '32' },
    duration: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '3' },
    flow: { type: 'string', default: 'http-01' },
    targets: { type: 'string', default: 'attestca,pebble' },
    'attestca-workers': { type: 'string', default: '1' },
    'database-url': { type: 'string', default: process.env.ATTESTCA_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' },
    label: { type: 'string', default: '' },
    // Extra node flags for attestca, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile a run.
    'server-node-args': { type: 'string', default: '' },
    // Growth: attestca starts on a database already holding this many issued certificates
    // (bench/seed.ts), of which --seed-revoked are revoked; compare 0 with 1000000.
    'seed-certificates': { type: 'string', default: '0' },
    'seed-revoked': { type: 'string', default: '0' },
    watchdog: { type: 'string', default: '90' },
  },
});
const C = Number(args.concurrency);
const flow = args.flow as Flow;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'attestca-bench-'));
const SUFFIX = 'bench.test';
const seedN = Number(args['seed-certificates']);
const seedRevoked = Number(args['seed-revoked']);

type TableBytes = Awaited<ReturnType<typeof tableBytes>>;

/**
 * A seeded database is made once per harness run and copied for every round: on Postgres as a
 * template (CREATE DATABASE … TEMPLATE, STRATEGY FILE_COPY, which also checkpoints, so no round
 * starts with the seeding's dirty pages to write), on PGlite as a copy of its directory.
 */
interface Seeded extends SeedResult, TableBytes {
  /** Postgres: the template database; PGlite: the data directory holding pgdata. */
  source: string;
}
const seeded: { postgres?: Seeded; pglite?: Seeded } = {};

interface Running {
  directory: string;
  ca: string;
  pid: number;
  /**
   * A run that outlived its watchdog: the server is made to dump what it was doing (Go prints
   * every goroutine's stack on SIGQUIT) and killed; returns the file its whole output was kept in.
   */
  kill(): Promise<string>;
  /** Stops the server and removes its state; returns attestca's table sizes as the run left them. */
  stop(): Promise<TableBytes | undefined>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitForDirectory(url: string, ca: () => string | undefined, child: ChildProcess, log: () => string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`server exited (${child.exitCode}):\n${log()}`);
    const pem = ca();
    if (pem) {
      const ok = await new Promise<boolean>((resolve) => {
        https.get(url, { ca: pem }, (res) => {
          res.resume();
          resolve(res.statusCode === 200);
        }).on('error', () => resolve(false));
      });
      if (ok) return;
    }
    await sleep(100);
  }
  throw new Error(`${url} did not come up:\n${log()}`);
}

/** Starts a server; its whole output goes to logFile, and the last 4,000 characters are at hand. */
function spawnLogged(cmd: string, argv: string[], env: NodeJS.ProcessEnv, logFile: string): { child: ChildProcess; log: () => string } {
  const child = spawn(cmd, argv, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = '';
  const keep = (c: Buffer) => {
    tail = (tail + c.toString()).slice(-4000);
    appendFileSync(logFile, c);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  return { child, log: () => tail };
}

const stopChild = (child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM') =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill(signal);
    setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
  });

/** Keeps a hung server's log beyond the harness's temporary directory. */
async function killHung(child: ChildProcess, logFile: string): Promise<string> {
  await stopChild(child, 'SIGQUIT');
  const kept = path.join(os.tmpdir(), `attestca-bench-hung-${Date.now()}-${path.basename(logFile)}`);
  copyFileSync(logFile, kept);
  return kept;
}

let portBase = 20000 + Math.floor(Math.random() * 20000);

async function startAttestca(dns: string, http01: number, sim: SimHierarchy | undefined, embedded: boolean): Promise<Running> {
  const port = portBase++;
  const dataDir = mkdtempSync(path.join(tmp, 'attestca-'));
  let dbName: string | undefined;
  if (!embedded) {
    dbName = `attestca_bench_${randomBytes(4).toString('hex')}`;
    await adminQuery(`CREATE DATABASE ${dbName}${seeded.postgres ? ` TEMPLATE ${seeded.postgres.source} STRATEGY FILE_COPY` : ''}`);
  } else if (seeded.pglite) {
    cpSync(path.join(seeded.pglite.source, 'pgdata'), path.join(dataDir, 'pgdata'), { recursive: true });
  }
  const dbUrl = dbName ? databaseUrl(dbName) : undefined;
  // Every worker of the driver signs up from 127.0.0.1: the per-IP account limit would stop the
  // run, so it is lifted. A device-attest worker is one device, which renews far beyond the 50
  // certificates a week per name of the default: that limit is raised out of reach, and still
  // counted at every finalize, as in production. Every other limit stays as it is by default.
  const configFile = path.join(dataDir, 'bench.yaml');
  writeFileSync(configFile, 'limits:\n  accountsPerIp: { count: 0, window: 3h }\n  certificatesPerName: { count: 1000000000, window: 7d }\n');
  const nodeArgs = args['server-node-args']!.split(' ').filter(Boolean);
  const argv = [...nodeArgs, path.join(root, 'dist/cli.js'), 'serve', '--config', configFile, '--data-dir', dataDir, '--listen', `127.0.0.1:${port}`, '--http01-port', String(http01), '--dns-server', dns];
  if (dbUrl) argv.push('--database-url', dbUrl);
  if (sim) argv.push('--attestation-root', `apple=${path.join(tmp, 'sim', 'root.pem')}`);
  if (Number(args['attestca-workers']) > 1) argv.push('--workers', args['attestca-workers']!);
  const logFile = path.join(tmp, `attestca-${port}.log`);
  const { child, log } = spawnLogged(process.execPath, argv, { PATH: process.env.PATH }, logFile);
  const directory = `https://localhost:${port}/directory`;
  const caFile = path.join(dataDir, 'ca', 'roots.pem');
  await waitForDirectory(directory, () => { try { return readFileSync(caFile, 'utf8'); } catch { return undefined; } }, child, log);
  return {
    directory,
    ca: readFileSync(caFile, 'utf8'),
    pid: child.pid!,
    kill: () => killHung(child, logFile),
    async stop() {
      await stopChild(child);
      try {
        return await sizesOf(dbUrl ?? dataDir);
      } finally {
        if (dbName) await adminQuery(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
  };
}

async function startPebble(dns: string, http01: number): Promise<Running> {
  const port = portBase++;
  const dir = mkdtempSync(path.join(tmp, 'pebble-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${dir}/key.pem`, '-out', `${dir}/cert.pem`, '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost', '-days', '2'], { stdio: 'ignore' });
  writeFileSync(`${dir}/config.json`, JSON.stringify({ pebble: { listenAddress: `127.0.0.1:${port}`, managementListenAddress: `127.0.0.1:${portBase++}`, certificate: `${dir}/cert.pem`, privateKey: `${dir}/key.pem`, httpPort: http01, tlsPort: portBase++, ocspResponderURL: '', externalAccountBindingRequired: false } }));
  // PEBBLE_VA_NOSLEEP: no random validation delay; PEBBLE_WFE_NONCEREJECT=0: no deliberate badNonce.
  const logFile = path.join(tmp, `pebble-${port}.log`);
  const { child, log } = spawnLogged('pebble', ['-config', `${dir}/config.json`, '-dnsserver', dns], { PATH: process.env.PATH, PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0' }, logFile);
  const directory = `https://localhost:${port}/dir`;
  const ca = readFileSync(`${dir}/cert.pem`, 'utf8');
  await waitForDirectory(directory, () => ca, child, log);
  return { directory, ca, pid: child.pid!, kill: () => killHung(child, logFile), stop: async () => { await stopChild(child); rmSync(dir, { recursive: true, force: true }); return undefined; } };
}

const databaseUrl = (name: string) => Object.assign(new URL(args['database-url']!), { pathname: `/${name}` }).toString();

async function adminQuery(sql: string): Promise<void> {
  const admin = new pg.Client(args['database-url']);
  await admin.connect();
  try {
    await admin.query(sql);
  } finally {
    await admin.end();
  }
}

/** Table sizes of a Postgres database (by URL) or of the PGlite database under a data directory. */
async function sizesOf(target: string): Promise<TableBytes> {
  if (target.startsWith('postgres')) {
    const client = new pg.Client(target);
    await client.connect();
    try {
      return await tableBytes(client);
    } finally {
      await client.end();
    }
  }
  const db = await openPglite(path.join(target, 'pgdata'));
  try {
    return await tableBytes(db);
  } finally {
    await db.close();
  }
}

/**
 * Migrates a new database with the CLI (`attestca migrate`, as a deployment would) and fills it
 * with seedN certificates. The chain stored with each is a real development intermediate's PEM.
 */
async function prepareSeed(embedded: boolean): Promise<Seeded> {
  const now = new Date();
  const { intermediatesPem } = await createDevHierarchy(mkdtempSync(path.join(tmp, 'seed-ca-')), now);
  const progress = (line: string) => process.stderr.write(`${embedded ? 'PGlite' : 'Postgres'}: ${line}\n`);
  const migrate = (flags: string[]) => execFileSync(process.execPath, [path.join(root, 'dist/cli.js'), 'migrate', ...flags, '--log-level', 'warn'], { stdio: 'ignore' });
  let source: string;
  let result: SeedResult;
  let sizes: TableBytes;
  if (!embedded) {
    source = `attestca_bench_seed_${randomBytes(4).toString('hex')}`;
    await adminQuery(`CREATE DATABASE ${source}`);
    seeded.postgres = { source } as Seeded; // dropped at the end even if seeding fails
    migrate(['--database-url', databaseUrl(source)]);
    const client = new pg.Client(databaseUrl(source));
    await client.connect();
    try {
      result = await seedCertificates(client, { certificates: seedN, revoked: seedRevoked, chainPem: intermediatesPem, now, progress });
      sizes = await tableBytes(client);
    } finally {
      await client.end();
    }
  } else {
    source = mkdtempSync(path.join(tmp, 'pglite-seed-'));
    migrate(['--data-dir', source]);
    const db = await openPglite(path.join(source, 'pgdata'));
    try {
      result = await seedCertificates(db, { certificates: seedN, revoked: seedRevoked, chainPem: intermediatesPem, now, progress });
      sizes = await tableBytes(db);
    } finally {
      await db.close();
    }
  }
  progress(`${seedN} certificates (${seedRevoked} revoked) inserted in ${(result.insertMs / 1000).toFixed(1)} s, VACUUM ANALYZE ${(result.vacuumMs / 1000).toFixed(1)} s; database ${(sizes.database / 2 ** 20).toFixed(0)} MB`);
  return { source, ...result, ...sizes };
}

interface Measured extends ReturnType<typeof summarise> {
  target: string;
  round: number;
  serverCpuMsPerCert: number;
  postgresCpuMsPerCert: number;
  peakRssMb: number;
  /** attestca's tables after the run (pg_total_relation_size), bytes. */
  tableBytes?: TableBytes;
}

/**
 * How long a run may outlive its warm-up and measured seconds before it counts as hung
 * (--watchdog seconds). A flow takes well under a second; each request gives up after 60 s
 * (bench/client.ts), so 90 s more means the server stopped answering, as Pebble 2.4 sometimes
 * does under load.
 */
const WATCHDOG_SLACK_MS = Number(args.watchdog) * 1000;
/** A run is tried this many times before the harness gives up on it. */
const ATTEMPTS = 3;

class HungRun extends Error {
  constructor(
    readonly target: string,
    readonly round: number,
    readonly log: string,
  ) {
    super(`${target} stopped answering in round ${round}; its output, with a stack dump where it gives one, is kept in ${log}`);
  }
}

async function measure(target: string, round: number, dns: string, responder: Http01Responder, sim: SimHierarchy | undefined): Promise<Measured> {
  const pebble = target === 'pebble';
  const server = pebble ? await startPebble(dns, responder.port) : await startAttestca(dns, responder.port, sim, target === 'attestca-pglite');
  // Killing a hung server makes every request the driver still waits on fail, so the driver
  // returns; what it measured is then thrown away.
  let killed: Promise<string> | undefined;
  const watchdog = setTimeout(() => (killed = server.kill()), (Number(args.warmup) + Number(args.duration)) * 1000 + WATCHDOG_SLACK_MS);
  let m: Measured;
  try {
    const common = { directory: server.directory, concurrency: C, flow, ca: server.ca, nameSuffix: SUFFIX, responder, serializeOrderAndAuthz: pebble, sim };
    await runDriver({ ...common, durationMs: Number(args.warmup) * 1000 });
    const serverPids = () => [server.pid, ...descendants(server.pid)];
    const before = cpuSample(serverPids());
    const pgBefore = cpuSample(pidsNamed('postgres'));
    const result = await runDriver({ ...common, durationMs: Number(args.duration) * 1000 });
    const serverCpu = cpuDelta(before, cpuSample(serverPids()));
    const pgCpu = pebble ? 0 : cpuDelta(pgBefore, cpuSample(pidsNamed('postgres')));
    const rss = Math.max(...serverPids().map(peakRssMb));
    const s = summarise(result);
    m = { target, round, ...s, serverCpuMsPerCert: serverCpu / result.certs, postgresCpuMsPerCert: pgCpu / result.certs, peakRssMb: rss };
    if (killed) throw new HungRun(target, round, await killed);
  } catch (err) {
    await server.stop().catch(() => undefined);
    throw killed && !(err instanceof HungRun) ? new HungRun(target, round, await killed) : err;
  } finally {
    clearTimeout(watchdog);
  }
  const sizes = await server.stop();
  return sizes ? { ...m, tableBytes: sizes } : m;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main() {
  if (args.targets!.split(',').includes('pebble')) {
    const onPath = (process.env.PATH ?? '').split(path.delimiter).some((d) => {
      try {
        accessSync(path.join(d, 'pebble'), constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
    if (!onPath) {
      throw new Error('--targets names pebble, but no pebble is on PATH: install it with `apt-get install -y pebble` (Debian), or leave pebble out of --targets');
    }
  }
  execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'ignore' });
  const dns = await startBenchDns(SUFFIX);
  const responder = await startHttp01Responder(0);
  let sim: SimHierarchy | undefined;
  if (flow === 'device-attest') {
    await initSimHierarchy(path.join(tmp, 'sim'), new Date());
    sim = loadSimHierarchy(path.join(tmp, 'sim'));
  }
  const targets = args.targets!.split(',');
  const runs: Measured[] = [];
  const hung: { target: string; round: number; attempt: number; log: string }[] = [];
  try {
    if (seedN > 0) {
      if (targets.includes('attestca')) seeded.postgres = await prepareSeed(false);
      if (targets.includes('attestca-pglite')) seeded.pglite = await prepareSeed(true);
    }
    for (let round = 1; round <= Number(args.rounds); round++) {
      for (const target of round % 2 ? targets : [...targets].reverse()) {
        let m: Measured | undefined;
        for (let attempt = 1; !m; attempt++) {
          try {
            m = await measure(target, round, dns.server, responder, sim);
          } catch (err) {
            if (!(err instanceof HungRun) || attempt === ATTEMPTS) throw err;
            hung.push({ target, round, attempt, log: err.log });
            process.stderr.write(`${err.message}; trying again with a fresh server\n`);
          }
        }
        runs.push(m);
        process.stderr.write(`round ${round} ${target}: ${m.certsPerSecond.toFixed(1)} certs/s, flow p99 ${m.flow.p99.toFixed(0)} ms, server ${m.serverCpuMsPerCert.toFixed(2)} + pg ${m.postgresCpuMsPerCert.toFixed(2)} ms CPU/cert, RSS ${m.peakRssMb.toFixed(0)} MB${m.tableBytes ? `, database ${(m.tableBytes.database / 2 ** 20).toFixed(0)} MB` : ''}, errors ${JSON.stringify(m.errors)}\n`);
      }
    }
  } finally {
    await responder.close();
    await dns.close();
    if (seeded.postgres) await adminQuery(`DROP DATABASE IF EXISTS ${seeded.postgres.source} WITH (FORCE)`);
    rmSync(tmp, { recursive: true, force: true });
  }

  const summary = Object.fromEntries(
    targets.map((t) => {
      const mine = runs.filter((r) => r.target === t);
      const stat = (f: (r: Measured) => number) => ({ median: median(mine.map(f)), min: Math.min(...mine.map(f)), max: Math.max(...mine.map(f)) });
      return [t, {
        certsPerSecond: stat((r) => r.certsPerSecond),
        flowP50Ms: stat((r) => r.flow.p50),
        flowP95Ms: stat((r) => r.flow.p95),
        flowP99Ms: stat((r) => r.flow.p99),
        serverCpuMsPerCert: stat((r) => r.serverCpuMsPerCert),
        postgresCpuMsPerCert: stat((r) => r.postgresCpuMsPerCert),
        totalCpuMsPerCert: stat((r) => r.serverCpuMsPerCert + r.postgresCpuMsPerCert),
        peakRssMb: stat((r) => r.peakRssMb),
        driverCpuMsPerCert: stat((r) => r.driverCpuMsPerCert),
        errors: mine.reduce((acc, r) => { for (const [k, v] of Object.entries(r.errors)) acc[k] = (acc[k] ?? 0) + v; return acc; }, {} as Record<string, number>),
      }];
    }),
  );
  const pgVersion = await (async () => { const c = new pg.Client(args['database-url']); await c.connect(); const v = (await c.query('SHOW server_version')).rows[0].server_version; await c.end(); return v; })();
  const report = {
    date: new Date().toISOString(),
    label: args.label,
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, memGb: Math.round(os.totalmem() / 2 ** 30), kernel: os.release() },
    versions: { node: process.version, postgres: pgVersion, attestca: JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).version, commit: execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim(), pebble: '2.4.0 (Debian pebble 2.4.0+ds1-2)' },
    parameters: { flow, concurrency: C, durationSeconds: Number(args.duration), warmupSeconds: Number(args.warmup), rounds: Number(args.rounds), targets, attestcaWorkers: Number(args['attestca-workers']), seedCertificates: seedN, seedRevoked },
    // The seeded database each round started from: rows, time to seed it, table sizes (bytes).
    seeding: seedN > 0 ? Object.fromEntries(Object.entries(seeded).map(([k, { source: _, ...v }]) => [k, v])) : undefined,
    summary,
    ratios: summary.attestca && summary.pebble ? { throughput: summary.attestca.certsPerSecond.median / summary.pebble.certsPerSecond.median, p99: summary.attestca.flowP99Ms.median / summary.pebble.flowP99Ms.median } : undefined,
    // Runs that stopped answering, were killed and tried again: not part of the figures.
    hung,
    runs,
  };
  mkdirSync(path.join(root, 'bench/results'), { recursive: true });
  const file = path.join(root, 'bench/results', `${report.date.slice(0, 19).replace(/:/g, '')}-${flow}${args.label ? '-' + args.label : ''}.json`);
  writeFileSync(file, JSON.stringify(report, null, 1) + '\n');
  process.stdout.write(JSON.stringify({ summary, ratios: report.ratios }, null, 1) + `\nwritten ${path.relative(root, file)}\n`);
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
