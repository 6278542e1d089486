// newOrder's notBefore/notAfter (RFC 8555 §7.4) over HTTPS, on a pinned clock so that every
// bound is known to the second: the certificate carries exactly the requested window (rounded
// inwards to whole seconds), clipped only by the issuing CA's expiry; every request outside the
// policy (ca.maxValidity, ca.maxNotBeforeDelay, deviceAttest.certValidity) or not an RFC 3339
// date-time is malformed. Issuance on both backends; the refusals on PGlite.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fixedClock } from '../src/clock.js';
import { x509 } from '../src/pki/x509.js';
import { TestAcmeClient } from './helpers/acme.js';
import { makeCsr } from './helpers/csr.js';
import { backends, type Backend } from './helpers/db.js';
import { startTestDns, type TestDns } from './helpers/dns.js';
import { startHttp01Responder } from './helpers/net.js';
import { assertProblem } from './helpers/problem.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const NAME = 'validity.attestca.test';
const S = 1000;
const H = 3600 * S;
const D = 24 * H;
const CONFIG = 'ca:\n  certValidity: 24h\n  backdate: 1m\n  maxValidity: 3650d\n  maxNotBeforeDelay: 2d\n';

/** A pinned clock on a whole second, close to real time (the TLS handshakes use real time). */
const T = Math.floor(Date.now() / S) * S;
const iso = (ms: number) => new Date(ms).toISOString();

interface Env {
  server: TestServer;
  client: TestAcmeClient;
  responder: Awaited<ReturnType<typeof startHttp01Responder>>;
  dns: TestDns;
  clock: ReturnType<typeof fixedClock>;
}

async function setUp(backend: Backend): Promise<Env> {
  const dns = await startTestDns({ [NAME]: '127.0.0.1' });
  const responder = await startHttp01Responder();
  const clock = fixedClock(new Date(T));
  const server = await startTestServer({ backend, dnsServer: dns.server, http01Port: responder.port, configYaml: CONFIG, clock });
  const client = await TestAcmeClient.connect(server.directory, server.agent);
  assert.equal((await client.newAccount()).status, 201);
  return { server, client, responder, dns, clock };
}

async function tearDown(e: Partial<Env>): Promise<void> {
  await e.server?.stop();
  await e.responder?.close();
  await e.dns?.close();
}

/** newOrder with `window`, validated (or ready at once by reuse), and its ready order. */
async function readyOrder(e: Env, window: Record<string, unknown>) {
  const r = await e.client.post(e.client.dir.newOrder, { identifiers: [{ type: 'dns', value: NAME }], ...window });
  assert.equal(r.status, 201, r.text);
  for (const authzUrl of r.json.authorizations as string[]) {
    const authz = (await e.client.post(authzUrl, '')).json;
    if (authz.status === 'valid') continue;
    const ch = authz.challenges.find((c: { type: string }) => c.type === 'http-01');
    e.responder.set(ch.token, e.client.keyAuthorization(ch.token));
    assert.equal((await e.client.post(ch.url, {})).status, 200);
  }
  const order = await e.client.poll(r.headers.location as string);
  assert.equal(order.status, 'ready', JSON.stringify(order));
  return { url: r.headers.location as string, order };
}

/** The certificate's bounds after finalizing an order with `window`, and the order as created. */
async function issueWith(e: Env, window: Record<string, unknown>) {
  const { url, order } = await readyOrder(e, window);
  const fin = await e.client.post(order.finalize, { csr: (await makeCsr({ dns: [NAME] })).b64url });
  assert.equal(fin.status, 200, fin.text);
  const done = fin.json.status === 'valid' ? fin.json : await e.client.poll(url);
  const pem = (await e.client.post(done.certificate, '')).text;
  const leaf = new x509.X509Certificate(pem.split(/(?=-----BEGIN CERTIFICATE-----)/)[0]!);
  return { order, notBefore: leaf.notBefore.getTime(), notAfter: leaf.notAfter.getTime() };
}

for (const backend of backends) {
  describe(`certificates get the requested notBefore/notAfter, on ${backend}`, () => {
    let e: Env;
    before(async () => {
      e = await setUp(backend);
    });
    after(() => tearDown(e ?? {}));

    const cases: { name: string; window: () => Record<string, string>; order: () => [number | undefined, number | undefined]; cert: () => [number, number] }[] = [
      { name: 'both bounds', window: () => ({ notBefore: iso(T + H), notAfter: iso(T + H + 3 * D) }), order: () => [T + H, T + H + 3 * D], cert: () => [T + H, T + H + 3 * D] },
      { name: 'notAfter only: notBefore is issuance minus the backdate', window: () => ({ notAfter: iso(T + 2 * D) }), order: () => [undefined, T + 2 * D], cert: () => [T - 60 * S, T + 2 * D] },
      { name: 'notBefore only: notAfter is notBefore plus ca.certValidity', window: () => ({ notBefore: iso(T + 30 * 60 * S) }), order: () => [T + 30 * 60 * S, undefined], cert: () => [T + 30 * 60 * S, T + 30 * 60 * S + D] },
      { name: 'notBefore up to ca.backdate in the past', window: () => ({ notBefore: iso(T - 30 * S), notAfter: iso(T + D) }), order: () => [T - 30 * S, T + D], cert: () => [T - 30 * S, T + D] },
      {
        name: 'offsets and fractions of a second, rounded inwards',
        window: () => ({
          notBefore: new Date(T + 2 * H + 2 * H + 250).toISOString().replace('Z', '+02:00'),
          notAfter: new Date(T + 2 * H + D - 5 * H + 999).toISOString().replace('Z', '-05:00').toLowerCase(),
        }),
        order: () => [T + 2 * H + S, T + 2 * H + D],
        cert: () => [T + 2 * H + S, T + 2 * H + D],
      },
      {
        name: "past the issuing CA's expiry: clipped to it",
        window: () => ({ notBefore: iso(T + D), notAfter: iso(T + D + 3650 * D - S) }),
        order: () => [T + D, T + D + 3650 * D - S],
        cert: () => [T + D, e.server.ctx.ca.issuerNotAfter.getTime()],
      },
    ];
    for (const c of cases) {
      test(c.name, async () => {
        const { order, notBefore, notAfter } = await issueWith(e, c.window());
        const [ob, oa] = c.order();
        assert.equal(order.notBefore, ob === undefined ? undefined : iso(ob), 'the order shows the notBefore the certificate will carry');
        assert.equal(order.notAfter, oa === undefined ? undefined : iso(oa));
        assert.deepEqual([iso(notBefore), iso(notAfter)], c.cert().map(iso));
      });
    }

    test('without notBefore/notAfter the certificate gets ca.certValidity from issuance, as before', async () => {
      const { order, notBefore, notAfter } = await issueWith(e, {});
      assert.equal(order.notBefore, undefined);
      assert.deepEqual([iso(notBefore), iso(notAfter)], [iso(T - 60 * S), iso(T + D)]);
    });

    // The refusals, once (PGlite).
    if (backend === 'pglite') {
      describe('refusals', () => {
        const order = (window: Record<string, unknown>, identifier = { type: 'dns', value: NAME }) => e.client.post(e.client.dir.newOrder, { identifiers: [identifier], ...window });
        const cases: [string, () => Record<string, unknown>, RegExp][] = [
          ['notBefore is not a date-time', () => ({ notBefore: 'tomorrow' }), /RFC 3339/],
          ['notAfter is a date without a time', () => ({ notAfter: '2030-01-01' }), /RFC 3339/],
          ['notAfter without an offset', () => ({ notAfter: '2030-01-01T00:00:00' }), /RFC 3339/],
          ['notAfter with a space for "T"', () => ({ notAfter: '2030-01-01 00:00:00Z' }), /RFC 3339/],
          ['month 13', () => ({ notAfter: '2030-13-01T00:00:00Z' }), /RFC 3339/],
          ['February 30', () => ({ notAfter: '2030-02-30T00:00:00Z' }), /RFC 3339/],
          ['hour 24', () => ({ notAfter: '2030-01-01T24:00:00Z' }), /RFC 3339/],
          ['a leap second', () => ({ notAfter: '2030-06-30T23:59:60Z' }), /RFC 3339/],
          ['offset hour 24', () => ({ notAfter: '2030-01-01T00:00:00+24:00' }), /RFC 3339/],
          ['notBefore is a number', () => ({ notBefore: T + H }), /notBefore/],
          ['notBefore further in the past than ca.backdate', () => ({ notBefore: iso(T - 2 * 60 * S) }), /in the past/],
          ['notBefore further ahead than ca.maxNotBeforeDelay', () => ({ notBefore: iso(T + 2 * D + S) }), /maxNotBeforeDelay/],
          ['notAfter in the past', () => ({ notAfter: iso(T - S) }), /not in the future/],
          ['notAfter before notBefore', () => ({ notBefore: iso(T + 2 * H), notAfter: iso(T + H) }), /not after notBefore/],
          ['notAfter equal to notBefore', () => ({ notBefore: iso(T + H), notAfter: iso(T + H) }), /not after notBefore/],
          ['a window longer than ca.maxValidity', () => ({ notBefore: iso(T + H), notAfter: iso(T + H + 3650 * D + S) }), /ca\.maxValidity/],
          ['notAfter alone, further than ca.maxValidity from now', () => ({ notAfter: iso(T + 3651 * D) }), /ca\.maxValidity/],
        ];
        for (const [name, window, detail] of cases) {
          test(`${name} → malformed 400`, async () => {
            const p = assertProblem(await order(window()), 'malformed', 400);
            assert.match(p.detail, detail);
          });
        }

        test('a device order may ask for at most deviceAttest.certValidity (365d)', async () => {
          const device = { type: 'permanent-identifier', value: 'C02VALIDITY1' };
          const p = assertProblem(await order({ notAfter: iso(T + 366 * D) }, device), 'malformed', 400);
          assert.match(p.detail, /deviceAttest\.certValidity/);
          const ok = await order({ notAfter: iso(T + 300 * D) }, device);
          assert.equal(ok.status, 201, ok.text);
          assert.equal(ok.json.notAfter, iso(T + 300 * D));
        });
      });
    }

    test('an order whose notAfter passes before finalize is refused at finalize, and stays ready', async () => {
      const { url, order } = await readyOrder(e, { notAfter: iso(T + 2 * H) });
      e.clock.advance(3 * H);
      try {
        const p = assertProblem(await e.client.post(order.finalize, { csr: (await makeCsr({ dns: [NAME] })).b64url }), 'malformed', 400);
        assert.match(p.detail, /notAfter .* has passed/);
        assert.equal((await e.client.post(url, '')).json.status, 'ready');
      } finally {
        e.clock.set(new Date(T));
      }
    });
  });
}
