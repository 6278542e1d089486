// dns-01, tls-alpn-01, wildcards and CAA end to end: the jose test client over real HTTPS, the
// test DNS responder serving A/TXT/CAA, a real TLS server answering acme-tls/1, on both storage
// backends; every issued chain is checked by `openssl verify` and its names by openssl.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TestAcmeClient } from './helpers/acme.js';
import { makeCsr } from './helpers/csr.js';
import { backends } from './helpers/db.js';
import { startTestDns, type TestDns } from './helpers/dns.js';
import { issueCertificateWith, type AuthorizationJson, type Solver } from './helpers/flow.js';
import { opensslSans, opensslVerify } from './helpers/openssl.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { acmeTlsCertificate, startTlsAlpnResponder, type TlsAlpnResponder } from './helpers/tlsalpn.js';
import { dns01Digest } from '../src/va/dns01.js';

const ACME_ERROR = 'urn:ietf:params:acme:error:';
const CAA_IDENTITY = 'ca.attestca.test';

const types = (a: AuthorizationJson) => a.challenges.map((c) => c.type).sort();

for (const backend of backends) {
  describe(`dns-01, tls-alpn-01, wildcards and CAA over HTTPS on ${backend}`, () => {
    let dns: TestDns;
    let alpn: TlsAlpnResponder;
    let server: TestServer;
    let client: TestAcmeClient;

    /** dns-01: adds the digest to the TXT RRset (a name and its wildcard share one). */
    const dns01: Solver = (authz, c) => {
      const ch = authz.challenges.find((x) => x.type === 'dns-01')!;
      dns.addTxt(`_acme-challenge.${authz.identifier.value}`, dns01Digest(c.keyAuthorization(ch.token)));
      return ch;
    };
    /** tls-alpn-01: serves the validation certificate for the identifier's SNI. */
    const tlsAlpn01: Solver = async (authz, c) => {
      const ch = authz.challenges.find((x) => x.type === 'tls-alpn-01')!;
      const { type, value } = authz.identifier;
      const sni = type === 'ip' ? value.split('.').reverse().join('.') + '.in-addr.arpa' : value;
      alpn.set(sni, await acmeTlsCertificate({ names: [{ type: type as 'dns' | 'ip', value }], keyAuthorization: c.keyAuthorization(ch.token) }));
      return ch;
    };

    before(async () => {
      dns = await startTestDns({ 'alpn.attestca.test': '127.0.0.1' });
      alpn = await startTlsAlpnResponder();
      server = await startTestServer({
        backend,
        dnsServer: dns.server,
        overrides: { tlsalpn01Port: String(alpn.port) },
        configYaml: `acme:\n  caaIdentities: [${CAA_IDENTITY}]\n  caa:\n    enabled: true\n`,
      });
      client = await TestAcmeClient.connect(server.directory, server.agent);
      assert.equal((await client.newAccount()).status, 201);
    });
    after(async () => {
      await server?.stop();
      await alpn?.close();
      await dns?.close();
    });

    test('a wildcard and its base name by dns-01: a certificate for *.name that openssl accepts', async () => {
      const ids = [
        { type: 'dns', value: '*.wild.attestca.test' },
        { type: 'dns', value: 'wild.attestca.test' },
      ];
      const created = await client.newOrder(ids);
      assert.equal(created.status, 201, created.text);
      // RFC 8555 §7.1.3: the order keeps the names as asked.
      assert.deepEqual(created.json.identifiers, ids);
      const authzs = await Promise.all((created.json.authorizations as string[]).map(async (u) => (await client.post(u, '')).json as AuthorizationJson));
      const wild = authzs.find((a) => a.wildcard)!;
      const base = authzs.find((a) => !a.wildcard)!;
      // §7.1.4: the wildcard's authorization names the base domain, with wildcard: true, and offers dns-01 only.
      assert.deepEqual(wild.identifier, { type: 'dns', value: 'wild.attestca.test' });
      assert.equal(wild.wildcard, true);
      assert.deepEqual(types(wild), ['dns-01']);
      assert.equal('wildcard' in base, false);
      assert.deepEqual(types(base), ['dns-01', 'http-01', 'tls-alpn-01']);

      for (const a of authzs) assert.equal((await client.post((await dns01(a, client)).url, {})).status, 200);
      const ready = await client.poll(created.headers.location as string);
      assert.equal(ready.status, 'ready', JSON.stringify(ready.error));

      // The CSR must carry the wildcard itself, not a name under it.
      const wrong = await client.post(ready.finalize, { csr: (await makeCsr({ dns: ['www.wild.attestca.test', 'wild.attestca.test'] })).b64url });
      assert.equal(wrong.status, 400);
      assert.equal(wrong.json.type, `${ACME_ERROR}badCSR`);

      const fin = await client.post(ready.finalize, { csr: (await makeCsr({ dns: ['*.wild.attestca.test', 'wild.attestca.test'] })).b64url });
      assert.equal(fin.status, 200, fin.text);
      const done = fin.json.status === 'valid' ? fin.json : await client.poll(created.headers.location as string);
      const chain = (await client.post(done.certificate, '')).text;
      assert.match(opensslVerify(server.rootsPem, chain), /leaf\.pem: OK/);
      assert.deepEqual(opensslSans(chain), ['DNS:*.wild.attestca.test', 'DNS:wild.attestca.test']);
    });

    test('tls-alpn-01 for a dns name: SNI is the name, and the certificate is issued', async () => {
      const seen = alpn.servernames.length;
      const r = await issueCertificateWith(client, [{ type: 'dns', value: 'alpn.attestca.test' }], tlsAlpn01);
      assert.deepEqual(alpn.servernames.slice(seen), ['alpn.attestca.test']);
      assert.match(opensslVerify(server.rootsPem, r.chainPem), /leaf\.pem: OK/);
      assert.deepEqual(opensslSans(r.chainPem), ['DNS:alpn.attestca.test']);
    });

    test('an IP identifier is offered http-01 and tls-alpn-01, never dns-01; tls-alpn-01 uses the in-addr.arpa SNI', async () => {
      const seen = alpn.servernames.length;
      const r = await issueCertificateWith(client, [{ type: 'ip', value: '127.0.0.1' }], tlsAlpn01);
      assert.deepEqual(types(r.authorizations[0]!), ['http-01', 'tls-alpn-01']);
      assert.deepEqual(alpn.servernames.slice(seen), ['1.0.0.127.in-addr.arpa']);
      assert.match(opensslVerify(server.rootsPem, r.chainPem), /leaf\.pem: OK/);
      assert.deepEqual(opensslSans(r.chainPem), ['IP Address:127.0.0.1']);
    });

    test('a wrong TXT record: the challenge, the authorization and the order become invalid with incorrectResponse', async () => {
      const created = await client.newOrder([{ type: 'dns', value: 'wrong-txt.attestca.test' }]);
      const authzUrl = created.json.authorizations[0] as string;
      const ch = ((await client.post(authzUrl, '')).json as AuthorizationJson).challenges.find((c) => c.type === 'dns-01')!;
      dns.setTxt('_acme-challenge.wrong-txt.attestca.test', ['not-the-digest']);
      await client.post(ch.url, {});
      const done = await client.poll(ch.url);
      assert.equal(done.status, 'invalid');
      assert.equal(done.error.type, `${ACME_ERROR}incorrectResponse`);
      assert.match(done.error.detail, /"not-the-digest"/);
      assert.equal((await client.poll(authzUrl)).status, 'invalid');
      const order = await client.poll(created.headers.location as string);
      assert.equal(order.status, 'invalid');
      assert.equal(order.error.type, `${ACME_ERROR}incorrectResponse`);
    });

    test('CAA naming another CA: dns-01 succeeds but the challenge is invalid with a caa problem naming the record', async () => {
      dns.setCaa('denied.attestca.test', [{ tag: 'issue', value: 'other-ca.example' }]);
      const created = await client.newOrder([{ type: 'dns', value: 'www.denied.attestca.test' }]);
      const authz = (await client.post(created.json.authorizations[0], '')).json as AuthorizationJson;
      const ch = await dns01(authz, client);
      await client.post(ch.url, {});
      const done = await client.poll(ch.url);
      assert.equal(done.status, 'invalid');
      assert.equal(done.error.type, `${ACME_ERROR}caa`);
      assert.equal(done.error.status, 403);
      assert.match(done.error.detail, /CAA records at denied\.attestca\.test .*0 issue "other-ca\.example" names other-ca\.example, not this CA/);
      assert.equal((await client.poll(created.headers.location as string)).status, 'invalid');
    });

    test('CAA bound to this account URL and to dns-01 (RFC 8657): issued', async () => {
      dns.setCaa('bound.attestca.test', [{ tag: 'issue', value: `${CAA_IDENTITY}; accounturi=${client.kid}; validationmethods=dns-01` }]);
      const r = await issueCertificateWith(client, [{ type: 'dns', value: 'bound.attestca.test' }], dns01);
      assert.deepEqual(opensslSans(r.chainPem), ['DNS:bound.attestca.test']);
      // The same record refuses another account.
      const other = await TestAcmeClient.connect(server.directory, server.agent);
      await other.newAccount();
      await assert.rejects(issueCertificateWith(other, [{ type: 'dns', value: 'bound.attestca.test' }], dns01), /order is invalid: .*caa.*is bound to account/);
    });
  });
}
