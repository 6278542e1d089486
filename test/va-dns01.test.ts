// The dns-01 validator (RFC 8555 §8.4) against the real test DNS responder, through the same
// resolver the server uses: each way a validation can fail gets its problem type and a detail
// that names the record looked up and what was found.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { dns01Digest, validateDns01 } from '../src/va/dns01.js';
import { createResolver } from '../src/va/resolver.js';
import { startTestDns, type TestDns } from './helpers/dns.js';
import { problem } from './helpers/problem.js';

const KEY_AUTH = 'tok_abcdefghijklmnopqrstuvwxyz0123456789.thumbprint_abcdefghijklmnopqrstuvwxyz01234';
const DIGEST = createHash('sha256').update(KEY_AUTH).digest('base64url');

describe('dns-01 validation', () => {
  let dns: TestDns;
  before(async () => {
    dns = await startTestDns({ 'ok.attestca.test': '127.0.0.1' });
  });
  after(() => dns.close());

  const run = (value: string, type = 'dns') => validateDns01({ type, value }, KEY_AUTH, { resolver: createResolver(dns.server, 1000) });

  test('the digest is base64url(SHA-256(key authorization)) without padding', () => {
    assert.equal(dns01Digest(KEY_AUTH), DIGEST);
    assert.equal(DIGEST.length, 43);
  });

  test('accepts the digest in a TXT record at _acme-challenge.<name>, and looks up nothing else', async () => {
    dns.setTxt('_acme-challenge.ok.attestca.test', [DIGEST]);
    const before = dns.queries.length;
    await run('ok.attestca.test');
    assert.deepEqual(dns.queries.slice(before), ['TXT _acme-challenge.ok.attestca.test']);
  });

  test('one matching record among several is enough (a name and its wildcard validate at once)', async () => {
    dns.setTxt('_acme-challenge.ok.attestca.test', ['another-authorizations-digest', DIGEST, 'v=spf1 -all']);
    await run('ok.attestca.test');
  });

  test('a record split into several character-strings is read joined', async () => {
    // dns-packet encodes an array as one TXT record of several strings (RFC 1035 §3.3.14).
    dns.setTxt('_acme-challenge.split.attestca.test', [[DIGEST.slice(0, 20), DIGEST.slice(20)]]);
    await run('split.attestca.test');
  });

  test('records that exist but do not match are incorrectResponse, listing what was found', async () => {
    dns.setTxt('_acme-challenge.ok.attestca.test', ['wrong-one', 'wrong-two']);
    const e = await problem(run('ok.attestca.test'));
    assert.equal(e.type, 'incorrectResponse');
    assert.match(e.detail, /_acme-challenge\.ok\.attestca\.test/);
    assert.match(e.detail, /"wrong-one", "wrong-two" \(2 records\)/);
    assert.ok(e.detail.includes(DIGEST), 'the detail says what was expected');
  });

  test('what was found is truncated: five records shown, each at most 100 characters', async () => {
    dns.setTxt('_acme-challenge.ok.attestca.test', [...Array.from({ length: 7 }, (_, i) => `r${i}`), 'x'.repeat(150)]);
    const e = await problem(run('ok.attestca.test'));
    assert.equal(e.type, 'incorrectResponse');
    assert.match(e.detail, /"r0", "r1", "r2", "r3", "r4" and 3 more \(8 records\)/);
    assert.ok(!e.detail.includes('r5'));
    dns.setTxt('_acme-challenge.ok.attestca.test', ['y'.repeat(150)]);
    const long = await problem(run('ok.attestca.test'));
    assert.ok(long.detail.includes(`"${'y'.repeat(100)}…"`));
    assert.ok(!long.detail.includes('y'.repeat(101)));
  });

  test('the digest must match exactly: case, padding and whitespace are not forgiven', async () => {
    for (const near of [DIGEST.toUpperCase(), `${DIGEST}=`, ` ${DIGEST}`, createHash('sha256').update(KEY_AUTH).digest('base64')]) {
      dns.setTxt('_acme-challenge.ok.attestca.test', [near]);
      assert.equal((await problem(run('ok.attestca.test'))).type, 'incorrectResponse', near);
    }
  });

  test('a name with no TXT records is a dns problem', async () => {
    dns.setTxt('_acme-challenge.ok.attestca.test', undefined);
    const e = await problem(run('ok.attestca.test'));
    assert.equal(e.type, 'dns');
    assert.match(e.detail, /no TXT record found at _acme-challenge\.ok\.attestca\.test/);
  });

  test('NXDOMAIN is a dns problem that says so', async () => {
    const e = await problem(run('missing.attestca.test'));
    assert.equal(e.type, 'dns');
    assert.match(e.detail, /NXDOMAIN looking up TXT for _acme-challenge\.missing\.attestca\.test/);
  });

  test('SERVFAIL and REFUSED are dns problems naming the failure', async () => {
    for (const rcode of ['SERVFAIL', 'REFUSED'] as const) {
      dns.setTxt('_acme-challenge.broken.attestca.test', [DIGEST]);
      dns.fail('_acme-challenge.broken.attestca.test', rcode);
      const e = await problem(run('broken.attestca.test'));
      assert.equal(e.type, 'dns');
      assert.match(e.detail, new RegExp(`looking up TXT for _acme-challenge\\.broken\\.attestca\\.test: E${rcode}`));
    }
  });

  test('a resolver that does not answer is a dns problem, within the timeout', async () => {
    const started = Date.now();
    // Nothing listens on this loopback port: the resolver gets ECONNREFUSED or times out.
    const e = await problem(validateDns01({ type: 'dns', value: 'ok.attestca.test' }, KEY_AUTH, { resolver: createResolver('127.0.0.1:9', 300) }));
    assert.equal(e.type, 'dns');
    assert.ok(Date.now() - started < 5000);
  });

  test('an ip identifier is never validated by dns-01 (RFC 8738 §7)', async () => {
    assert.equal((await problem(run('127.0.0.1', 'ip'))).type, 'malformed');
  });
});
