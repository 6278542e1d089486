// Authorizations over HTTPS: deactivation (RFC 8555 §7.5.2) and what it does to orders (§7.1.6),
// reuse of valid authorizations by later orders of the account (§7.4) and the acme.authzReuse
// window, pre-authorization with newAuthz (§7.4.1), and Retry-After while a validation runs
// (§7.5.1). Storage-bound behaviour on both backends; on Postgres, deactivation racing with an
// order that reuses the same authorization.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { authorizationById, orderById } from '../src/sa/orders.js';
import { finishValidation } from '../src/sa/validations.js';
import { claim } from './helpers/sa-fixtures.js';
import { TestAcmeClient } from './helpers/acme.js';
import { makeCsr } from './helpers/csr.js';
import { backends } from './helpers/db.js';
import { startTestDns, type TestDns } from './helpers/dns.js';
import { startHttp01Responder } from './helpers/net.js';
import { assertProblem } from './helpers/problem.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const DOMAIN = 'authz.attestca.test';
const NAMES = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'pre', 'race'].map((n) => `${n}.${DOMAIN}`);
const idOf = (url: string): string => url.split('/').at(-1)!;
const dns = (value: string) => ({ type: 'dns', value });
const DAY = 86_400_000;

type Responder = { set(token: string, body: string): void };

/** Answers the http-01 challenge of every pending authorization of `authzUrls`. */
async function validate(c: TestAcmeClient, responder: Responder, authzUrls: string[]): Promise<void> {
  for (const url of authzUrls) {
    const authz = (await c.post(url, '')).json;
    if (authz.status !== 'pending') continue;
    const ch = authz.challenges.find((x: { type: string }) => x.type === 'http-01');
    responder.set(ch.token, c.keyAuthorization(ch.token));
    assert.equal((await c.post(ch.url, {})).status, 200);
    assert.equal((await c.poll(url)).status, 'valid');
  }
}

async function order(c: TestAcmeClient, names: string[]) {
  const r = await c.newOrder(names.map(dns));
  assert.equal(r.status, 201, r.text);
  return { url: r.headers.location as string, json: r.json };
}

for (const backend of backends) {
  describe(`authorizations on ${backend}`, () => {
    let resolver: TestDns;
    let responder: Awaited<ReturnType<typeof startHttp01Responder>>;
    let server: TestServer;
    let alice: TestAcmeClient;
    let bob: TestAcmeClient;
    before(async () => {
      resolver = await startTestDns(Object.fromEntries(NAMES.map((n) => [n, '127.0.0.1'])));
      responder = await startHttp01Responder();
      server = await startTestServer({ backend, dnsServer: resolver.server, http01Port: responder.port });
      alice = await TestAcmeClient.connect(server.directory, server.agent);
      bob = await TestAcmeClient.connect(server.directory, server.agent);
      assert.equal((await alice.newAccount()).status, 201);
      assert.equal((await bob.newAccount()).status, 201);
    });
    after(async () => {
      await server?.stop();
      await responder?.close();
      await resolver?.close();
    });

    test('deactivating a pending authorization: deactivated, its order invalid, its challenge no longer validated', async () => {
      const o = await order(alice, [NAMES[0]!]);
      const authzUrl = o.json.authorizations[0];
      const r = await alice.post(authzUrl, { status: 'deactivated' });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.status, 'deactivated');
      const after = (await alice.post(o.url, '')).json;
      assert.equal(after.status, 'invalid');
      assert.match(after.error.type, /:unauthorized$/);
      assert.match(after.error.detail, /deactivated/);
      const ch = r.json.challenges.find((c: { type: string }) => c.type === 'http-01');
      responder.set(ch.token, alice.keyAuthorization(ch.token));
      assert.equal((await alice.post(ch.url, {})).json.status, 'pending', 'no validation starts on a deactivated authorization');
    });

    test('deactivating a valid authorization makes the ready order invalid, and the next order validates afresh', async () => {
      const o = await order(alice, [NAMES[1]!]);
      await validate(alice, responder, o.json.authorizations);
      assert.equal((await alice.poll(o.url)).status, 'ready');
      assert.equal((await alice.post(o.json.authorizations[0], { status: 'deactivated' })).json.status, 'deactivated');
      assert.equal((await alice.post(o.url, '')).json.status, 'invalid');
      assertProblem(await alice.post(o.json.finalize, { csr: (await makeCsr({ dns: [NAMES[1]!] })).b64url }), 'orderNotReady', 403);
      const next = await order(alice, [NAMES[1]!]);
      assert.notEqual(next.json.authorizations[0], o.json.authorizations[0], 'a deactivated authorization is not reused');
      assert.equal(next.json.status, 'pending');
    });

    test('refused deactivations: twice, another account, another status, an unknown authorization', async () => {
      const o = await order(alice, [NAMES[2]!]);
      const url = o.json.authorizations[0];
      assertProblem(await bob.post(url, { status: 'deactivated' }), 'unauthorized', 403);
      assertProblem(await alice.post(url, { status: 'valid' }), 'malformed', 400);
      assert.equal((await alice.post(url, { status: 'deactivated' })).status, 200);
      assert.match(assertProblem(await alice.post(url, { status: 'deactivated' }), 'malformed', 400).detail, /is deactivated/);
      assertProblem(await alice.post(`${server.baseUrl}/acme/authz/${'A'.repeat(22)}`, { status: 'deactivated' }), 'malformed', 404);
    });

    test('a later order of the account reuses the valid authorization and is ready at once; it stays valid for acme.authzReuse (30d)', async () => {
      const first = await order(alice, [NAMES[3]!]);
      await validate(alice, responder, first.json.authorizations);
      const authz = (await alice.post(first.json.authorizations[0], '')).json;
      const expires = Date.parse(authz.expires);
      assert.ok(Math.abs(expires - (Date.now() + 30 * DAY)) < 60_000, `valid authorization expires 30 days after validation, got ${authz.expires}`);
      const second = await order(alice, [NAMES[3]!]);
      assert.deepEqual(second.json.authorizations, first.json.authorizations);
      assert.equal(second.json.status, 'ready');
      const fin = await alice.post(second.json.finalize, { csr: (await makeCsr({ dns: [NAMES[3]!] })).b64url });
      assert.equal(fin.status, 200, fin.text);
      assert.equal((await alice.poll(second.url)).status, 'valid');
    });

    test('an order reusing some authorizations waits for the others; another account reuses nothing', async () => {
      const mixed = await order(alice, [NAMES[3]!, NAMES[4]!]);
      assert.equal(mixed.json.status, 'pending');
      const states = await Promise.all(mixed.json.authorizations.map(async (u: string) => (await alice.post(u, '')).json.status));
      assert.deepEqual(states, ['valid', 'pending']);
      await validate(alice, responder, mixed.json.authorizations);
      assert.equal((await alice.poll(mixed.url)).status, 'ready');
      const theirs = await order(bob, [NAMES[3]!]);
      assert.equal(theirs.json.status, 'pending');
      assert.equal((await bob.post(theirs.json.authorizations[0], '')).json.status, 'pending');
    });

    test('device identifiers are never reused: each device order needs a fresh attestation', async () => {
      const device = { type: 'permanent-identifier', value: 'C02REUSE0001' };
      const first = await alice.newOrder([device]);
      assert.equal(first.status, 201, first.text);
      const authzId = idOf(first.json.authorizations[0]);
      const challenge = (await authorizationById(server.ctx.db, authzId))!.challenges[0]!;
      const now = new Date();
      assert.equal(await claim(server.ctx.db, challenge.id, now, new Date(now.getTime() + 60_000)), true);
      assert.equal(await finishValidation(server.ctx.db, challenge.id, { status: 'valid' }, now), true);
      const second = await alice.newOrder([device]);
      assert.notEqual(second.json.authorizations[0], first.json.authorizations[0]);
      assert.equal(second.json.status, 'pending');
    });

    test('newAuthz pre-authorizes a name: 201 with a pending authorization, and once valid the next order is ready at once', async () => {
      assert.equal(alice.dir.newAuthz, `${server.baseUrl}/acme/new-authz`);
      const r = await alice.post(alice.dir.newAuthz as string, { identifier: dns(NAMES[7]!) });
      assert.equal(r.status, 201, r.text);
      assert.match(String(r.headers.location), /\/acme\/authz\//);
      assert.equal(r.json.status, 'pending');
      assert.deepEqual(r.json.identifier, dns(NAMES[7]!));
      assert.deepEqual(r.json.challenges.map((c: { type: string }) => c.type).sort(), ['dns-01', 'http-01', 'tls-alpn-01']);
      await validate(alice, responder, [r.headers.location as string]);
      const o = await order(alice, [NAMES[7]!]);
      assert.deepEqual(o.json.authorizations, [r.headers.location]);
      assert.equal(o.json.status, 'ready');
    });

    if (backend === 'pglite') {
      const refusals: [string, unknown, string, number][] = [
        // §7.4.1: an identifier the server will not pre-authorize SHOULD get a 403.
        ['a wildcard (RFC 8555 §7.4.1)', { identifier: dns(`*.${DOMAIN}`) }, 'rejectedIdentifier', 403],
        ['a permanent-identifier (device orders need a fresh attestation)', { identifier: { type: 'permanent-identifier', value: 'C02PRE000001' } }, 'rejectedIdentifier', 403],
        ['a hardware-module', { identifier: { type: 'hardware-module', value: 'SN1/1.3.6.1.4.1.41482.1' } }, 'rejectedIdentifier', 403],
        ['a DNS name with an underscore', { identifier: dns(`bad_name.${DOMAIN}`) }, 'rejectedIdentifier', 403],
        ['an email identifier', { identifier: { type: 'email', value: 'ops@attestca.test' } }, 'unsupportedIdentifier', 403],
        ['a non-canonical IP address', { identifier: { type: 'ip', value: '2001:DB8::1' } }, 'malformed', 400],
        ['no identifier', {}, 'malformed', 400],
        ['identifiers (newOrder style) instead of identifier', { identifiers: [dns(`a.${DOMAIN}`)] }, 'malformed', 400],
        ['POST-as-GET', '', 'malformed', 400],
      ];
      for (const [name, payload, type, status] of refusals) {
        test(`newAuthz refuses ${name} → ${type} ${status}`, async () => {
          const p = assertProblem(await alice.post(alice.dir.newAuthz as string, payload), type, status);
          if (type !== 'malformed') assert.ok(p.subproblems?.length, 'the refused identifier is named in a subproblem');
        });
      }
    }

    if (backend === 'postgres') {
      test('deactivation racing with an order that reuses the authorization: the order never waits on a deactivated one', async () => {
        for (let round = 0; round < 10; round++) {
          const seed = await order(alice, [NAMES[8]!]);
          await validate(alice, responder, seed.json.authorizations);
          const [deactivated, next] = await Promise.all([alice.post(seed.json.authorizations[0], { status: 'deactivated' }), alice.newOrder([dns(NAMES[8]!)])]);
          assert.equal(deactivated.status, 200, deactivated.text);
          assert.equal(next.status, 201, next.text);
          const stored = await orderById(server.ctx.db, idOf(next.headers.location as string));
          const authz = await authorizationById(server.ctx.db, stored!.authzIds[0]!);
          // Either the order came first and was invalidated with the authorization, or it came
          // second and got a fresh one: never a live order on a deactivated authorization.
          if (authz!.status === 'deactivated') assert.equal(stored!.status, 'invalid', `round ${round}`);
          else assert.deepEqual([authz!.status, stored!.status], ['pending', 'pending'], `round ${round}`);
          if (authz!.status === 'pending') await alice.post(next.json.authorizations[0], { status: 'deactivated' });
        }
      });
    }
  });
}

describe('acme.authzReuse: off, and a slow validation (Postgres)', () => {
  let resolver: TestDns;
  let slow: http.Server;
  let server: TestServer;
  const answers = new Map<string, string>();
  const responder: Responder = { set: (token, body) => answers.set(token, body) };
  before(async () => {
    resolver = await startTestDns({ [NAMES[5]!]: '127.0.0.1', [NAMES[6]!]: '127.0.0.1' });
    // A subscriber web server that takes 1.5 s to answer, so a validation is still running when
    // the challenge response (which does not wait: validationWait 0) goes out.
    slow = http.createServer((req, res) => {
      const token = (req.url ?? '').split('/').at(-1)!;
      setTimeout(() => res.writeHead(200, { 'content-type': 'text/plain' }).end(answers.get(token) ?? ''), 1500);
    });
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
    const config = 'acme:\n  authzReuse: "off"\n  validationWait: "0"\n';
    server = await startTestServer({ backend: 'postgres', dnsServer: resolver.server, http01Port: (slow.address() as AddressInfo).port, configYaml: config });
  });
  after(async () => {
    await server?.stop();
    slow?.closeAllConnections();
    await new Promise((resolve) => slow?.close(resolve));
    await resolver?.close();
  });

  test('no newAuthz in the directory (and 404 there), no reuse, and a valid authorization keeps its creation expiry', async () => {
    const c = await TestAcmeClient.connect(server.directory, server.agent);
    assert.equal((await c.newAccount()).status, 201);
    assert.equal(c.dir.newAuthz, undefined);
    assertProblem(await c.post(`${server.baseUrl}/acme/new-authz`, { identifier: dns(NAMES[5]!) }), 'malformed', 404);
    const first = await order(c, [NAMES[5]!]);
    await validate(c, responder, first.json.authorizations);
    const authz = (await c.post(first.json.authorizations[0], '')).json;
    assert.ok(Date.parse(authz.expires) < Date.now() + 8 * DAY, 'acme.authzLifetime (7d) from creation, not a reuse window');
    const second = await order(c, [NAMES[5]!]);
    assert.notEqual(second.json.authorizations[0], first.json.authorizations[0]);
    assert.equal(second.json.status, 'pending');
  });

  test('the challenge and its authorization carry Retry-After while processing, and not once done', async () => {
    const c = await TestAcmeClient.connect(server.directory, server.agent);
    assert.equal((await c.newAccount()).status, 201);
    const o = await order(c, [NAMES[6]!]);
    const authzUrl = o.json.authorizations[0];
    const ch = (await c.post(authzUrl, '')).json.challenges.find((x: { type: string }) => x.type === 'http-01');
    answers.set(ch.token, c.keyAuthorization(ch.token));
    const answered = await c.post(ch.url, {});
    assert.equal(answered.json.status, 'processing', answered.text);
    assert.equal(answered.headers['retry-after'], '1');
    const polled = await c.post(authzUrl, '');
    assert.equal(polled.json.status, 'pending');
    assert.equal(polled.headers['retry-after'], '1');
    assert.equal((await c.post(ch.url, '')).headers['retry-after'], '1');
    assert.equal((await c.poll(authzUrl)).status, 'valid');
    assert.equal((await c.post(authzUrl, '')).headers['retry-after'], undefined);
    assert.equal((await c.post(ch.url, '')).headers['retry-after'], undefined);
  });
});
