// The name policy (config `policy`): every rule refuses with the right problem and a subproblem
// naming the rule (RFC 8555 §6.7.1), at newOrder (§7.4) and newAuthz (§7.4.1), over real HTTPS.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../src/config.js';
import { TestAcmeClient } from './helpers/acme.js';
import { ACME_ERROR, assertProblem } from './helpers/problem.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const POLICY = `
policy:
  identifierTypes: [dns, ip]
  dns:
    allow: [example.internal, Example.COM.]
    deny: [secret.example.internal]
  ip:
    allow: [10.0.0.0/8, "2001:db8::/32"]
    deny: [10.66.0.0/16, "2001:db8:bad::/48", 10.1.1.1]
`;

type Id = { type: string; value: string };
const dns = (value: string): Id => ({ type: 'dns', value });
const ip = (value: string): Id => ({ type: 'ip', value });

describe('name policy', () => {
  let server: TestServer;
  let client: TestAcmeClient;

  before(async () => {
    server = await startTestServer({ backend: 'pglite', configYaml: POLICY });
    client = await TestAcmeClient.connect(server.directory, server.agent);
    assert.equal((await client.newAccount()).status, 201);
  });
  after(() => server.stop());

  const allowed: [string, Id][] = [
    ['a name under an allow rule', dns('www.example.internal')],
    ['the allow rule itself', dns('example.com')],
    ['a wildcard under an allow rule that covers no denied name', dns('*.apps.example.internal')],
    ['an IPv4 address in an allowed range', ip('10.1.2.3')],
    ['an IPv6 address in an allowed range', ip('2001:db8::1')],
  ];
  for (const [name, id] of allowed) {
    test(`allowed: ${name} (${id.value})`, async () => {
      const r = await client.newOrder([id]);
      assert.equal(r.status, 201, r.text);
    });
  }

  const refused: [string, Id, string, RegExp][] = [
    ['a denied name', dns('secret.example.internal'), 'rejectedIdentifier', /policy\.dns\.deny rule "secret\.example\.internal"/],
    ['a name under a denied name (deny wins over allow)', dns('db.secret.example.internal'), 'rejectedIdentifier', /policy\.dns\.deny rule "secret\.example\.internal"/],
    ['a wildcard that would cover a denied name', dns('*.example.internal'), 'rejectedIdentifier', /policy\.dns\.deny rule "secret\.example\.internal"/],
    ['a name under no allow rule', dns('example.org'), 'rejectedIdentifier', /not under any policy\.dns\.allow rule/],
    ['a name that only ends like an allow rule', dns('badexample.com'), 'rejectedIdentifier', /policy\.dns\.allow/],
    ['an IPv4 address in a denied range', ip('10.66.3.4'), 'rejectedIdentifier', /policy\.ip\.deny rule "10\.66\.0\.0\/16"/],
    ['a denied single IPv4 address', ip('10.1.1.1'), 'rejectedIdentifier', /policy\.ip\.deny rule "10\.1\.1\.1"/],
    ['an IPv4 address outside the allowed ranges', ip('192.0.2.1'), 'rejectedIdentifier', /not in any policy\.ip\.allow range/],
    ['an IPv6 address in a denied range', ip('2001:db8:bad::7'), 'rejectedIdentifier', /policy\.ip\.deny rule "2001:db8:bad::\/48"/],
    ['an IPv6 address outside the allowed ranges', ip('2001:db9::1'), 'rejectedIdentifier', /policy\.ip\.allow/],
    ['a type left out of policy.identifierTypes', { type: 'permanent-identifier', value: 'WV0NCDC2TX' }, 'unsupportedIdentifier', /policy\.identifierTypes/],
  ];
  for (const [name, id, type, rule] of refused) {
    test(`newOrder refuses ${name} (${id.value})`, async () => {
      const p = assertProblem(await client.newOrder([id]), type, 400);
      assert.equal(p.subproblems?.length, 1, JSON.stringify(p));
      assert.equal(p.subproblems[0]!.type, ACME_ERROR + type);
      assert.deepEqual(p.subproblems[0]!.identifier, id);
      assert.match(p.subproblems[0]!.detail, rule);
    });
  }

  test('an order with allowed and refused identifiers lists only the refused ones', async () => {
    const p = assertProblem(await client.newOrder([dns('ok.example.internal'), dns('secret.example.internal'), ip('192.0.2.9')]), 'rejectedIdentifier', 400);
    assert.deepEqual(
      p.subproblems?.map((s) => s.identifier?.value),
      ['secret.example.internal', '192.0.2.9'],
    );
  });

  test('newAuthz refuses with 403 and the rule (RFC 8555 §7.4.1), and accepts an allowed name', async () => {
    const newAuthz = client.dir.newAuthz as string;
    const p = assertProblem(await client.post(newAuthz, { identifier: dns('x.secret.example.internal') }), 'rejectedIdentifier', 403);
    assert.match(p.subproblems?.[0]?.detail ?? '', /policy\.dns\.deny rule "secret\.example\.internal"/);
    const ipRefused = assertProblem(await client.post(newAuthz, { identifier: ip('10.66.0.1') }), 'rejectedIdentifier', 403);
    assert.match(ipRefused.subproblems?.[0]?.detail ?? '', /policy\.ip\.deny/);
    const ok = await client.post(newAuthz, { identifier: dns('pre.example.internal') });
    assert.equal(ok.status, 201, ok.text);
  });
});

describe('policy config', () => {
  const cases: [string, string, RegExp][] = [
    ['a range that is not CIDR', 'ip: { deny: [10.0.0.0/33] }', /policy\.ip\.deny\.0: expected an IP address or CIDR range/],
    ['a DNS rule that is not a name', 'dns: { allow: ["*.example.com"] }', /policy\.dns\.allow\.0: expected a DNS name/],
    ['an unknown identifier type', 'identifierTypes: [email]', /policy\.identifierTypes\.0: expected some of dns, ip/],
  ];
  for (const [name, yaml, message] of cases) {
    test(`refuses ${name}`, () => {
      const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'attestca-policy-')), 'c.yaml');
      writeFileSync(file, `policy:\n  ${yaml}\n`);
      assert.throws(() => loadConfig({ env: {}, configFile: file }), (err: unknown) => err instanceof ConfigError && message.test(err.message));
    });
  }

  test('defaults accept every type and name, with generous limits', () => {
    const c = loadConfig({ env: {} });
    assert.deepEqual(c.policy, { identifierTypes: ['dns', 'ip', 'permanent-identifier', 'hardware-module'], dns: { allow: [], deny: [] }, ip: { allow: [], deny: [] } });
    assert.deepEqual(c.limits, {
      ordersPerAccount: { count: 300, window: 3 * 3_600_000 },
      accountsPerIp: { count: 50, window: 3 * 3_600_000 },
      certificatesPerName: { count: 50, window: 7 * 86_400_000 },
      pendingAuthorizationsPerAccount: 1000,
    });
  });
});
