// Every malformed or hostile request gets the problem RFC 8555 names for it: the full
// `urn:ietf:params:acme:error:` type, the HTTP status, `application/problem+json` (RFC 7807 §3)
// and a fresh Replay-Nonce (RFC 8555 §6.5). One table, run against one real HTTPS server on
// PGlite; the nonce cases also run on Postgres, with two instances sharing one database.
import assert from 'node:assert/strict';
import { createHmac, createPublicKey, generateKeyPairSync, randomBytes, sign, webcrypto, type KeyObject } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { x509 } from '../src/pki/x509.js';
import { generateAccountKey, request, TestAcmeClient, type HttpResult } from './helpers/acme.js';
import { makeCsr, makeKey } from './helpers/csr.js';
import { startTestDns, type TestDns } from './helpers/dns.js';
import { issueCertificate } from './helpers/flow.js';
import { startHttp01Responder } from './helpers/net.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { ACME_ERROR, assertProblem as assertSharedProblem, type Problem as SharedProblem } from './helpers/problem.js';

const DOMAIN = 'bad-input.attestca.test';
const names = { pending: `pending.${DOMAIN}`, a: `a.${DOMAIN}`, b: `b.${DOMAIN}`, c: `c.${DOMAIN}`, issued: `issued.${DOMAIN}` };

const b64u = (data: string | Buffer): string => Buffer.from(data).toString('base64url');

/**
 * A flattened JWS (RFC 7515 §7.2.2) signed with node:crypto, for what jose will not sign:
 * 1024-bit RSA keys, a private JWK in the header, "none" and MAC algorithms.
 */
function rawJws(header: Record<string, unknown>, payload: string, signer: (input: Buffer) => Buffer): string {
  const protectedB64 = b64u(JSON.stringify(header));
  const payloadB64 = b64u(payload);
  const signature = signer(Buffer.from(`${protectedB64}.${payloadB64}`, 'ascii'));
  return JSON.stringify({ protected: protectedB64, payload: payloadB64, signature: b64u(signature) });
}
const rs256 = (key: KeyObject) => (input: Buffer) => sign('sha256', input, key);
const es256 = (key: KeyObject) => (input: Buffer) => sign('sha256', input, { key, dsaEncoding: 'ieee-p1363' });
const hs256 = (secret: Buffer) => (input: Buffer) => createHmac('sha256', secret).update(input).digest();
const unsigned = () => Buffer.alloc(0);

/** A flattened JWS object as the client signed it, for tampering with one member. */
const jwsObject = (body: string): Record<string, unknown> => JSON.parse(body) as Record<string, unknown>;

/** A CSR, correctly signed, whose subjectAltName extension holds bytes that are not GeneralNames. */
async function csrWithGarbageSan(): Promise<string> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=${names.a}`,
    keys,
    signingAlgorithm: alg,
    // 2.5.29.17 subjectAltName (RFC 5280 §4.2.1.6); the value is an INTEGER, not GeneralNames.
    extensions: [new x509.Extension('2.5.29.17', false, new Uint8Array([0x02, 0x01, 0x05]))],
  });
  return b64u(Buffer.from(csr.rawData));
}

type Problem = SharedProblem & { algorithms?: string[] };

/** The shared problem checks, and with `seenNonces` that each response's nonce is a new one. */
function assertProblem(r: HttpResult, type: string, status: number, seenNonces?: Set<string>): Problem {
  const p = assertSharedProblem(r, type, status) as Problem;
  if (seenNonces) {
    const nonce = r.headers['replay-nonce'] as string;
    assert.ok(!seenNonces.has(nonce), 'each response carries a new nonce');
    seenNonces.add(nonce);
  }
  return p;
}

interface Case {
  name: string;
  send: () => Promise<HttpResult>;
  type: string;
  status: number;
  also?: (p: Problem, r: HttpResult) => void;
}

/** A pending order, and its authorization and challenge, that nobody answers. */
async function pendingOrder(client: TestAcmeClient, name: string) {
  const r = await client.newOrder([{ type: 'dns', value: name }]);
  assert.equal(r.status, 201, r.text);
  const authzUrl = r.json.authorizations[0] as string;
  const authz = (await client.post(authzUrl, '')).json;
  return { url: r.headers.location as string, finalize: r.json.finalize as string, authzUrl, challengeUrl: authz.challenges[0].url as string };
}

/** An order whose http-01 challenges have been answered, so it is ready to finalize. */
async function readyOrder(client: TestAcmeClient, responder: { set(token: string, body: string): void }, values: string[]) {
  const r = await client.newOrder(values.map((value) => ({ type: 'dns', value })));
  assert.equal(r.status, 201, r.text);
  for (const authzUrl of r.json.authorizations as string[]) {
    const authz = (await client.post(authzUrl, '')).json;
    if (authz.status === 'valid') continue;
    const ch = authz.challenges.find((c: { type: string }) => c.type === 'http-01');
    responder.set(ch.token, client.keyAuthorization(ch.token));
    assert.equal((await client.post(ch.url, {})).status, 200);
  }
  const order = await client.poll(r.headers.location as string);
  assert.equal(order.status, 'ready', JSON.stringify(order));
  return { url: r.headers.location as string, finalize: order.finalize as string };
}

describe('malformed and hostile requests on PGlite', () => {
  let dns: TestDns;
  let responder: Awaited<ReturnType<typeof startHttp01Responder>>;
  let server: TestServer;
  let alice: TestAcmeClient;
  let bob: TestAcmeClient;
  let base: string;
  const fx = {} as {
    pending: Awaited<ReturnType<typeof pendingOrder>>;
    ready: Awaited<ReturnType<typeof readyOrder>>;
    issued: Awaited<ReturnType<typeof issueCertificate>>;
    aliceId: string;
    deactivated: TestAcmeClient;
  };
  const seenNonces = new Set<string>();

  before(async () => {
    dns = await startTestDns(Object.fromEntries(Object.values(names).map((n) => [n, '127.0.0.1'])));
    responder = await startHttp01Responder();
    server = await startTestServer({ backend: 'pglite', dnsServer: dns.server, http01Port: responder.port });
    base = server.baseUrl;
    alice = await TestAcmeClient.connect(server.directory, server.agent);
    bob = await TestAcmeClient.connect(server.directory, server.agent);
    assert.equal((await alice.newAccount()).status, 201);
    assert.equal((await bob.newAccount()).status, 201);
    fx.aliceId = alice.kid!.split('/').at(-1)!;
    fx.pending = await pendingOrder(alice, names.pending);
    fx.ready = await readyOrder(alice, responder, [names.a, names.b]);
    fx.issued = await issueCertificate(alice, responder, [{ type: 'dns', value: names.issued }]);
    fx.deactivated = await TestAcmeClient.connect(server.directory, server.agent);
    assert.equal((await fx.deactivated.newAccount()).status, 201);
    assert.equal((await fx.deactivated.post(fx.deactivated.kid!, { status: 'deactivated' })).status, 200);
  });
  after(async () => {
    await server?.stop();
    await responder?.close();
    await dns?.close();
  });

  const newAccountUrl = () => `${base}/acme/new-account`;
  const newOrderUrl = () => `${base}/acme/new-order`;
  /** A correctly signed newAccount request for a fresh key, to take apart. */
  const validNewAccountBody = async () => {
    const c = await TestAcmeClient.connect(server.directory, server.agent);
    return c.sign(newAccountUrl(), { termsOfServiceAgreed: true }, { useJwk: true });
  };
  const raw = (url: string, body: string | Buffer, contentType?: string) => alice.postRaw(url, body, contentType);

  // RFC 8555 §6.2: a flattened JWS JSON object and nothing else; RFC 7515 §7.2.
  const structure: Case[] = [
    { name: 'body is not JSON', send: () => raw(newAccountUrl(), 'this is not json'), type: 'malformed', status: 400 },
    { name: 'body is a JSON array', send: () => raw(newAccountUrl(), '[]'), type: 'malformed', status: 400 },
    { name: 'body is a JSON string', send: () => raw(newAccountUrl(), '"jws"'), type: 'malformed', status: 400 },
    { name: 'body is JSON null', send: () => raw(newAccountUrl(), 'null'), type: 'malformed', status: 400 },
    {
      name: 'JWS general serialization (signatures array)',
      send: async () => {
        const o = jwsObject(await validNewAccountBody());
        return raw(newAccountUrl(), JSON.stringify({ payload: o.payload, signatures: [{ protected: o.protected, signature: o.signature }] }));
      },
      type: 'malformed',
      status: 400,
    },
    {
      name: 'unprotected header present',
      send: async () => raw(newAccountUrl(), JSON.stringify({ ...jwsObject(await validNewAccountBody()), header: { kid: 'x' } })),
      type: 'malformed',
      status: 400,
    },
    ...(['protected', 'payload', 'signature'] as const).map(
      (member): Case => ({
        name: `"${member}" missing`,
        send: async () => {
          const o = jwsObject(await validNewAccountBody());
          delete o[member];
          return raw(newAccountUrl(), JSON.stringify(o));
        },
        type: 'malformed',
        status: 400,
      }),
    ),
    {
      name: '"protected" is not a string',
      send: async () => raw(newAccountUrl(), JSON.stringify({ ...jwsObject(await validNewAccountBody()), protected: { alg: 'ES256' } })),
      type: 'malformed',
      status: 400,
    },
    {
      name: 'protected header is not base64url (standard alphabet with padding)',
      send: async () => {
        const o = jwsObject(await validNewAccountBody());
        const std = Buffer.from(o.protected as string, 'base64url').toString('base64');
        return raw(newAccountUrl(), JSON.stringify({ ...o, protected: `${std}+/=` }));
      },
      type: 'malformed',
      status: 400,
    },
    {
      name: 'protected header is not JSON',
      send: async () => raw(newAccountUrl(), JSON.stringify({ ...jwsObject(await validNewAccountBody()), protected: b64u('{"alg":"ES256",') })),
      type: 'malformed',
      status: 400,
    },
    {
      name: 'protected header is a JSON array',
      send: async () => raw(newAccountUrl(), JSON.stringify({ ...jwsObject(await validNewAccountBody()), protected: b64u('["ES256"]') })),
      type: 'malformed',
      status: 400,
    },
  ];

  // RFC 8555 §6.2: Content-Type application/jose+json, else 415; a body the server bounds.
  const transport: Case[] = [
    {
      name: 'Content-Type application/json',
      send: async () => raw(newAccountUrl(), await validNewAccountBody(), 'application/json'),
      type: 'malformed',
      status: 415,
    },
    {
      name: 'no Content-Type',
      send: async () => request(newAccountUrl(), server.agent, { method: 'POST', body: await validNewAccountBody() }),
      type: 'malformed',
      status: 415,
    },
    { name: 'empty body', send: () => raw(newAccountUrl(), ''), type: 'malformed', status: 400 },
    {
      name: 'body over the 64 KiB limit',
      send: () => raw(newAccountUrl(), JSON.stringify({ protected: 'a'.repeat(70 * 1024), payload: '', signature: '' })),
      type: 'malformed',
      status: 413,
    },
    {
      name: 'Content-Encoding gzip with bytes that are not gzip',
      send: async () =>
        request(newAccountUrl(), server.agent, {
          method: 'POST',
          headers: { 'content-type': 'application/jose+json', 'content-encoding': 'gzip' },
          body: Buffer.from('not gzip at all'),
        }),
      type: 'malformed',
      status: 400,
    },
  ];

  // RFC 8555 §6.2: no "none", no MAC; badSignatureAlgorithm lists what is accepted.
  const hasAlgorithms = (p: Problem) => {
    assert.ok(Array.isArray(p.algorithms) && p.algorithms.includes('ES256') && p.algorithms.includes('RS256'), JSON.stringify(p));
    assert.ok(!p.algorithms.some((a) => a === 'none' || a.startsWith('HS')));
  };
  const algHeader = async (alg: unknown) => ({ alg, jwk: alice.jwk, nonce: await alice.nonce(), url: newAccountUrl() });
  const algorithms: Case[] = [
    { name: 'alg "none"', send: async () => raw(newAccountUrl(), rawJws(await algHeader('none'), '{}', unsigned)), type: 'badSignatureAlgorithm', status: 400, also: hasAlgorithms },
    {
      name: 'alg HS256 (a MAC)',
      send: async () => raw(newAccountUrl(), rawJws(await algHeader('HS256'), '{}', hs256(randomBytes(32)))),
      type: 'badSignatureAlgorithm',
      status: 400,
      also: hasAlgorithms,
    },
    { name: 'unknown alg "XS999"', send: async () => raw(newAccountUrl(), rawJws(await algHeader('XS999'), '{}', unsigned)), type: 'badSignatureAlgorithm', status: 400, also: hasAlgorithms },
    {
      name: 'alg missing',
      send: async () => {
        const h = await algHeader(undefined);
        delete (h as Record<string, unknown>).alg;
        return raw(newAccountUrl(), rawJws(h, '{}', unsigned));
      },
      type: 'badSignatureAlgorithm',
      status: 400,
      also: hasAlgorithms,
    },
  ];

  // RFC 8555 §6.2: exactly one of jwk and kid, each only where the resource takes it; §7.3.
  const keys: Case[] = [
    { name: 'both jwk and kid', send: () => alice.post(newOrderUrl(), { identifiers: [{ type: 'dns', value: names.a }] }, { header: { jwk: alice.jwk } }), type: 'malformed', status: 400 },
    { name: 'neither jwk nor kid', send: () => alice.post(newOrderUrl(), { identifiers: [{ type: 'dns', value: names.a }] }, { header: { kid: undefined } }), type: 'malformed', status: 400 },
    { name: 'jwk on newOrder (a kid-only resource)', send: () => alice.post(newOrderUrl(), { identifiers: [{ type: 'dns', value: names.a }] }, { useJwk: true }), type: 'malformed', status: 400 },
    { name: 'kid on newAccount', send: () => alice.post(newAccountUrl(), { termsOfServiceAgreed: true }), type: 'malformed', status: 400 },
    { name: 'kid is not a string', send: () => alice.post(newOrderUrl(), { identifiers: [{ type: 'dns', value: names.a }] }, { header: { kid: 42 } }), type: 'malformed', status: 400 },
    { name: 'kid of an account that does not exist', send: () => alice.post(fx.pending.url, '', { header: { kid: `${base}/acme/acct/${b64u(randomBytes(16))}` } }), type: 'accountDoesNotExist', status: 400 },
    { name: 'kid that is not our account URL', send: () => alice.post(fx.pending.url, '', { header: { kid: `https://acme.example.net/acme/acct/${fx.aliceId}` } }), type: 'accountDoesNotExist', status: 400 },
    {
      name: 'signature does not verify (payload tampered)',
      send: async () => {
        const o = jwsObject(await alice.sign(newOrderUrl(), { identifiers: [{ type: 'dns', value: names.a }] }));
        return raw(newOrderUrl(), JSON.stringify({ ...o, payload: b64u(JSON.stringify({ identifiers: [{ type: 'dns', value: 'evil.example' }] })) }));
      },
      type: 'malformed',
      status: 400,
    },
    {
      name: 'signature made by another key than the kid account',
      send: () => alice.post(fx.pending.url, '', { key: generateAccountKey('ES256') }),
      type: 'malformed',
      status: 400,
    },
    {
      name: 'jwk with private key material "d"',
      send: async () => {
        const key = generateAccountKey('ES256');
        const header = { alg: 'ES256', jwk: key.export({ format: 'jwk' }), nonce: await alice.nonce(), url: newAccountUrl() };
        return raw(newAccountUrl(), rawJws(header, '{"termsOfServiceAgreed":true}', es256(key)));
      },
      type: 'badPublicKey',
      status: 400,
    },
    {
      name: 'RSA account key of 1024 bits',
      send: async () => {
        const key = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
        const header = { alg: 'RS256', jwk: createPublicKey(key).export({ format: 'jwk' }), nonce: await alice.nonce(), url: newAccountUrl() };
        return raw(newAccountUrl(), rawJws(header, '{"termsOfServiceAgreed":true}', rs256(key)));
      },
      type: 'badPublicKey',
      status: 400,
    },
    {
      name: 'jwk is a symmetric key',
      send: async () => {
        const header = { alg: 'ES256', jwk: { kty: 'oct', k: b64u(randomBytes(32)) }, nonce: await alice.nonce(), url: newAccountUrl() };
        return raw(newAccountUrl(), rawJws(header, '{}', hs256(randomBytes(32))));
      },
      type: 'badPublicKey',
      status: 400,
    },
    {
      name: 'a P-384 jwk signing as ES256 (the key does not fit the algorithm)',
      send: async () => {
        const key = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
        const header = { alg: 'ES256', jwk: createPublicKey(key).export({ format: 'jwk' }), nonce: await alice.nonce(), url: newAccountUrl() };
        return raw(newAccountUrl(), rawJws(header, '{"termsOfServiceAgreed":true}', es256(key)));
      },
      type: 'badPublicKey',
      status: 400,
    },
    // RFC 7515 §4.1.11: a "crit" extension the server does not understand must be refused;
    // RFC 7797 "b64": false would change what the signature covers.
    {
      name: 'protected header with "crit"',
      send: async () => raw(fx.pending.url, rawJws({ alg: 'ES256', kid: alice.kid, nonce: await alice.nonce(), url: fx.pending.url, crit: ['x-ext'], 'x-ext': 1 }, '', es256(alice.key))),
      type: 'malformed',
      status: 400,
    },
    { name: 'protected header with "b64": false', send: () => alice.post(fx.pending.url, '', { header: { b64: false, crit: ['b64'] } }), type: 'malformed', status: 400 },
    { name: 'request by a deactivated account (RFC 8555 §7.3.6: 401)', send: () => fx.deactivated.post(newOrderUrl(), { identifiers: [{ type: 'dns', value: names.a }] }), type: 'unauthorized', status: 401 },
  ];

  // RFC 8555 §6.5: one nonce per request, issued by us, used once; §6.4: url must be the request URL.
  const noncesAndUrls: Case[] = [
    { name: 'nonce missing', send: () => alice.post(fx.pending.url, '', { nonce: null }), type: 'badNonce', status: 400 },
    { name: 'nonce empty', send: () => alice.post(fx.pending.url, '', { nonce: '' }), type: 'badNonce', status: 400 },
    { name: 'nonce unknown to the server', send: () => alice.post(fx.pending.url, '', { nonce: b64u(randomBytes(16)) }), type: 'badNonce', status: 400 },
    { name: 'nonce with characters outside base64url', send: () => alice.post(fx.pending.url, '', { nonce: 'a+b/c=' }), type: 'badNonce', status: 400 },
    {
      name: 'nonce replayed (second use of the same nonce)',
      send: async () => {
        const nonce = await alice.nonce();
        const first = await alice.post(fx.pending.url, '', { nonce });
        assert.equal(first.status, 200, first.text);
        return alice.post(fx.pending.url, '', { nonce });
      },
      type: 'badNonce',
      status: 400,
    },
    { name: 'url header is another resource', send: () => alice.post(fx.pending.url, '', { url: fx.issued.orderUrl }), type: 'unauthorized', status: 403 },
    { name: 'url header on another host', send: () => alice.post(fx.pending.url, '', { url: fx.pending.url.replace('https://localhost', 'https://127.0.0.1') }), type: 'unauthorized', status: 403 },
    { name: 'url header missing', send: () => alice.post(fx.pending.url, '', { header: { url: undefined } }), type: 'malformed', status: 400 },
  ];

  // RFC 8555 §6.3: reads are POST-as-GET with an empty payload; GET only for directory and newNonce.
  const methods: Case[] = [
    { name: 'POST-as-GET order with a payload', send: () => alice.post(fx.pending.url, {}), type: 'malformed', status: 400 },
    { name: 'POST-as-GET order with payload "null"', send: () => alice.post(fx.pending.url, 'null'), type: 'malformed', status: 400 },
    { name: 'POST-as-GET authorization with a payload', send: () => alice.post(fx.pending.authzUrl, { status: 'valid' }), type: 'malformed', status: 400 },
    { name: 'POST-as-GET certificate with a payload', send: () => alice.post(fx.issued.order.certificate, {}), type: 'malformed', status: 400 },
    { name: 'payload that is not JSON', send: () => alice.post(fx.pending.url, 'not json'), type: 'malformed', status: 400 },
    { name: 'GET on an order', send: () => request(fx.pending.url, server.agent), type: 'malformed', status: 405, also: (_p, r) => assert.equal(r.headers.allow, 'POST') },
    { name: 'GET on newAccount', send: () => request(newAccountUrl(), server.agent), type: 'malformed', status: 405 },
    { name: 'GET on a certificate', send: () => request(fx.issued.order.certificate, server.agent), type: 'malformed', status: 405 },
    { name: 'POST to the directory', send: () => raw(`${base}/directory`, '{}'), type: 'malformed', status: 405 },
    { name: 'POST to a path that is not a resource', send: () => raw(`${base}/acme/nothing-here`, '{}'), type: 'malformed', status: 404 },
  ];

  // RFC 8555 §7.1, §10.5: resources belong to one account; ids are unguessable and checked.
  const ownership: Case[] = [
    { name: "another account's order", send: () => bob.post(fx.pending.url, ''), type: 'unauthorized', status: 403 },
    { name: "another account's authorization", send: () => bob.post(fx.pending.authzUrl, ''), type: 'unauthorized', status: 403 },
    { name: "another account's challenge (read)", send: () => bob.post(fx.pending.challengeUrl, ''), type: 'unauthorized', status: 403 },
    { name: "another account's challenge (answer)", send: () => bob.post(fx.pending.challengeUrl, {}), type: 'unauthorized', status: 403 },
    { name: "another account's certificate", send: () => bob.post(fx.issued.order.certificate, ''), type: 'unauthorized', status: 403 },
    { name: "another account's order finalized", send: async () => bob.post(fx.ready.finalize, { csr: (await makeCsr({ dns: [names.a, names.b] })).b64url }), type: 'unauthorized', status: 403 },
    { name: "another account's account URL", send: () => bob.post(alice.kid!, ''), type: 'unauthorized', status: 403 },
    { name: "another account's orders list", send: () => bob.post(`${alice.kid!}/orders`, ''), type: 'unauthorized', status: 403 },
    { name: 'unknown order id', send: () => alice.post(`${base}/acme/order/${b64u(randomBytes(16))}`, ''), type: 'malformed', status: 404 },
    { name: 'unknown authorization id', send: () => alice.post(`${base}/acme/authz/${b64u(randomBytes(16))}`, ''), type: 'malformed', status: 404 },
    { name: 'unknown challenge id', send: () => alice.post(`${base}/acme/chall/${b64u(randomBytes(16))}`, {}), type: 'malformed', status: 404 },
    { name: 'unknown certificate serial', send: () => alice.post(`${base}/acme/cert/${randomBytes(16).toString('hex')}`, ''), type: 'malformed', status: 404 },
    { name: 'order id with a NUL byte', send: () => alice.post(`${base}/acme/order/ab%00cd`, ''), type: 'malformed', status: 404 },
    { name: 'orders list cursor with a NUL byte', send: () => alice.post(`${alice.kid!}/orders?cursor=ab%00cd`, ''), type: 'malformed', status: 400 },
    { name: 'order id that is not valid percent-encoding', send: () => alice.post(`${base}/acme/order/%E0%A4%A`, ''), type: 'malformed', status: 400 },
  ];

  // RFC 8555 §7.3, §7.3.1.
  const accounts: Case[] = [
    {
      name: 'onlyReturnExisting for a key without an account',
      send: async () => (await TestAcmeClient.connect(server.directory, server.agent)).post(newAccountUrl(), { onlyReturnExisting: true }, { useJwk: true }),
      type: 'accountDoesNotExist',
      status: 400,
    },
    {
      name: 'contact tel:123',
      send: async () => (await TestAcmeClient.connect(server.directory, server.agent)).newAccount({ termsOfServiceAgreed: true, contact: ['tel:123'] }),
      type: 'unsupportedContact',
      status: 400,
    },
    {
      name: 'contact mailto:not-an-email',
      send: async () => (await TestAcmeClient.connect(server.directory, server.agent)).newAccount({ termsOfServiceAgreed: true, contact: ['mailto:not-an-email'] }),
      type: 'invalidContact',
      status: 400,
    },
    {
      name: 'contact is a string, not an array',
      send: async () => (await TestAcmeClient.connect(server.directory, server.agent)).newAccount({ termsOfServiceAgreed: true, contact: 'mailto:ops@example.com' }),
      type: 'malformed',
      status: 400,
    },
    {
      name: 'newAccount payload is an array',
      send: async () => (await TestAcmeClient.connect(server.directory, server.agent)).post(newAccountUrl(), [], { useJwk: true }),
      type: 'malformed',
      status: 400,
    },
    { name: 'account update to an unknown status', send: () => alice.post(alice.kid!, { status: 'valid' }), type: 'malformed', status: 400 },
  ];

  // RFC 8555 §7.4, RFC 8738 §3, §6.7.1 subproblems.
  const order = (identifiers: unknown) => alice.post(newOrderUrl(), { identifiers });
  const dnsId = (value: string) => ({ type: 'dns', value });
  const orders: Case[] = [
    { name: 'identifiers empty', send: () => order([]), type: 'malformed', status: 400 },
    { name: 'identifiers missing', send: () => alice.post(newOrderUrl(), {}), type: 'malformed', status: 400 },
    { name: 'identifier value not a string', send: () => order([{ type: 'dns', value: 7 }]), type: 'malformed', status: 400 },
    { name: 'payload is an array', send: () => alice.post(newOrderUrl(), [dnsId(names.a)]), type: 'malformed', status: 400 },
    { name: 'payload is a string', send: () => alice.post(newOrderUrl(), '"identifiers"'), type: 'malformed', status: 400 },
    { name: 'payload empty (POST-as-GET)', send: () => alice.post(newOrderUrl(), ''), type: 'malformed', status: 400 },
    { name: 'identifier type email', send: () => order([{ type: 'email', value: 'ops@example.com' }]), type: 'unsupportedIdentifier', status: 400 },
    { name: 'DNS name with an underscore', send: () => order([dnsId('bad_name.example.com')]), type: 'rejectedIdentifier', status: 400 },
    { name: 'DNS name with a single label', send: () => order([dnsId('localhost')]), type: 'rejectedIdentifier', status: 400 },
    { name: 'DNS name in U-label form', send: () => order([dnsId('bücher.example')]), type: 'rejectedIdentifier', status: 400 },
    { name: 'wildcard of a top-level domain', send: () => order([dnsId('*.com')]), type: 'rejectedIdentifier', status: 400 },
    { name: 'wildcard that is not the whole leftmost label', send: () => order([dnsId('w*.example.com')]), type: 'rejectedIdentifier', status: 400 },
    { name: 'wildcard below the leftmost label', send: () => order([dnsId('a.*.example.com')]), type: 'rejectedIdentifier', status: 400 },
    { name: 'DNS name with a trailing dot', send: () => order([dnsId('example.com.')]), type: 'malformed', status: 400 },
    { name: 'DNS name empty', send: () => order([dnsId('')]), type: 'malformed', status: 400 },
    { name: 'IP address that is not canonical (uppercase, uncompressed IPv6)', send: () => order([{ type: 'ip', value: '2001:DB8:0:0:0:0:0:1' }]), type: 'malformed', status: 400 },
    { name: 'IPv4 address with a leading zero', send: () => order([{ type: 'ip', value: '192.0.2.01' }]), type: 'malformed', status: 400 },
    { name: 'IPv6 address with a zone id', send: () => order([{ type: 'ip', value: 'fe80::1%eth0' }]), type: 'malformed', status: 400 },
    { name: 'ip identifier that is a DNS name', send: () => order([{ type: 'ip', value: 'example.com' }]), type: 'malformed', status: 400 },
    {
      name: 'two refused identifiers of different kinds',
      send: () => order([dnsId(names.a), dnsId('*.com'), { type: 'email', value: 'ops@example.com' }]),
      type: 'compound',
      status: 400,
      also: (p) => {
        assert.deepEqual(
          p.subproblems?.map((s) => [s.type, s.identifier]),
          [
            [`${ACME_ERROR}rejectedIdentifier`, dnsId('*.com')],
            [`${ACME_ERROR}unsupportedIdentifier`, { type: 'email', value: 'ops@example.com' }],
          ],
        );
      },
    },
    {
      name: 'two refused identifiers of the same kind',
      send: () => order([dnsId('bad_one.example.com'), dnsId('*.*.example.org')]),
      type: 'rejectedIdentifier',
      status: 400,
      also: (p) => assert.deepEqual(p.subproblems?.map((s) => s.identifier), [dnsId('bad_one.example.com'), dnsId('*.*.example.org')]),
    },
    { name: 'notAfter further than ca.maxValidity', send: () => alice.post(newOrderUrl(), { identifiers: [dnsId(names.a)], notAfter: '2999-01-01T00:00:00Z' }), type: 'malformed', status: 400 },
  ];

  // RFC 8555 §7.4: finalize only a ready order, with a CSR naming exactly its identifiers.
  const finalize = (csr: unknown) => alice.post(fx.ready.finalize, { csr });
  const csrFor = async (o: Parameters<typeof makeCsr>[0]) => (await makeCsr(o)).b64url;
  const finalization: Case[] = [
    { name: 'order not ready (pending)', send: async () => alice.post(fx.pending.finalize, { csr: await csrFor({ dns: [names.pending] }) }), type: 'orderNotReady', status: 403 },
    { name: 'order finalized twice (already valid)', send: async () => alice.post(fx.issued.order.finalize, { csr: await csrFor({ dns: [names.issued] }) }), type: 'orderNotReady', status: 403 },
    { name: 'finalize with an empty payload', send: () => alice.post(fx.ready.finalize, ''), type: 'malformed', status: 400 },
    { name: 'csr is not a string', send: () => finalize(42), type: 'malformed', status: 400 },
    { name: 'csr is not base64url (standard alphabet with padding)', send: async () => finalize((await makeCsr({ dns: [names.a, names.b] })).der.toString('base64') + '+/=='), type: 'badCSR', status: 400 },
    { name: 'csr is garbage bytes', send: () => finalize(b64u(randomBytes(200))), type: 'badCSR', status: 400 },
    { name: 'csr is truncated', send: async () => finalize((await makeCsr({ dns: [names.a, names.b] })).der.subarray(0, 100).toString('base64url')), type: 'badCSR', status: 400 },
    { name: 'csr has a subjectAltName that is not GeneralNames', send: async () => finalize(await csrWithGarbageSan()), type: 'badCSR', status: 400 },
    { name: 'csr has an extra name', send: async () => finalize(await csrFor({ dns: [names.a, names.b, names.c] })), type: 'badCSR', status: 400 },
    { name: 'csr misses a name', send: async () => finalize(await csrFor({ dns: [names.a] })), type: 'badCSR', status: 400 },
    { name: 'csr commonName not in the order', send: async () => finalize(await csrFor({ dns: [names.a, names.b], commonName: names.c })), type: 'badCSR', status: 400 },
    { name: 'csr key is the account key', send: async () => finalize(await csrFor({ dns: [names.a, names.b], key: alice.key })), type: 'badCSR', status: 400 },
    { name: 'csr with an email SAN', send: async () => finalize(await csrFor({ dns: [names.a, names.b], emails: [`ops@${names.a}`] })), type: 'badCSR', status: 400 },
    { name: 'csr with a 1024-bit RSA key', send: async () => finalize(await csrFor({ dns: [names.a, names.b], keyType: 'rsa-1024' })), type: 'badCSR', status: 400 },
    { name: 'csr with a P-521 key', send: async () => finalize(await csrFor({ dns: [names.a, names.b], key: makeKey('ec-p521') })), type: 'badCSR', status: 400 },
  ];

  const table: [string, Case[]][] = [
    ['JWS structure', structure],
    ['transport', transport],
    ['algorithms', algorithms],
    ['keys and accounts of the signer', keys],
    ['nonces and urls', noncesAndUrls],
    ['methods and POST-as-GET', methods],
    ['ownership and unknown resources', ownership],
    ['newAccount', accounts],
    ['newOrder', orders],
    ['finalize', finalization],
  ];
  for (const [group, cases] of table) {
    for (const c of cases) {
      test(`${group}: ${c.name} → ${c.type} ${c.status}`, async () => {
        const r = await c.send();
        const p = assertProblem(r, c.type, c.status, seenNonces);
        c.also?.(p, r);
      });
    }
  }

  test('the ready order is still ready after every refused finalize, and finalizes with a good CSR', async () => {
    const order = (await alice.post(fx.ready.url, '')).json;
    assert.equal(order.status, 'ready');
    const r = await alice.post(fx.ready.finalize, { csr: await csrFor({ dns: [names.b, names.a] }) });
    assert.equal(r.status, 200, r.text);
    assert.ok(['processing', 'valid'].includes(r.json.status));
    assertProblem(await alice.post(fx.ready.finalize, { csr: await csrFor({ dns: [names.a, names.b] }) }), 'orderNotReady', 403);
  });

  test('newAccount with a key that has an account returns 200 and the same Location (RFC 8555 §7.3.1)', async () => {
    const again = await alice.post(newAccountUrl(), { termsOfServiceAgreed: true }, { useJwk: true });
    assert.equal(again.status, 200, again.text);
    assert.equal(again.headers.location, alice.kid);
    const existing = await alice.post(newAccountUrl(), { onlyReturnExisting: true }, { useJwk: true });
    assert.equal(existing.status, 200, existing.text);
    assert.equal(existing.headers.location, alice.kid);
  });

  nonceRecovery(() => ({ client: alice, url: fx.pending.url }));

  test('the server keeps serving: newNonce and newAccount work after the whole table', async () => {
    const head = await request(`${base}/acme/new-nonce`, server.agent, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.match(String(head.headers['replay-nonce']), /^[A-Za-z0-9_-]{16,}$/);
    const fresh = await TestAcmeClient.connect(server.directory, server.agent);
    const created = await fresh.newAccount({ termsOfServiceAgreed: true, contact: ['mailto:ops@example.com'] });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.json.status, 'valid');
  });
});

/** RFC 8555 §6.5: a badNonce response carries a fresh nonce, and the retry with it succeeds. */
function nonceRecovery(target: () => { client: TestAcmeClient; url: string }): void {
  test('badNonce carries a fresh Replay-Nonce and the retry with it succeeds', async () => {
    const { client, url } = target();
    const nonce = await client.nonce();
    assert.equal((await client.post(url, '', { nonce })).status, 200);
    const replayed = await client.post(url, '', { nonce });
    assertProblem(replayed, 'badNonce', 400);
    const retry = await client.post(url, '', { nonce: replayed.headers['replay-nonce'] as string });
    assert.equal(retry.status, 200, retry.text);
  });
}

describe('nonces on Postgres, across two instances sharing the database', () => {
  let one: TestServer;
  let two: TestServer;
  let client: TestAcmeClient;
  let orderUrl: string;
  /** The same resource on instance two; the JWS url stays the public one, as behind a load balancer. */
  const onTwo = (url: string) => url.replace(one.baseUrl, `https://localhost:${two.port}`);

  before(async () => {
    one = await startTestServer({ backend: 'postgres' });
    // Same database, CA and public base URL; only the listening port differs.
    two = await startTestServer({ backend: 'postgres', databaseUrl: one.databaseUrl, dataDir: one.dataDir, overrides: { baseUrl: one.baseUrl } });
    client = await TestAcmeClient.connect(one.directory, one.agent);
    assert.equal((await client.newAccount()).status, 201);
    const order = await client.newOrder([{ type: 'dns', value: `pg.${DOMAIN}` }]);
    assert.equal(order.status, 201, order.text);
    orderUrl = order.headers.location as string;
  });
  after(async () => {
    await two?.stop();
    await one?.stop();
  });

  const postTo = async (address: string, url: string, nonce: string) => {
    const body = await client.sign(url, '', { nonce });
    return request(address, one.agent, { method: 'POST', headers: { 'content-type': 'application/jose+json' }, body });
  };

  test('unknown and replayed nonces are badNonce', async () => {
    assertProblem(await client.post(orderUrl, '', { nonce: b64u(randomBytes(16)) }), 'badNonce', 400);
    const nonce = await client.nonce();
    assert.equal((await client.post(orderUrl, '', { nonce })).status, 200);
    assertProblem(await client.post(orderUrl, '', { nonce }), 'badNonce', 400);
  });

  nonceRecovery(() => ({ client, url: orderUrl }));

  test('a nonce from one instance is good once on the other, then badNonce on both', async () => {
    const nonce = await client.nonce();
    const onOther = await postTo(onTwo(orderUrl), orderUrl, nonce);
    assert.equal(onOther.status, 200, onOther.text);
    assertProblem(await postTo(orderUrl, orderUrl, nonce), 'badNonce', 400);
    assertProblem(await postTo(onTwo(orderUrl), orderUrl, nonce), 'badNonce', 400);
  });

  test('the same nonce sent to both instances at once is accepted exactly once', async () => {
    for (let i = 0; i < 10; i++) {
      const nonce = await client.nonce();
      const results = await Promise.all([postTo(orderUrl, orderUrl, nonce), postTo(onTwo(orderUrl), orderUrl, nonce)]);
      assert.deepEqual(results.map((r) => r.status).sort(), [200, 400], results.map((r) => r.text).join(' | '));
      assertProblem(results.find((r) => r.status === 400)!, 'badNonce', 400);
    }
  });

  test('both instances keep serving', async () => {
    for (const url of [`${one.baseUrl}/acme/new-nonce`, onTwo(`${one.baseUrl}/acme/new-nonce`)]) {
      const head = await request(url, one.agent, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.match(String(head.headers['replay-nonce']), /^[A-Za-z0-9_-]{16,}$/);
    }
    const fresh = await TestAcmeClient.connect(one.directory, one.agent);
    assert.equal((await fresh.newAccount()).status, 201);
  });
});
