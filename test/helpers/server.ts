// Starts a real attestca server in this process on loopback, over HTTPS, on PGlite or Postgres.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import type { Clock } from '../../src/clock.js';
import { loadConfig, type ConfigOverrides } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { startServer, type RunningServer } from '../../src/main.js';
import { createPostgresDatabase, type Backend } from './db.js';
import { freePort } from './net.js';

export interface TestServer extends RunningServer {
  directory: string;
  dataDir: string;
  rootsPem: string;
  /** An https agent that trusts this CA's root. */
  agent: https.Agent;
  databaseUrl: string | undefined;
  stop(): Promise<void>;
}

export interface TestServerOptions {
  backend: Backend;
  dnsServer?: string;
  http01Port?: number;
  overrides?: ConfigOverrides;
  /** Reuse a data directory / database (restart tests). */
  dataDir?: string;
  databaseUrl?: string;
  /** Extra config file (YAML text) for keys without a flag. */
  configYaml?: string;
  /** Where the server's JSON log lines go (default: nowhere unless ATTESTCA_TEST_LOG is set). */
  logLines?: string[];
  /** The server's clock (default: the system clock), for tests that move time. */
  clock?: Clock;
}

export async function startTestServer(o: TestServerOptions): Promise<TestServer> {
  const dataDir = o.dataDir ?? mkdtempSync(path.join(os.tmpdir(), 'attestca-test-'));
  let databaseUrl = o.databaseUrl;
  let dropDb: (() => Promise<void>) | undefined;
  if (o.backend === 'postgres' && !databaseUrl) {
    const created = await createPostgresDatabase();
    databaseUrl = created.url;
    dropDb = created.drop;
  }
  let configFile: string | undefined;
  if (o.configYaml) {
    configFile = path.join(dataDir, 'test-config.yaml');
    (await import('node:fs')).writeFileSync(configFile, o.configYaml);
  }
  const port = await freePort();
  const config = loadConfig({
    configFile,
    env: {},
    overrides: {
      dataDir,
      listen: `127.0.0.1:${port}`,
      baseUrl: `https://localhost:${port}`,
      databaseUrl,
      dnsServer: o.dnsServer,
      http01Port: o.http01Port === undefined ? undefined : String(o.http01Port),
      logLevel: o.logLines ? 'info' : (process.env.ATTESTCA_TEST_LOG ?? 'silent'),
      ...o.overrides,
    },
  });
  const lines = o.logLines;
  const destination = lines ? { write: (line: string) => void lines.push(line) } : undefined;
  const server = await startServer(config, createLogger(config.logLevel, destination), o.clock);
  const rootsPem = readFileSync(path.join(dataDir, 'ca', 'roots.pem'), 'utf8');
  const agent = new https.Agent({ ca: rootsPem, keepAlive: true });
  return {
    ...server,
    close: server.close,
    directory: `${server.baseUrl}/directory`,
    dataDir,
    rootsPem,
    agent,
    databaseUrl,
    async stop() {
      agent.destroy();
      await server.close();
      if (!o.dataDir) rmSync(dataDir, { recursive: true, force: true });
      await dropDb?.();
    },
  };
}
