import cluster from 'node:cluster';
import { asyncStdout, createLogger, type Logger } from '../log.js';
import { loadCa, openDatabase, startServer } from '../main.js';
import type { Config } from '../config.js';
import { migrate } from '../sa/migrate.js';
import { configFromFlags, parseFlags, serveOptions } from './common.js';

export const serveHelp = `attestca serve: run the ACME certificate authority

Usage: attestca serve [flags]

With no flags it serves https://localhost:8443/directory on the embedded database under
./data, creating a development CA there on first start.

Flags (each also settable in the config file and by environment variable):
  --config FILE            YAML or JSON config file (ATTESTCA_CONFIG); see config/attestca.example.yaml
  --data-dir DIR           state directory: CA files, embedded database (dataDir, ATTESTCA_DATA_DIR; default ./data)
  --listen HOST:PORT       address to bind (listen, ATTESTCA_LISTEN; default 0.0.0.0:8443)
  --base-url URL           URL clients reach the CA at (baseUrl, ATTESTCA_BASE_URL; default https://localhost:<port>)
  --database-url URL       a Postgres server instead of the embedded database (databaseUrl, DATABASE_URL)
  --tls auto|off           auto: serve HTTPS with a certificate from this CA, or --tls-cert/--tls-key;
                           off: plain HTTP behind a TLS-terminating proxy (tls, ATTESTCA_TLS; default auto)
  --tls-cert FILE          HTTPS certificate chain to serve instead (tlsCertFile, ATTESTCA_TLS_CERT)
  --tls-key FILE           its private key (tlsKeyFile, ATTESTCA_TLS_KEY)
  --http01-port N          port the http-01 validator connects to (http01Port, ATTESTCA_HTTP01_PORT; default 80)
  --tlsalpn01-port N       port the tls-alpn-01 validator connects to (tlsalpn01Port, ATTESTCA_TLSALPN01_PORT; default 443)
  --dns-server HOST:PORT   resolver for validation lookups (dnsServer, ATTESTCA_DNS_SERVER; default: the system's)
  --attestation-root FORMAT=PEMFILE
                           trust anchors for one device-attest-01 format (apple, step, tpm, android-key),
                           replacing its built-in roots; repeatable (deviceAttest.roots.FORMAT,
                           ATTESTCA_ATTESTATION_ROOTS as FORMAT=FILE,…)
  --passphrase-file FILE   passphrase of the CA keys (ca.passphraseFile, ATTESTCA_CA_PASSPHRASE_FILE;
                           or the passphrase itself in ATTESTCA_CA_PASSPHRASE)
  --log-level LEVEL        fatal|error|warn|info|debug|trace|silent (logLevel, ATTESTCA_LOG_LEVEL; default info)
  --workers N              processes sharing the listening socket, one per core (workers, ATTESTCA_WORKERS;
                           default 1); more than one needs --database-url
  -h, --help               this text
`;

/** The exit status when the database is gone for good (EX_SOFTWARE of sysexits.h). */
const EXIT_DATABASE_LOST = 70;

export async function serve(args: string[]): Promise<number> {
  const { values } = parseFlags(args, serveOptions);
  if (values.help) {
    process.stdout.write(serveHelp);
    return 0;
  }
  const config = configFromFlags(values);
  const log = createLogger(config.logLevel, asyncStdout());
  if (config.workers > 1 && cluster.isPrimary) return supervise(config, log);
  const server = await startServer(config, log);
  // The embedded database's thread gone, every request would fail: exit instead, so that the
  // supervisor (systemd, a container runtime) starts the CA again on its data directory.
  const lost = server.ctx.db.lost?.then((err) => {
    log.fatal({ err }, 'the embedded database stopped: exiting so that a supervisor starts the CA again');
    return EXIT_DATABASE_LOST;
  });
  const code = await Promise.race([untilSignal(log).then(() => 0), ...(lost ? [lost] : [])]);
  if (code !== 0) {
    // Still listening, with requests in flight that cannot finish: no orderly close.
    process.exit(code);
  }
  await server.close();
  // A cluster worker stays alive while its channel to the primary is open.
  if (cluster.isWorker) cluster.worker?.disconnect();
  return 0;
}

function untilSignal(log: Logger): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, 'shutting down');
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

/**
 * Several processes on one socket (node:cluster hands connections out round-robin). Each worker is
 * a whole instance: all state is in Postgres, so any worker serves any request. The primary
 * prepares what must happen once — the CA files and the migrations — then forks the workers and
 * replaces one that dies.
 */
async function supervise(config: Config, log: Logger): Promise<number> {
  await loadCa(config, log, { now: () => new Date() });
  const db = await openDatabase(config, log);
  try {
    await migrate(db);
  } finally {
    await db.close();
  }
  let stopping = false;
  const fork = () => cluster.fork();
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    log.error({ pid: worker.process.pid, code, signal }, 'worker died; starting another');
    setTimeout(fork, 1000).unref();
  });
  for (let i = 0; i < config.workers; i++) fork();
  log.info({ workers: config.workers }, 'started worker processes');
  await untilSignal(log);
  stopping = true;
  const workers = Object.values(cluster.workers ?? {});
  await Promise.all(
    workers.map(
      (w) =>
        new Promise<void>((resolve) => {
          if (!w || w.isDead()) return resolve();
          w.once('exit', () => resolve());
          w.process.kill('SIGTERM');
        }),
    ),
  );
  return 0;
}
