// The composition root: config → db → migrate → sa, ca, va, ra, wfe → listen. The only module
// that imports every role (DESIGN.md).
import { mkdirSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { AcmeUrls } from './acme/urls.js';
import { CertificateAuthority } from './ca/authority.js';
import { createDevHierarchy, devPassphrase, hierarchyExists, loadHierarchy } from './ca/hierarchy.js';
import { systemClock, type Clock } from './clock.js';
import { splitHostPort, type Config } from './config.js';
import { safeDatabaseUrl, type Logger } from './log.js';
import { Background } from './ra/background.js';
import type { RaContext } from './ra/context.js';
import { startRecovery } from './ra/recovery.js';
import type { Db } from './sa/db.js';
import { openPglite } from './sa/db-pglite.js';
import { openPostgres } from './sa/db-postgres.js';
import { migrate } from './sa/migrate.js';
import { keepTlsFresh, tlsMaterial } from './tls.js';
import { ValidationAuthority } from './va/authority.js';
import { createResolver } from './va/resolver.js';
import { createApp } from './wfe/app.js';

export interface RunningServer {
  /** The base URL clients use (from config). */
  baseUrl: string;
  /** The address actually bound (useful with port 0). */
  port: number;
  ctx: RaContext;
  close(): Promise<void>;
}

export async function openDatabase(config: Config, log: Logger): Promise<Db> {
  if (config.databaseUrl) {
    log.info({ database: safeDatabaseUrl(config.databaseUrl) }, 'using the Postgres server');
    return openPostgres(config.databaseUrl);
  }
  const dir = path.join(config.dataDir, 'pgdata');
  log.info({ database: dir }, 'using the embedded database (PGlite)');
  return openPglite(dir);
}

export async function loadCa(config: Config, log: Logger, clock: Clock): Promise<CertificateAuthority> {
  const caDir = path.join(config.dataDir, 'ca');
  if (!hierarchyExists(caDir)) {
    log.warn({ caDir }, 'no CA in the data directory: created a DEVELOPMENT root and intermediate whose key passphrase is stored beside them; run `attestca init` for a production CA');
    await createDevHierarchy(caDir, clock.now());
  }
  const hierarchy = loadHierarchy(caDir, config.ca.passphrase ?? devPassphrase(caDir));
  return CertificateAuthority.create(hierarchy);
}

export async function startServer(config: Config, log: Logger, clock: Clock = systemClock): Promise<RunningServer> {
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const db = await openDatabase(config, log);
  try {
    const applied = await migrate(db);
    if (applied.length) log.info({ applied }, 'database migrated');
    const ca = await loadCa(config, log, clock);
    const va = new ValidationAuthority({
      resolver: createResolver(config.dnsServer, config.acme.dnsTimeout),
      http01Port: config.http01Port,
      tlsalpn01Port: config.tlsalpn01Port,
      http01TimeoutMs: config.acme.http01Timeout,
      tlsalpn01TimeoutMs: config.acme.tlsalpn01Timeout,
      caa: { enabled: config.acme.caa.enabled, identities: config.acme.caaIdentities },
      deviceAttest: config.deviceAttest,
    });
    const ctx: RaContext = { db, ca, va, clock, config, log, urls: new AcmeUrls(config.baseUrl), background: new Background(log) };
    const app = createApp(ctx);

    let server: http.Server;
    let stopTls = () => {};
    if (config.tls === 'auto') {
      const issueTls = () => tlsMaterial(config, ca, db, clock, log);
      const tls = await issueTls();
      const httpsServer = https.createServer({ cert: tls.cert, key: tls.key }, app);
      stopTls = keepTlsFresh(httpsServer, tls, issueTls, clock, log);
      server = httpsServer;
    } else {
      server = http.createServer(app);
    }
    server.keepAliveTimeout = 30_000;
    const { host, port } = splitHostPort(config.listen);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    const bound = (server.address() as AddressInfo).port;
    const stopRecovery = startRecovery(ctx, 5_000);
    log.info({ directory: ctx.urls.directory, listen: `${host}:${bound}`, tls: config.tls }, 'attestca is serving');

    return {
      baseUrl: config.baseUrl,
      port: bound,
      ctx,
      async close() {
        await stopRecovery();
        stopTls();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await ctx.background.drain();
        await db.close();
      },
    };
  } catch (err) {
    await db.close().catch(() => {});
    throw err;
  }
}
