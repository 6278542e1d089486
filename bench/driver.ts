// The load driver: C concurrent workers, each with its own account, running whole ACME flows
// (newOrder → authorization → challenge → finalize → download) for D seconds against any
// directory URL. It serves the http-01 responses itself and times every request type.
import { createHash, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { deviceCsr, deviceFacts } from '../src/devicesim/device.js';
import { issuerOf, type SimHierarchy } from '../src/devicesim/hierarchy.js';
import { AttestationFactory } from './attestation.js';
import { Account, Http, ProblemError, type Reply } from './client.js';
import { CsrFactory } from './csr.js';

export type Flow = 'http-01' | 'device-attest';

export interface DriverOptions {
  directory: string;
  concurrency: number;
  durationMs: number;
  flow: Flow;
  /** PEM roots for the server's HTTPS. */
  ca: string | undefined;
  /** Names are <worker>.<suffix>; the DNS responder must answer them with 127.0.0.1. */
  nameSuffix: string;
  responder: Http01Responder;
  /**
   * Pebble 2.4 deadlocks when a newOrder overlaps an authorization fetch under concurrency; when
   * driving Pebble those two request types go one at a time. Never set against attestca.
   */
  serializeOrderAndAuthz: boolean;
  /** For device-attest: the simulator hierarchy the server trusts for "apple". */
  sim?: SimHierarchy;
}

export interface DriverResult {
  certs: number;
  elapsedMs: number;
  errors: Record<string, number>;
  /** The first detail seen for each error type, to tell what went wrong. */
  errorSamples: Record<string, string>;
  flowMs: number[];
  requestMs: Record<string, number[]>;
  driverCpuMs: number;
}

export interface Http01Responder {
  port: number;
  set(token: string, keyAuthorization: string): void;
  delete(token: string): void;
  close(): Promise<void>;
}

export async function startHttp01Responder(port: number): Promise<Http01Responder> {
  const tokens = new Map<string, string>();
  const server = http.createServer((req, res) => {
    const token = (req.url ?? '').slice('/.well-known/acme-challenge/'.length);
    const body = tokens.get(token);
    if (body === undefined) res.writeHead(404).end();
    else res.writeHead(200, { 'content-type': 'text/plain' }).end(body);
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    set: (t, k) => tokens.set(t, k),
    delete: (t) => tokens.delete(t),
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A one-at-a-time lock (the Pebble workaround). */
class Mutex {
  private tail: Promise<void> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.then(
      () => {},
      () => {},
    );
    return result;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** POST-as-GET until the resource leaves pending/processing (bounded: 30 s). */
async function settle(acct: Account, type: string, url: string, first: any): Promise<any> {
  let body = first;
  const end = Date.now() + 30_000;
  for (let wait = 5; body.status === 'pending' || body.status === 'processing'; wait = Math.min(wait * 2, 200)) {
    if (Date.now() > end) throw new ProblemError('driver-timeout', `${url} still ${body.status}`);
    await sleep(wait);
    body = (await acct.post(type, url, '')).json();
  }
  return body;
}

export async function runDriver(o: DriverOptions): Promise<DriverResult> {
  const http = new Http(o.ca, o.concurrency * 2);
  const dir = (await http.request(o.directory, 'GET')).json() as Record<string, string>;
  const requestMs: Record<string, number[]> = {};
  const timing = (type: string, ms: number) => (requestMs[type] ??= []).push(ms);
  const errors: Record<string, number> = {};
  const errorSamples: Record<string, string> = {};
  const flowMs: number[] = [];
  const lock = new Mutex();
  const gate = <T>(fn: () => Promise<T>) => (o.serializeOrderAndAuthz ? lock.run(fn) : fn());
  let certs = 0;

  // Accounts, keys and CSRs are made before the clock starts: the run measures issuance.
  const workers = await Promise.all(
    Array.from({ length: o.concurrency }, async (_, i) => {
      const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
      const serial = `BENCH${String(i).padStart(5, '0')}`;
      const device = o.flow === 'device-attest';
      const deviceCsrB64 = device ? (await deviceCsr(key, serial)).toString('base64url') : '';
      const attestations = device ? await AttestationFactory.create(key, deviceFacts({ serial }), issuerOf(o.sim!)) : undefined;
      return { i, n: 0, key, serial, csrs: new CsrFactory(key), deviceCsrB64, attestations, acct: await Account.create(http, dir, timing) };
    }),
  );

  const flow = async (w: (typeof workers)[number]) => {
    const { acct } = w;
    // A fresh name per flow: a server that reuses valid authorizations (Pebble does, RFC 8555
    // §7.1.3 allows it) would otherwise skip validation, and the run would not measure it.
    const name = `f${w.n++}.w${w.i}.${o.nameSuffix}`;
    const identifier = o.flow === 'http-01' ? { type: 'dns', value: name } : { type: 'permanent-identifier', value: w.serial };
    const csr = o.flow === 'http-01' ? w.csrs.forName(name) : w.deviceCsrB64;
    const created = await gate(() => acct.post('new-order', dir.newOrder!, { identifiers: [identifier] }));
    const orderUrl = created.headers.location as string;
    const order = created.json();
    const authz = (await gate(() => acct.post('authz', order.authorizations[0], ''))).json();
    let answered: Reply;
    if (o.flow === 'http-01') {
      const ch = authz.challenges.find((c: { type: string }) => c.type === 'http-01');
      o.responder.set(ch.token, `${ch.token}.${acct.thumbprint}`);
      answered = await acct.post('challenge', ch.url, {});
      const result = await settle(acct, 'authz', order.authorizations[0], { status: answered.json().status === 'valid' ? 'valid' : 'pending' });
      o.responder.delete(ch.token);
      if (result.status !== 'valid') throw new ProblemError('authz-' + result.status, JSON.stringify(result.challenges?.[0]?.error ?? {}));
    } else {
      const ch = authz.challenges.find((c: { type: string }) => c.type === 'device-attest-01');
      answered = await acct.post('challenge', ch.url, { attObj: w.attestations!.forToken(ch.token) });
      if (answered.json().status !== 'valid') throw new ProblemError('challenge-' + answered.json().status, JSON.stringify(answered.json().error ?? {}));
    }
    const fin = (await acct.post('finalize', order.finalize, { csr })).json();
    const done = await settle(acct, 'order', orderUrl, fin);
    if (done.status !== 'valid') throw new ProblemError('order-' + done.status, JSON.stringify(done.error ?? {}));
    const cert = await acct.post('certificate', done.certificate, '');
    if (!cert.body.includes('BEGIN CERTIFICATE')) throw new ProblemError('no-certificate', cert.body.toString().slice(0, 100));
  };

  const cpu0 = process.cpuUsage();
  const started = performance.now();
  const end = Date.now() + o.durationMs;
  await Promise.all(
    workers.map(async (w) => {
      while (Date.now() < end) {
        const t = performance.now();
        try {
          await flow(w);
          flowMs.push(performance.now() - t);
          certs++;
        } catch (err) {
          const type = err instanceof ProblemError ? err.type : (err as Error).message.slice(0, 80);
          errors[type] = (errors[type] ?? 0) + 1;
          errorSamples[type] ??= (err as Error).message.slice(0, 300);
          w.acct.nonce = undefined;
        }
      }
    }),
  );
  const elapsedMs = performance.now() - started;
  const cpu = process.cpuUsage(cpu0);
  http.agent.destroy();
  return { certs, elapsedMs, errors, errorSamples, flowMs, requestMs, driverCpuMs: (cpu.user + cpu.system) / 1000 };
}

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export function summarise(r: DriverResult) {
  const lat = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return { n: s.length, p50: percentile(s, 50), p95: percentile(s, 95), p99: percentile(s, 99) };
  };
  return {
    certs: r.certs,
    certsPerSecond: (r.certs * 1000) / r.elapsedMs,
    flow: lat(r.flowMs),
    requests: Object.fromEntries(Object.entries(r.requestMs).map(([k, v]) => [k, lat(v)])),
    errors: r.errors,
    errorSamples: r.errorSamples,
    driverCpuMsPerCert: r.certs ? r.driverCpuMs / r.certs : NaN,
  };
}

export const sha256hex = (s: string) => createHash('sha256').update(s).digest('hex');
