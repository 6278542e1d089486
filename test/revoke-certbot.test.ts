// certbot revoke against attestca over real HTTPS, on both storage backends: once with the account
// that obtained the certificate (kid), once with the certificate's own key (--key-path, a jwk
// request). Certbot trusts the CA through REQUESTS_CA_BUNDLE and answers http-01 itself. The
// outcome is checked where relying parties see it: openssl ocsp and the CRL.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { backends } from './helpers/db.js';
import { startTestDns, type TestDns } from './helpers/dns.js';
import { freePort } from './helpers/net.js';
import { fetchBinary, runTool, type Run } from './helpers/revocation.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const CERTBOT = '/usr/bin/certbot';

for (const backend of backends) {
  describe(`certbot revoke against attestca on ${backend}`, () => {
    let dns: TestDns;
    let server: TestServer;
    let http01Port: number;
    const logLines: string[] = [];
    const dir = mkdtempSync(path.join(os.tmpdir(), 'attestca-certbot-revoke-'));
    const caBundle = path.join(dir, 'roots.pem');
    const live = (certName: string, f: string) => path.join(dir, 'config', 'live', certName, f);

    const certbot = (args: string[]): Promise<Run> =>
      runTool(CERTBOT, [...args, '--config-dir', path.join(dir, 'config'), '--work-dir', path.join(dir, 'work'), '--logs-dir', path.join(dir, 'logs'), '--non-interactive'], {
        ...process.env,
        REQUESTS_CA_BUNDLE: caBundle,
      });
    const explain = (r: Run) => {
      const log = path.join(dir, 'logs', 'letsencrypt.log');
      return `certbot exited ${r.code}\n${r.stderr}\n${r.stdout}\n${existsSync(log) ? readFileSync(log, 'utf8').split('\n').slice(-40).join('\n') : ''}`;
    };
    const obtain = async (certName: string, domain: string) => {
      const r = await certbot([
        'certonly', '--standalone', '--preferred-challenges', 'http', '--http-01-port', String(http01Port), '--http-01-address', '127.0.0.1',
        '--server', server.directory, '--agree-tos', '-m', 'ops@attestca.test', '--cert-name', certName, '-d', domain, '--key-type', 'ecdsa',
      ]);
      assert.equal(r.code, 0, explain(r));
      return new X509Certificate(readFileSync(live(certName, 'cert.pem'))).serialNumber.toLowerCase();
    };
    const ocspStatus = async (certName: string) => {
      const r = await runTool('openssl', ['ocsp', '-issuer', live(certName, 'chain.pem'), '-cert', live(certName, 'cert.pem'), '-url', `${server.baseUrl}/ocsp`, '-CAfile', caBundle]);
      assert.match(r.stderr, /Response verify OK/, r.stderr + r.stdout);
      return r.stdout;
    };
    const audit = (serial: string) => logLines.map((l) => JSON.parse(l)).find((l) => l.audit === 'revocation' && l.serial === serial);

    before(async () => {
      dns = await startTestDns({ 'bot-account.attestca.test': '127.0.0.1', 'bot-key.attestca.test': '127.0.0.1' });
      http01Port = await freePort();
      server = await startTestServer({ backend, dnsServer: dns.server, http01Port, logLines });
      writeFileSync(caBundle, server.rootsPem);
    });
    after(async () => {
      await server?.stop();
      await dns?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    test('revoke --reason keycompromise with the account that obtained the certificate', async () => {
      const serial = await obtain('account', 'bot-account.attestca.test');
      assert.match(await ocspStatus('account'), /cert\.pem: good/);
      const r = await certbot(['revoke', '--server', server.directory, '--cert-path', live('account', 'cert.pem'), '--reason', 'keycompromise', '--no-delete-after-revoke']);
      assert.equal(r.code, 0, explain(r));
      assert.match(r.stdout + r.stderr, /successfully revoked/i);
      assert.equal(audit(serial)?.method, 'subscriber');
      const status = await ocspStatus('account');
      assert.match(status, /cert\.pem: revoked/);
      assert.match(status, /Reason: keyCompromise/);
    });

    test('revoke with --key-path: signed with the certificate key, recorded as keyCompromise', async () => {
      const serial = await obtain('key', 'bot-key.attestca.test');
      const r = await certbot(['revoke', '--server', server.directory, '--cert-path', live('key', 'cert.pem'), '--key-path', live('key', 'privkey.pem'), '--reason', 'superseded', '--no-delete-after-revoke']);
      assert.equal(r.code, 0, explain(r));
      assert.equal(audit(serial)?.method, 'key');
      const status = await ocspStatus('key');
      assert.match(status, /cert\.pem: revoked/);
      assert.match(status, /Reason: keyCompromise/);
      // Revoking again is refused with alreadyRevoked. (Debian's certbot 2.1.0 then trips over its
      // josepy while displaying the error, so the problem document is read from certbot's log.)
      const again = await certbot(['revoke', '--server', server.directory, '--cert-path', live('key', 'cert.pem'), '--reason', 'superseded', '--no-delete-after-revoke']);
      assert.notEqual(again.code, 0);
      assert.match(readFileSync(path.join(dir, 'logs', 'letsencrypt.log'), 'utf8'), /\{"type":"urn:ietf:params:acme:error:alreadyRevoked","detail":"[^"]*already revoked"/);
    });

    test('the CRL lists both revoked serials', async () => {
      const crl = await fetchBinary(`${server.baseUrl}/crl/${server.ctx.ca.issuerId}.crl`, server.agent);
      writeFileSync(path.join(dir, 'now.crl'), crl.body);
      const text = (await runTool('openssl', ['crl', '-in', path.join(dir, 'now.crl'), '-inform', 'DER', '-noout', '-text'])).stdout;
      for (const certName of ['account', 'key']) {
        const serial = new X509Certificate(readFileSync(live(certName, 'cert.pem'))).serialNumber;
        assert.match(text, new RegExp(`Serial Number: ${serial}\\n\\s+Revocation Date: [^\\n]+\\n\\s+CRL entry extensions:\\n\\s+X509v3 CRL Reason Code: \\n\\s+Key Compromise`));
      }
    });
  });
}
