// End to end with the npm acme-client over real HTTPS and real http-01 validation, on both
// storage backends; every issued chain is checked with `openssl verify`.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import acme from 'acme-client';
import { backends } from './helpers/db.js';
import { startTestDns, type TestDns } from './helpers/dns.js';
import { startHttp01Responder } from './helpers/net.js';
import { startTestServer, type TestServer } from './helpers/server.js';

function opensslVerify(rootsPem: string, chainPem: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'attestca-verify-'));
  const [leaf, ...rest] = chainPem.split(/(?=-----BEGIN CERTIFICATE-----)/);
  writeFileSync(path.join(dir, 'roots.pem'), rootsPem);
  writeFileSync(path.join(dir, 'leaf.pem'), leaf!);
  writeFileSync(path.join(dir, 'chain.pem'), rest.join(''));
  return execFileSync('openssl', ['verify', '-CAfile', path.join(dir, 'roots.pem'), '-untrusted', path.join(dir, 'chain.pem'), path.join(dir, 'leaf.pem')], { encoding: 'utf8' });
}

for (const backend of backends) {
  describe(`acme-client against attestca on ${backend}`, () => {
    let dns: TestDns;
    let responder: Awaited<ReturnType<typeof startHttp01Responder>>;
    let server: TestServer;

    before(async () => {
      dns = await startTestDns({ 'web1.attestca.test': '127.0.0.1', 'web2.attestca.test': '127.0.0.1' });
      responder = await startHttp01Responder();
      server = await startTestServer({ backend, dnsServer: dns.server, http01Port: responder.port });
    });
    after(async () => {
      await server.stop();
      await responder.close();
      await dns.close();
    });

    const client = async () => {
      acme.axios.defaults.httpsAgent = server.agent;
      return new acme.Client({ directoryUrl: server.directory, accountKey: await acme.crypto.createPrivateEcdsaKey() });
    };

    test('creates an account, validates http-01, finalizes and downloads a chain openssl accepts', async () => {
      const c = await client();
      const [key, csr] = await acme.crypto.createCsr({ commonName: 'web1.attestca.test', altNames: ['web1.attestca.test', 'web2.attestca.test'] });
      const cert = await c.auto({
        csr,
        termsOfServiceAgreed: true,
        email: 'ops@attestca.test',
        challengePriority: ['http-01'],
        // acme-client's own pre-check would fetch from port 80 through the system resolver.
        skipChallengeVerification: true,
        challengeCreateFn: async (_authz, challenge, keyAuthorization) => responder.set(challenge.token, keyAuthorization),
        challengeRemoveFn: async () => {},
      });
      assert.ok(key.length > 0);
      assert.match(opensslVerify(server.rootsPem, cert), /leaf\.pem: OK/);
      const info = acme.crypto.readCertificateInfo(cert);
      assert.deepEqual(info.domains.altNames.sort(), ['web1.attestca.test', 'web2.attestca.test']);
      assert.equal(info.domains.commonName, 'web1.attestca.test');
    });

    test('a wrong key authorization makes the authorization and the order invalid', async () => {
      const c = await client();
      await c.createAccount({ termsOfServiceAgreed: true });
      const order = await c.createOrder({ identifiers: [{ type: 'dns', value: 'web1.attestca.test' }] });
      const [authz] = await c.getAuthorizations(order);
      const challenge = authz!.challenges.find((ch) => ch.type === 'http-01')!;
      responder.set(challenge.token, 'not-the-key-authorization');
      await c.completeChallenge(challenge);
      await assert.rejects(c.waitForValidStatus(challenge), /key authorization/);
      const after = await c.getOrder(order);
      assert.equal(after.status, 'invalid');
    });
  });
}
