// A small ACME client built on jose, for tests that must send exactly the bytes they choose:
// malformed JWS, replayed nonces, wrong urls, other accounts' resources. Real clients (certbot,
// acme-client) cover the well-behaved paths.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import https from 'node:https';
import { calculateJwkThumbprint, exportJWK, FlattenedSign, type JWK } from 'jose';

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any;
}

export function request(url: string, agent: https.Agent, init: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: init.method ?? 'GET', headers: init.headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = text ? JSON.parse(text) : undefined;
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(30_000, () => req.destroy(new Error(`timeout: ${url}`)));
    req.end(init.body);
  });
}

export type Alg = 'ES256' | 'ES384' | 'ES512' | 'RS256' | 'PS256' | 'EdDSA';

export function generateAccountKey(alg: Alg = 'ES256'): KeyObject {
  switch (alg) {
    case 'ES256':
      return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    case 'ES384':
      return generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
    case 'ES512':
      return generateKeyPairSync('ec', { namedCurve: 'P-521' }).privateKey;
    case 'RS256':
    case 'PS256':
      return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    case 'EdDSA':
      return generateKeyPairSync('ed25519').privateKey;
  }
}

export interface SignOptions {
  /** Sign with the JWK in the header instead of the account kid. */
  useJwk?: boolean;
  nonce?: string | null;
  url?: string;
  /** Extra or overriding protected-header fields. */
  header?: Record<string, unknown>;
  key?: KeyObject;
  alg?: Alg;
}

export class TestAcmeClient {
  kid: string | undefined;
  jwk!: JWK;
  thumbprint!: string;
  dir!: { newNonce: string; newAccount: string; newOrder: string; [k: string]: unknown };

  constructor(
    readonly directoryUrl: string,
    readonly agent: https.Agent,
    readonly key: KeyObject = generateAccountKey('ES256'),
    readonly alg: Alg = 'ES256',
  ) {}

  static async connect(directoryUrl: string, agent: https.Agent, alg: Alg = 'ES256', key?: KeyObject): Promise<TestAcmeClient> {
    const c = new TestAcmeClient(directoryUrl, agent, key ?? generateAccountKey(alg), alg);
    c.jwk = await exportJWK(c.key);
    c.jwk = publicOnly(c.jwk);
    c.thumbprint = await calculateJwkThumbprint(c.jwk, 'sha256');
    c.dir = (await request(directoryUrl, agent)).json;
    return c;
  }

  async nonce(): Promise<string> {
    const r = await request(this.dir.newNonce, this.agent, { method: 'HEAD' });
    return r.headers['replay-nonce'] as string;
  }

  async sign(url: string, payload: unknown, o: SignOptions = {}): Promise<string> {
    const key = o.key ?? this.key;
    const alg = o.alg ?? this.alg;
    const jwk = o.key ? publicOnly(await exportJWK(o.key)) : this.jwk;
    const nonce = o.nonce === undefined ? await this.nonce() : o.nonce;
    const header: Record<string, unknown> = { alg, url: o.url ?? url, ...(nonce === null ? {} : { nonce }) };
    if (o.useJwk || !this.kid) header.jwk = jwk;
    else header.kid = this.kid;
    Object.assign(header, o.header ?? {});
    for (const [k, v] of Object.entries(header)) if (v === undefined) delete header[k];
    const bytes = payload === '' ? new Uint8Array() : new TextEncoder().encode(typeof payload === 'string' ? payload : JSON.stringify(payload));
    const jws = await new FlattenedSign(bytes).setProtectedHeader(header as any).sign(key);
    return JSON.stringify(jws);
  }

  async post(url: string, payload: unknown, o: SignOptions = {}): Promise<HttpResult> {
    const body = await this.sign(url, payload, o);
    return request(url, this.agent, { method: 'POST', headers: { 'content-type': 'application/jose+json' }, body });
  }

  async postRaw(url: string, body: string | Buffer, contentType = 'application/jose+json'): Promise<HttpResult> {
    return request(url, this.agent, { method: 'POST', headers: { 'content-type': contentType }, body });
  }

  async newAccount(payload: Record<string, unknown> = { termsOfServiceAgreed: true }): Promise<HttpResult> {
    const r = await this.post(this.dir.newAccount, payload, { useJwk: true });
    if (r.status === 201 || r.status === 200) this.kid = r.headers.location as string;
    return r;
  }

  newOrder(identifiers: { type: string; value: string }[]): Promise<HttpResult> {
    return this.post(this.dir.newOrder, { identifiers });
  }

  keyAuthorization(token: string): string {
    return `${token}.${this.thumbprint}`;
  }

  /** Polls a resource with POST-as-GET until its status leaves pending/processing. */
  async poll(url: string, until: (status: string) => boolean = (s) => s !== 'pending' && s !== 'processing', timeoutMs = 20_000): Promise<any> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const r = await this.post(url, '');
      if (r.status !== 200) throw new Error(`poll ${url}: HTTP ${r.status} ${r.text}`);
      if (until(r.json.status)) return r.json;
      if (Date.now() > end) throw new Error(`poll ${url}: still ${r.json.status}`);
      await new Promise((res) => setTimeout(res, 50));
    }
  }
}

function publicOnly(jwk: JWK): JWK {
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub } = jwk;
  return pub;
}
