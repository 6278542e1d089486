// The composition root: config → db → migrate → sa, ca (with the OCSP signer), va, ra, wfe → listen,
// then the background loops: recovery, the CRL schedule, OCSP signer renewal. The only module
// that imports every role (DESIGN.md).
import { mkdirSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { AcmeUrls } from './acme/urls.js';
import { CertificateAuthority } from './ca/authority.js';
import { createDevHierarchy, devPassphrase, hierarchyExists, loadHierarchy } from './ca/hierarchy.js';
import { OcspResponder } from './ca/ocsp.js';
import { OcspSignerStore } from './ca/ocsp-signer.js';
import { systemClock, type Clock } from './clock.js';
import { splitHostPort, type Config } from './config.js';
import { safeDatabaseUrl, type Logger } from './log.js';
import { Background } from './ra/background.js';
import type { RaContext } from './ra/context.js';
import { AccountKeys } from './acme/account-keys.js';
import { Nonces } from './acme/nonce.js';
import { startCrlSchedule } from './ra/crl.js';
import { keepOcspSignerFresh, ensureOcspSigner } from './ra/ocsp-signer.js';
import { startRecovery } from './ra/recovery.js';
import type { Db } from './sa/db.js';
import { openPglite } from './sa/db-pglite.js';
import { openPostgres } from './sa/db-postgres.js';
import { migrate } from './sa/migrate.js';
import { NonceRedeemer, nonceKey } from './sa/nonces.js';
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

export async function loadCa(config: Config, log: Logger, clock: Clock): Promise<{ ca: CertificateAuthority; ocspStore: OcspSignerStore }> {
  const caDir = path.join(config.dataDir, 'ca');
  if (!hierarchyExists(caDir)) {
    log.warn({ caDir }, 'no CA in the data directory: created a DEVELOPMENT root and intermediate whose key passphrase is stored beside them; run `attestca init` for a production CA');
    await createDevHierarchy(caDir, clock.now());
  }
  const passphrase = config.ca.passphrase ?? devPassphrase(caDir);
  const hierarchy = loadHierarchy(caDir, passphrase);
  const ca = await CertificateAuthority.create(hierarchy, new AcmeUrls(config.baseUrl), config.ca.alternateChains);
  return { ca, ocspStore: new OcspSignerStore(caDir, passphrase) };
}

export async function startServer(config: Config, log: Logger, clock: Clock = systemClock): Promise<RunningServer> {
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const db = await openDatabase(config, log);
  try {
    const applied = await migrate(db);
    if (applied.length) log.info({ applied }, 'database migrated');
    const { ca, ocspStore } = await loadCa(config, log, clock);
    const va = new ValidationAuthority({
      resolver: createResolver(config.dnsServer, config.acme.dnsTimeout),
      http01Port: config.http01Port,
      tlsalpn01Port: config.tlsalpn01Port,
      http01TimeoutMs: config.acme.http01Timeout,
      tlsalpn01TimeoutMs: config.acme.tlsalpn01Timeout,
      caa: { enabled: config.acme.caa.enabled, identities: config.acme.caaIdentities },
      deviceAttest: config.deviceAttest,
    });
    const ocsp = new OcspResponder(ca.issuerDer);
    const nonces = new Nonces(await nonceKey(db, clock.now()), config.acme.nonceLifetime);
    const ctx: RaContext = { db, ca, ocsp, va, clock, config, log, urls: new AcmeUrls(config.baseUrl), background: new Background(log), nonces, redeemer: new NonceRedeemer(db), accountKeys: new AccountKeys() };
    await ensureOcspSigner(ctx, ocspStore);
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
    const stopCrl = startCrlSchedule(ctx);
    const stopOcspSigner = keepOcspSignerFresh(ctx, ocspStore);
    log.info({ directory: ctx.urls.directory, listen: `${host}:${bound}`, tls: config.tls, crl: ctx.urls.crl(ca.issuerId), ocsp: ctx.urls.ocsp }, 'attestca is serving');

    return {
      baseUrl: config.baseUrl,
      port: bound,
      ctx,
      async close() {
        await stopRecovery();
        await stopCrl();
        stopOcspSigner();
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
