// What `serve` offers before any ACME flow: HTTPS by default with a certificate from its own
// hierarchy, plain HTTP with --tls off, operator-supplied certificate files, the CA certificate
// endpoints, the directory's meta, and structured request and audit logs.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { request, TestAcmeClient } from './helpers/acme.js';
import { startTestServer } from './helpers/server.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'attestca-serve-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function httpGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

describe('serve', () => {
  test('HTTPS by default, with a certificate for the base URL host chained to the served root', async () => {
    const lines: string[] = [];
    const s = await startTestServer({ backend: 'pglite', logLines: lines, configYaml: 'acme:\n  termsOfService: https://ca.example.com/terms\n  website: https://ca.example.com\n  caaIdentities: [ca.example.com]\n' });
    try {
      const peer = await new Promise<X509Certificate>((resolve, reject) => {
        const req = https.get(s.directory, { agent: s.agent }, (res) => {
          resolve(new X509Certificate((res.socket as import('node:tls').TLSSocket).getPeerCertificate().raw));
          res.resume();
        });
        req.on('error', reject);
      });
      assert.match(peer.subjectAltName ?? '', /DNS:localhost/);
      assert.match(peer.subjectAltName ?? '', /IP Address:127\.0\.0\.1/);

      const dir = await request(s.directory, s.agent);
      assert.equal(dir.status, 200);
      assert.deepEqual(dir.json.meta, { termsOfService: 'https://ca.example.com/terms', website: 'https://ca.example.com', caaIdentities: ['ca.example.com'], externalAccountRequired: false });
      for (const k of ['newNonce', 'newAccount', 'newOrder']) assert.ok(dir.json[k].startsWith(s.baseUrl + '/acme/'));

      const roots = await request(`${s.baseUrl}/ca/roots.pem`, s.agent);
      assert.equal(roots.status, 200);
      assert.equal(roots.headers['content-type'], 'application/pem-certificate-chain; charset=utf-8');
      const ints = await request(`${s.baseUrl}/ca/intermediates.pem`, s.agent);
      const d = mkdtempSync(path.join(tmp, 'v-'));
      writeFileSync(path.join(d, 'roots.pem'), roots.text);
      writeFileSync(path.join(d, 'int.pem'), ints.text);
      assert.match(execFileSync('openssl', ['verify', '-CAfile', path.join(d, 'roots.pem'), path.join(d, 'int.pem')], { encoding: 'utf8' }), /OK/);

      // Terms of service configured: an account must agree to them (RFC 8555 §7.3).
      const c = await TestAcmeClient.connect(s.directory, s.agent);
      const refused = await c.newAccount({});
      assert.equal(refused.status, 403);
      assert.equal(refused.json.type, 'urn:ietf:params:acme:error:userActionRequired');
      assert.match(String(refused.headers.link), /<https:\/\/ca\.example\.com\/terms>;rel="terms-of-service"/);
      const agreed = await c.newAccount({ termsOfServiceAgreed: true, contact: ['mailto:ops@example.com'] });
      assert.equal(agreed.status, 201);
      assert.equal(agreed.json.termsOfServiceAgreed, true);

      // One line per request naming the resource, account and problem; an audit line per account.
      const logs = lines.map((l) => JSON.parse(l));
      const reqs = logs.filter((l) => l.msg === 'request');
      const failed = reqs.find((l) => l.resource === 'new-account' && l.status === 403);
      assert.equal(failed?.problem, 'userActionRequired');
      const made = reqs.find((l) => l.resource === 'new-account' && l.status === 201);
      assert.ok(made?.account, 'the request line names the account');
      assert.ok(logs.some((l) => l.audit === 'account-created' && l.account === made.account));
      assert.ok(logs.some((l) => l.audit === 'issuance' && l.purpose === 'tls-server'));
      assert.ok(!lines.some((l) => /PRIVATE KEY|passphrase"\s*:\s*"[^[]/.test(l)), 'no key material or passphrase in the logs');
    } finally {
      await s.stop();
    }
  });

  test('--tls off serves plain HTTP for a TLS-terminating proxy', async () => {
    const port = await (await import('./helpers/net.js')).freePort();
    const s = await startTestServer({ backend: 'pglite', overrides: { tls: 'off', listen: `127.0.0.1:${port}`, baseUrl: `https://ca.example.com` } });
    try {
      const r = await httpGet(`http://127.0.0.1:${s.port}/directory`);
      assert.equal(r.status, 200);
      assert.equal(JSON.parse(r.body).newNonce, 'https://ca.example.com/acme/new-nonce');
    } finally {
      await s.stop();
    }
  });

  test('--tls-cert and --tls-key serve the operator’s own certificate', async () => {
    const key = path.join(tmp, 'tls.key');
    const cert = path.join(tmp, 'tls.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost', '-days', '2'], { stdio: 'ignore' });
    const s = await startTestServer({ backend: 'pglite', overrides: { tlsCertFile: cert, tlsKeyFile: key } });
    try {
      const agent = new https.Agent({ ca: (await import('node:fs')).readFileSync(cert, 'utf8') });
      const r = await request(s.directory, agent);
      assert.equal(r.status, 200);
      agent.destroy();
    } finally {
      await s.stop();
    }
  });
});
