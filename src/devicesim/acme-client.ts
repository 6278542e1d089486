// A small ACME client (RFC 8555) for the device simulator, over node:https with jose: flattened
// JWS signed with ES256 (§6.2), the account URL as "kid" after newAccount (§6.2), nonces taken
// from every response and retried once on badNonce (§6.5), POST-as-GET (§6.3), and polling
// bounded in time that honours Retry-After (§7.5.1, §7.4). It speaks only what an Apple device
// needs; it is not a general client (certbot, lego and acme-client are).
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import { exportJWK, FlattenedSign, type JWK } from 'jose';

const ACME_ERROR = 'urn:ietf:params:acme:error:';
/** Responses larger than this are not ACME (a certificate chain is a few KiB). */
const MAX_BODY = 1024 * 1024;
const REQUEST_TIMEOUT_MS = 15_000;

export interface Problem {
  type: string;
  detail?: string;
  status?: number;
  subproblems?: { type: string; detail?: string; identifier?: { type: string; value: string } }[];
}

/** The server answered with a problem document (RFC 7807), or a resource ended invalid with one. */
export class AcmeProblemError extends Error {
  override name = 'AcmeProblemError';
  constructor(
    /** What the client was doing: "newOrder", "challenge", "finalize"… */
    readonly step: string,
    readonly problem: Problem,
    readonly httpStatus?: number,
  ) {
    super(`${step}: ${shortType(problem.type)}: ${problem.detail ?? '(no detail)'}`);
  }
}

/** The server could not be reached or did not speak HTTP/ACME (connection, TLS, timeout, garbage). */
export class AcmeTransportError extends Error {
  override name = 'AcmeTransportError';
  constructor(
    message: string,
    /** Node's error code (ECONNREFUSED, UNABLE_TO_VERIFY_LEAF_SIGNATURE…), when there is one. */
    readonly code?: string,
  ) {
    super(message);
  }
}

export const shortType = (type: string): string => (type.startsWith(ACME_ERROR) ? type.slice(ACME_ERROR.length) : type);

export interface AcmeResponse {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** The parsed JSON body, when the body is JSON. */
  json: any;
  location: string | undefined;
}

export interface Directory {
  newNonce: string;
  newAccount: string;
  newOrder: string;
  [k: string]: unknown;
}

function send(url: string, agent: https.Agent, method: string, headers: Record<string, string>, body?: string): Promise<AcmeResponse> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method, headers: { 'user-agent': 'attestca-device-sim', ...headers }, agent }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) req.destroy(new AcmeTransportError(`${method} ${url}: response larger than ${MAX_BODY} bytes`));
        else chunks.push(c);
      });
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        if (/json/.test(res.headers['content-type'] ?? '')) {
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
        }
        const location = typeof res.headers.location === 'string' ? new URL(res.headers.location, url).href : undefined;
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json, location });
      });
      res.on('error', reject);
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      reject(err instanceof AcmeTransportError ? err : new AcmeTransportError(`${method} ${url}: ${err.message}`, err.code));
    });
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new AcmeTransportError(`${method} ${url}: no answer within ${REQUEST_TIMEOUT_MS / 1000} s`, 'ETIMEDOUT')));
    req.end(body);
  });
}

/** The problem document of a failed response, or a stand-in when the server sent none. */
function problemOf(r: AcmeResponse): Problem {
  if (r.json && typeof r.json === 'object' && typeof r.json.type === 'string') return r.json as Problem;
  return { type: 'about:blank', detail: `HTTP ${r.status}${r.text ? `: ${r.text.slice(0, 300)}` : ''}`, status: r.status };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP date; undefined when absent or unreadable. */
function retryAfterMs(r: AcmeResponse): number | undefined {
  const v = r.headers['retry-after'];
  if (typeof v !== 'string') return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

export interface ConnectOptions {
  directoryUrl: string;
  agent: https.Agent;
  /** The account key; a new P-256 key when absent. */
  accountKey?: KeyObject;
}

export class AcmeClient {
  /** The account URL, set by newAccount; signs as "kid" from then on. */
  kid: string | undefined;
  private nonce: string | undefined;

  private constructor(
    readonly directory: Directory,
    private readonly agent: https.Agent,
    private readonly key: KeyObject,
    private readonly jwk: JWK,
  ) {}

  static async connect(o: ConnectOptions): Promise<AcmeClient> {
    const url = new URL(o.directoryUrl);
    // Apple devices only accept an https DirectoryURL (com.apple.security.acme, DirectoryURL).
    if (url.protocol !== 'https:') throw new AcmeTransportError(`the directory URL must be https (Apple devices refuse anything else): ${o.directoryUrl}`);
    const key = o.accountKey ?? generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    if (key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') throw new Error('the account key must be an EC P-256 key (ES256)');
    const { kty, crv, x, y } = await exportJWK(key);
    const r = await send(url.href, o.agent, 'GET', { accept: 'application/json' });
    if (r.status !== 200 || !r.json || typeof r.json.newNonce !== 'string' || typeof r.json.newAccount !== 'string' || typeof r.json.newOrder !== 'string') {
      throw new AcmeTransportError(`GET ${url.href}: not an ACME directory (HTTP ${r.status})`);
    }
    return new AcmeClient(r.json as Directory, o.agent, key, { kty, crv, x, y });
  }

  private remember(r: AcmeResponse): void {
    const n = r.headers['replay-nonce'];
    if (typeof n === 'string' && n) this.nonce = n;
  }

  private async freshNonce(): Promise<string> {
    if (this.nonce) {
      const n = this.nonce;
      this.nonce = undefined; // a nonce is good for one request (§6.5)
      return n;
    }
    const r = await send(this.directory.newNonce, this.agent, 'HEAD', {});
    const n = r.headers['replay-nonce'];
    if (typeof n !== 'string' || !n) throw new AcmeTransportError(`HEAD ${this.directory.newNonce}: no Replay-Nonce header (HTTP ${r.status})`);
    return n;
  }

  private async sign(url: string, payload: unknown): Promise<string> {
    const header: Record<string, unknown> = { alg: 'ES256', nonce: await this.freshNonce(), url };
    if (this.kid) header.kid = this.kid;
    else header.jwk = this.jwk;
    // POST-as-GET (§6.3) has an empty payload, not "{}" nor "null".
    const bytes = payload === undefined ? new Uint8Array() : new TextEncoder().encode(JSON.stringify(payload));
    return JSON.stringify(await new FlattenedSign(bytes).setProtectedHeader(header as never).sign(this.key));
  }

  /**
   * A signed POST; `payload` undefined means POST-as-GET. Retries once when the server says
   * badNonce (§6.5: the client should retry with the nonce that came with the error). Throws
   * AcmeProblemError for any 4xx/5xx answer.
   */
  async post(step: string, url: string, payload?: unknown, accept = 'application/json'): Promise<AcmeResponse> {
    for (let attempt = 0; ; attempt++) {
      const body = await this.sign(url, payload);
      const r = await send(url, this.agent, 'POST', { 'content-type': 'application/jose+json', accept }, body);
      this.remember(r);
      if (r.status < 400) return r;
      const problem = problemOf(r);
      if (problem.type === `${ACME_ERROR}badNonce` && attempt === 0) continue;
      throw new AcmeProblemError(step, problem, r.status);
    }
  }

  /** newAccount (§7.3); an existing account for this key is fine too (200). */
  async newAccount(payload: { termsOfServiceAgreed: boolean; contact?: string[] }): Promise<{ url: string; account: any }> {
    const r = await this.post('newAccount', this.directory.newAccount, payload);
    if (!r.location) throw new AcmeTransportError(`newAccount: HTTP ${r.status} without a Location header`);
    this.kid = r.location;
    return { url: r.location, account: r.json };
  }

  /**
   * POST-as-GET `url` until `done(resource)` or until `timeoutMs` has passed (then throws).
   * Waits as the server asks (Retry-After), between 100 ms and 2 s, and never past the deadline.
   */
  async poll(step: string, url: string, done: (resource: any) => boolean, timeoutMs: number): Promise<any> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await this.post(step, url);
      if (done(r.json)) return r.json;
      const left = deadline - Date.now();
      if (left <= 0) throw new AcmeTransportError(`${step}: ${url} is still "${r.json?.status}" after ${Math.round(timeoutMs / 1000)} s`, 'ETIMEDOUT');
      await sleep(Math.min(left, Math.max(100, Math.min(retryAfterMs(r) ?? 250, 2000))));
    }
  }
}
