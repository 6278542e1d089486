// http-01 validation (RFC 8555 §8.3): fetch http://<identifier>:<port>/.well-known/acme-challenge/<token>
// and compare the body with the key authorization. Bounded in time, body size and redirects.
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { AcmeError } from '../errors.js';
import type { Identifier } from '../core.js';
import type { DnsResolver } from './resolver.js';

export interface Http01Options {
  resolver: DnsResolver;
  /** The port the validator connects to (--http01-port; 80 in production). */
  port: number;
  /** Port allowed for redirects to https (--tlsalpn01-port; 443 in production). */
  httpsPort: number;
  timeoutMs: number;
}

/** RFC 8555 §8.3 leaves the bounds to the server; Boulder's are the same order of magnitude. */
const MAX_REDIRECTS = 10;
const MAX_BODY_BYTES = 8 * 1024;

export async function validateHttp01(identifier: Identifier, token: string, keyAuthorization: string, o: Http01Options): Promise<void> {
  const host = identifier.type === 'ip' && identifier.value.includes(':') ? `[${identifier.value}]` : identifier.value;
  let url = new URL(`http://${host}:${o.port}/.well-known/acme-challenge/${token}`);
  const deadline = Date.now() + o.timeoutMs;

  for (let hop = 0; ; hop++) {
    const res = await fetchOnce(url, identifier, o, deadline);
    if (res.status >= 300 && res.status < 400 && res.location !== undefined) {
      if (hop >= MAX_REDIRECTS) throw new AcmeError('connection', `too many redirects (over ${MAX_REDIRECTS}) fetching ${url.href}`);
      url = redirectTarget(url, res.location, o);
      continue;
    }
    if (res.status !== 200) {
      throw new AcmeError('unauthorized', `invalid response from ${url.href}: HTTP ${res.status}`);
    }
    // RFC 8555 §8.3: the body is the key authorization; trailing whitespace is tolerated.
    const body = res.body.replace(/\s+$/, '');
    if (body !== keyAuthorization) {
      const shown = body.length > 100 ? `${body.slice(0, 100)}…` : body;
      throw new AcmeError('incorrectResponse', `the key authorization served at ${url.href} is "${shown}", expected "${keyAuthorization}"`);
    }
    return;
  }
}

function redirectTarget(from: URL, location: string, o: Http01Options): URL {
  let to: URL;
  try {
    to = new URL(location, from);
  } catch {
    throw new AcmeError('connection', `redirect from ${from.href} to an invalid URL: ${location.slice(0, 200)}`);
  }
  const defaultPort = to.protocol === 'http:' ? o.port : o.httpsPort;
  if (to.protocol !== 'http:' && to.protocol !== 'https:') throw new AcmeError('connection', `redirect from ${from.href} to a non-HTTP URL ${to.href}`);
  if (to.port && Number(to.port) !== defaultPort) throw new AcmeError('connection', `redirect from ${from.href} to port ${to.port}; only ${o.port} (http) and ${o.httpsPort} (https) are followed`);
  to.port = String(defaultPort);
  return to;
}

interface FetchResult {
  status: number;
  location: string | undefined;
  body: string;
}

async function fetchOnce(url: URL, identifier: Identifier, o: Http01Options, deadline: number): Promise<FetchResult> {
  const hostname = url.hostname.replace(/^\[|\]$/g, '');
  const isAddress = /^[\d.]+$/.test(hostname) || hostname.includes(':');
  const addresses = isAddress ? [hostname] : await o.resolver.addresses(hostname);
  let lastError: AcmeError | undefined;
  // Try each address (IPv6 first) until one answers; a refused connection falls through.
  for (const address of addresses) {
    try {
      return await request(url, address, deadline);
    } catch (err) {
      lastError = err as AcmeError;
      if (!(err instanceof AcmeError) || err.type !== 'connection' || Date.now() >= deadline) break;
    }
  }
  throw lastError ?? new AcmeError('connection', `no address to connect to for ${identifier.value}`);
}

function request(url: URL, address: string, deadline: number): Promise<FetchResult> {
  const lookup: LookupFunction = (_h, opts, cb) => {
    const family = address.includes(':') ? 6 : 4;
    if ((opts as { all?: boolean }).all) (cb as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address, family }]);
    else cb(null, address, family);
  };
  const mod = url.protocol === 'https:' ? https : http;
  const remaining = Math.max(1, deadline - Date.now());
  return new Promise<FetchResult>((resolve, reject) => {
    const req = mod.get(
      url,
      {
        lookup,
        // Redirects to https are fetched without checking the certificate: the key authorization
        // in the body is the proof (RFC 8555 §8.3 and §10.2).
        rejectUnauthorized: false,
        headers: { 'user-agent': 'attestca-va', accept: '*/*', connection: 'close' },
        timeout: remaining,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_BODY_BYTES) {
            req.destroy(new AcmeError('unauthorized', `response from ${url.href} is larger than ${MAX_BODY_BYTES} bytes`));
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (e) => reject(e instanceof AcmeError ? e : connectionError(url, address, e)));
      },
    );
    const timer = setTimeout(() => req.destroy(new AcmeError('connection', `timeout after ${Math.round(remaining / 1000)}s fetching ${url.href} from ${address}`)), remaining);
    req.on('timeout', () => req.destroy(new AcmeError('connection', `timeout fetching ${url.href} from ${address}`)));
    req.on('error', (e) => reject(e instanceof AcmeError ? e : connectionError(url, address, e)));
    req.on('close', () => clearTimeout(timer));
  });
}

function connectionError(url: URL, address: string, err: Error): AcmeError {
  const code = (err as NodeJS.ErrnoException).code ?? err.message;
  return new AcmeError('connection', `fetching ${url.href} from ${address}: ${code}`, { cause: err });
}
