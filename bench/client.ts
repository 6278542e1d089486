// The benchmark's ACME client: as lean as a client can be, because it shares the two cores with
// the servers it measures. One keep-alive connection pool, keys parsed once, JWS signed directly
// with node:crypto (ES256, RFC 7518 §3.4: raw r||s), nonces taken from the previous response.
import { createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import https from 'node:https';
import { calculateJwkThumbprint, type JWK } from 'jose';

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  json(): any;
}

export class ProblemError extends Error {
  constructor(
    readonly type: string,
    detail: string,
  ) {
    super(`${type}: ${detail}`);
  }
}

export class Http {
  readonly agent: https.Agent;
  constructor(ca: string | undefined, sockets: number) {
    this.agent = new https.Agent({ keepAlive: true, maxSockets: sockets, ca, rejectUnauthorized: ca !== undefined });
  }

  request(url: string, method: string, body?: string): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const req = https.request(url, { method, agent: this.agent, headers: body ? { 'content-type': 'application/jose+json', 'content-length': Buffer.byteLength(body) } : {} }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const buf = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: buf, json: () => JSON.parse(buf.toString('utf8')) });
        });
        res.on('error', reject);
      });
      req.setTimeout(60_000, () => req.destroy(new Error(`timeout ${method} ${url}`)));
      req.on('error', reject);
      req.end(body);
    });
  }
}

const b64u = (s: string | Buffer) => Buffer.from(s).toString('base64url');

export class Account {
  kid: string | undefined;
  nonce: string | undefined;
  readonly jwk: JWK;
  thumbprint = '';
  private constructor(
    readonly http: Http,
    readonly dir: Record<string, string>,
    readonly key: KeyObject,
    readonly timings: (type: string, ms: number) => void,
  ) {
    const { kty, crv, x, y } = createPublicKey(key).export({ format: 'jwk' });
    this.jwk = { kty, crv, x, y };
  }

  static async create(http: Http, dir: Record<string, string>, timings: (type: string, ms: number) => void): Promise<Account> {
    const a = new Account(http, dir, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, timings);
    a.thumbprint = await calculateJwkThumbprint(a.jwk, 'sha256');
    const r = await a.post('new-account', dir.newAccount!, { termsOfServiceAgreed: true });
    a.kid = r.headers.location as string;
    return a;
  }

  private jws(url: string, payload: unknown): string {
    const header = { alg: 'ES256', nonce: this.nonce, url, ...(this.kid ? { kid: this.kid } : { jwk: this.jwk }) };
    const p = b64u(JSON.stringify(header));
    const body = payload === '' ? '' : b64u(JSON.stringify(payload));
    const signature = sign('sha256', Buffer.from(`${p}.${body}`), { key: this.key, dsaEncoding: 'ieee-p1363' }).toString('base64url');
    return JSON.stringify({ protected: p, payload: body, signature });
  }

  /** A signed POST, named `type` in the timings; retries once on badNonce (RFC 8555 §6.5). */
  async post(type: string, url: string, payload: unknown): Promise<Reply> {
    for (let attempt = 0; ; attempt++) {
      if (!this.nonce) {
        const t = performance.now();
        const n = await this.http.request(this.dir.newNonce!, 'HEAD');
        this.timings('new-nonce', performance.now() - t);
        this.nonce = n.headers['replay-nonce'] as string;
      }
      const t = performance.now();
      const r = await this.http.request(url, 'POST', this.jws(url, payload));
      this.timings(type, performance.now() - t);
      this.nonce = r.headers['replay-nonce'] as string | undefined;
      if (r.status < 400) return r;
      let problem: { type?: string; detail?: string } = {};
      try {
        problem = r.json();
      } catch {
        problem = { type: `http-${r.status}`, detail: r.body.toString('utf8').slice(0, 200) };
      }
      const short = (problem.type ?? `http-${r.status}`).replace('urn:ietf:params:acme:error:', '');
      if (short === 'badNonce' && attempt === 0) continue;
      throw new ProblemError(short, problem.detail ?? '');
    }
  }
}
