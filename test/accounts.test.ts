// Accounts end to end over HTTPS on both storage backends: contact update (RFC 8555 §7.3.2), the
// orders list and its pages (§7.1.2.1), and deactivation (§7.3.6), after which every request the
// account's key signs is refused with `unauthorized` and its pending work is cancelled.
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { accountById } from '../src/sa/accounts.js';
import { authorizationById, orderById } from '../src/sa/orders.js';
import { generateAccountKey, TestAcmeClient, type HttpResult } from './helpers/acme.js';
import { makeCsr } from './helpers/csr.js';
import { backends } from './helpers/db.js';
import { startTestDns, type TestDns } from './helpers/dns.js';
import { issueCertificate } from './helpers/flow.js';
import { buildJws, es256 } from './helpers/jws.js';
import { startHttp01Responder } from './helpers/net.js';
import { assertProblem } from './helpers/problem.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const DOMAIN = 'accounts.attestca.test';
const idOf = (url: string): string => url.split('/').at(-1)!;

/** The rel="next" target of a Link header (RFC 8288), or undefined. */
function nextLink(r: HttpResult): string | undefined {
  const links = ([] as string[]).concat(r.headers.link ?? []);
  for (const l of links.flatMap((h) => h.split(/,(?=\s*<)/))) {
    const m = /^\s*<([^>]+)>\s*;\s*rel="next"\s*$/.exec(l);
    if (m) return m[1];
  }
  return undefined;
}

for (const backend of backends) {
  describe(`accounts on ${backend}`, () => {
    let dns: TestDns;
    let responder: Awaited<ReturnType<typeof startHttp01Responder>>;
    let server: TestServer;
    const client = async () => {
      const c = await TestAcmeClient.connect(server.directory, server.agent);
      assert.equal((await c.newAccount({ termsOfServiceAgreed: true, contact: ['mailto:first@attestca.test'] })).status, 201);
      return c;
    };

    before(async () => {
      dns = await startTestDns({ [`www.${DOMAIN}`]: '127.0.0.1', [`api.${DOMAIN}`]: '127.0.0.1' });
      responder = await startHttp01Responder();
      server = await startTestServer({ backend, dnsServer: dns.server, http01Port: responder.port });
    });
    after(async () => {
      await server?.stop();
      await responder?.close();
      await dns?.close();
    });

    test('contact update replaces the contacts, is checked like newAccount, and an empty list removes them', async () => {
      const c = await client();
      const updated = await c.post(c.kid!, { contact: ['mailto:ops@attestca.test', 'mailto:oncall@attestca.test'] });
      assert.equal(updated.status, 200, updated.text);
      assert.deepEqual(updated.json.contact, ['mailto:ops@attestca.test', 'mailto:oncall@attestca.test']);
      assert.equal(updated.headers.location, c.kid);
      assert.deepEqual((await c.post(c.kid!, '')).json.contact, ['mailto:ops@attestca.test', 'mailto:oncall@attestca.test'], 'the update is stored');
      assertProblem(await c.post(c.kid!, { contact: ['tel:+15555550100'] }), 'unsupportedContact', 400);
      assertProblem(await c.post(c.kid!, { contact: ['mailto:not an address'] }), 'invalidContact', 400);
      assert.deepEqual((await c.post(c.kid!, '')).json.contact, ['mailto:ops@attestca.test', 'mailto:oncall@attestca.test'], 'a refused update changes nothing');
      const cleared = await c.post(c.kid!, { contact: [] });
      assert.equal(cleared.status, 200, cleared.text);
      assert.deepEqual(cleared.json.contact, []);
    });

    test('the orders list comes in pages of 50, oldest first, linked with rel="next", without invalid orders', async () => {
      const c = await client();
      const created: string[] = [];
      for (let i = 0; i < 110; i++) {
        const r = await c.newOrder([{ type: 'dns', value: `o${i}.${DOMAIN}` }]);
        assert.equal(r.status, 201, r.text);
        created.push(r.headers.location as string);
      }
      // An order made invalid (here by deactivating its authorization) leaves the list (§7.1.2.1 SHOULD NOT).
      const dropped = created[7]!;
      const authzUrl = (await c.post(dropped, '')).json.authorizations[0];
      assert.equal((await c.post(authzUrl, { status: 'deactivated' })).status, 200);
      assert.equal((await c.post(dropped, '')).json.status, 'invalid');

      const account = (await c.post(c.kid!, '')).json;
      const pages: string[][] = [];
      let url: string | undefined = account.orders;
      while (url) {
        const r = await c.post(url, '');
        assert.equal(r.status, 200, r.text);
        pages.push(r.json.orders);
        url = nextLink(r);
        assert.ok(pages.length <= 3, 'three pages at most');
      }
      assert.deepEqual(pages.map((p) => p.length), [50, 50, 9]);
      assert.deepEqual(pages.flat(), created.filter((u) => u !== dropped), 'every valid order once, in creation order');
      assertProblem(await c.post(`${account.orders}?cursor=not%20an%20id`, ''), 'malformed', 400);
    });

    describe('a deactivated account', () => {
      let c: TestAcmeClient;
      let issued: Awaited<ReturnType<typeof issueCertificate>>;
      const pending = {} as { order: string; authz: string; challenge: string };

      before(async () => {
        c = await client();
        issued = await issueCertificate(c, responder, [{ type: 'dns', value: `www.${DOMAIN}` }]);
        const r = await c.newOrder([{ type: 'dns', value: `api.${DOMAIN}` }]);
        pending.order = r.headers.location as string;
        pending.authz = r.json.authorizations[0];
        pending.challenge = (await c.post(pending.authz, '')).json.challenges[0].url;
        const deactivated = await c.post(c.kid!, { status: 'deactivated' });
        assert.equal(deactivated.status, 200, deactivated.text);
        assert.equal(deactivated.json.status, 'deactivated');
      });

      test('its pending order is cancelled (invalid) and its authorizations deactivated (RFC 8555 §7.3.6)', async () => {
        const order = await orderById(server.ctx.db, idOf(pending.order));
        assert.equal(order?.status, 'invalid');
        assert.match(order!.error!.type, /:unauthorized$/);
        assert.equal((await authorizationById(server.ctx.db, idOf(pending.authz)))?.status, 'deactivated');
        assert.equal((await orderById(server.ctx.db, idOf(issued.orderUrl)))?.status, 'valid', 'an issued order stays valid');
        assert.equal((await accountById(server.ctx.db, idOf(c.kid!)))?.status, 'deactivated');
      });

      /** keyChange's body for this account, correctly formed, so that only the account's state refuses it. */
      const keyChange = async () => {
        const url = c.dir.keyChange as string;
        const newKey = generateAccountKey('ES256');
        const inner = buildJws({ alg: 'ES256', jwk: createPublicKey(newKey).export({ format: 'jwk' }), url }, { account: c.kid, oldKey: c.jwk }, es256(newKey));
        return c.post(url, inner);
      };
      const every: [string, () => Promise<HttpResult>][] = [
        ['account POST-as-GET', () => c.post(c.kid!, '')],
        ['contact update', () => c.post(c.kid!, { contact: ['mailto:again@attestca.test'] })],
        ['deactivation again', () => c.post(c.kid!, { status: 'deactivated' })],
        ['orders list', async () => c.post(`${c.kid!}/orders`, '')],
        ['newOrder', () => c.newOrder([{ type: 'dns', value: `www.${DOMAIN}` }])],
        ['newAuthz', () => c.post(c.dir.newAuthz as string, { identifier: { type: 'dns', value: `www.${DOMAIN}` } })],
        ['order POST-as-GET', () => c.post(pending.order, '')],
        ['authorization POST-as-GET', () => c.post(pending.authz, '')],
        ['authorization deactivation', () => c.post(pending.authz, { status: 'deactivated' })],
        ['challenge POST-as-GET', () => c.post(pending.challenge, '')],
        ['challenge answer', () => c.post(pending.challenge, {})],
        ['finalize', async () => c.post(issued.order.finalize, { csr: (await makeCsr({ dns: [`www.${DOMAIN}`] })).b64url })],
        ['certificate download', () => c.post(issued.order.certificate, '')],
        ['keyChange', keyChange],
        ['newAccount with its key', () => c.post(c.dir.newAccount, { termsOfServiceAgreed: true }, { useJwk: true })],
        ['newAccount onlyReturnExisting with its key', () => c.post(c.dir.newAccount, { onlyReturnExisting: true }, { useJwk: true })],
      ];
      for (const [name, send] of every) {
        test(`refuses ${name} → unauthorized 401 (RFC 8555 §7.3.6)`, async () => {
          assertProblem(await send(), 'unauthorized', 401);
        });
      }

      test('another key still creates a new account', async () => {
        const other = await TestAcmeClient.connect(server.directory, server.agent);
        assert.equal((await other.newAccount()).status, 201);
      });
    });
  });
}
