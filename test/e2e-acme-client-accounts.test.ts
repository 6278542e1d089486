// The account and authorization features driven by the npm acme-client, over real HTTPS and
// real http-01, on both backends: an order with notAfter whose certificate carries it, reuse of
// the valid authorization by the next order, authorization deactivation, contact update, and
// account deactivation after which the client's requests are refused.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import acme from 'acme-client';
import { x509 } from '../src/pki/x509.js';
import { backends } from './helpers/db.js';
import { startTestDns, type TestDns } from './helpers/dns.js';
import { startHttp01Responder } from './helpers/net.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const NAME = 'client.attestca.test';

for (const backend of backends) {
  describe(`acme-client account features on ${backend}`, () => {
    let dns: TestDns;
    let responder: Awaited<ReturnType<typeof startHttp01Responder>>;
    let server: TestServer;
    let client: acme.Client;

    before(async () => {
      dns = await startTestDns({ [NAME]: '127.0.0.1' });
      responder = await startHttp01Responder();
      server = await startTestServer({ backend, dnsServer: dns.server, http01Port: responder.port, configYaml: 'ca:\n  maxValidity: 7d\n' });
      acme.axios.defaults.httpsAgent = server.agent;
      client = new acme.Client({ directoryUrl: server.directory, accountKey: await acme.crypto.createPrivateEcdsaKey() });
      await client.createAccount({ termsOfServiceAgreed: true, contact: ['mailto:first@attestca.test'] });
    });
    after(async () => {
      await server?.stop();
      await responder?.close();
      await dns?.close();
    });

    test('an order with notAfter: validated, finalized, and the certificate ends exactly then', async () => {
      const notAfter = new Date(Math.floor(Date.now() / 1000) * 1000 + 3 * 86_400_000).toISOString();
      const order = await client.createOrder({ identifiers: [{ type: 'dns', value: NAME }], notAfter });
      assert.equal(order.notAfter, notAfter);
      for (const authz of await client.getAuthorizations(order)) {
        const challenge = authz.challenges.find((c) => c.type === 'http-01')!;
        responder.set(challenge.token, await client.getChallengeKeyAuthorization(challenge));
        await client.completeChallenge(challenge);
        await client.waitForValidStatus(challenge);
      }
      const [, csr] = await acme.crypto.createCsr({ commonName: NAME });
      const finalized = await client.finalizeOrder(order, csr);
      const pem = await client.getCertificate(await client.waitForValidStatus(finalized));
      const leaf = new x509.X509Certificate(pem.split(/(?=-----BEGIN CERTIFICATE-----)/)[0]!);
      assert.equal(leaf.notAfter.toISOString(), notAfter);
    });

    test('the next order reuses the valid authorization; deactivating it makes that order invalid', async () => {
      const order = await client.createOrder({ identifiers: [{ type: 'dns', value: NAME }] });
      assert.equal(order.status, 'ready');
      const [authz] = await client.getAuthorizations(order);
      assert.equal(authz!.status, 'valid');
      const deactivated = await client.deactivateAuthorization(authz!);
      assert.equal(deactivated.status, 'deactivated');
      assert.equal((await client.getOrder(order)).status, 'invalid');
    });

    test('contact update, then deactivation, after which the account is refused', async () => {
      const updated = await client.updateAccount({ contact: ['mailto:second@attestca.test'] });
      assert.deepEqual(updated.contact, ['mailto:second@attestca.test']);
      const gone = await client.updateAccount({ status: 'deactivated' });
      assert.equal(gone.status, 'deactivated');
      await assert.rejects(client.createOrder({ identifiers: [{ type: 'dns', value: NAME }] }), /deactivated/);
    });
  });
}
