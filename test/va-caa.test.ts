// CAA checking (RFC 8659 with RFC 8657's accounturi and validationmethods) against CAA records
// served by the test DNS responder, through the server's resolver; then through the validation
// authority: checked after the challenge succeeds, only when enabled.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ChallengeType } from '../src/core.js';
import { ConfigError, loadConfig } from '../src/config.js';
import { checkCaa } from '../src/va/caa.js';
import { ValidationAuthority, type ValidationRequest } from '../src/va/authority.js';
import { dns01Digest } from '../src/va/dns01.js';
import { createResolver } from '../src/va/resolver.js';
import { startTestDns, type TestCaa, type TestDns } from './helpers/dns.js';
import { problem } from './helpers/problem.js';

const CA = 'ca.attestca.test';
const ACCOUNT = 'https://ca.attestca.test:8443/acme/acct/abc123';
const ZONE = 'caa.attestca.test';
const NAME = `www.${ZONE}`;

interface Case {
  name: string;
  /** CAA RRsets by owner name. */
  records: Record<string, TestCaa[]>;
  wildcard?: boolean;
  method?: ChallengeType;
  /** undefined: allowed; a RegExp: refused with a caa problem whose detail matches. */
  refused?: RegExp;
}

const issue = (value: string, flags = 0): TestCaa => ({ flags, tag: 'issue', value });
const issuewild = (value: string): TestCaa => ({ tag: 'issuewild', value });

const cases: Case[] = [
  { name: 'no CAA record anywhere up to the TLD: allowed', records: {} },
  { name: 'issue naming this CA at the name: allowed', records: { [NAME]: [issue(CA)] } },
  { name: 'issue naming this CA at a parent: allowed', records: { 'attestca.test': [issue(CA)] } },
  { name: 'issue naming this CA at the TLD: allowed', records: { test: [issue(CA)] } },
  { name: 'issue naming another CA: refused, naming the record and where it is', records: { [ZONE]: [issue('other-ca.example')] }, refused: /CAA records at caa\.attestca\.test forbid issuance for www\.caa\.attestca\.test by this CA \(ca\.attestca\.test\): 0 issue "other-ca\.example" names other-ca\.example, not this CA/ },
  { name: 'the first non-empty RRset decides, even when a parent would allow', records: { [NAME]: [issue('other-ca.example')], [ZONE]: [issue(CA)] }, refused: /CAA records at www\.caa\.attestca\.test/ },
  { name: 'the first non-empty RRset decides, even when a parent would refuse', records: { [NAME]: [issue(CA)], [ZONE]: [issue(';')] } },
  { name: 'issue ";" forbids every CA', records: { [ZONE]: [issue(';')] }, refused: /names no issuer, which forbids issuance/ },
  { name: 'issuer names match case-insensitively', records: { [ZONE]: [issue('CA.AttestCA.Test')] } },
  { name: 'one issue property naming this CA among several is enough', records: { [ZONE]: [issue('other-ca.example'), issue(CA)] } },
  { name: 'an RRset with only iodef restricts nothing', records: { [ZONE]: [{ tag: 'iodef', value: 'mailto:security@attestca.test' }] } },
  { name: 'an unknown non-critical tag is ignored', records: { [ZONE]: [{ tag: 'tbs', value: 'whatever' }, issue(CA)] } },
  { name: 'an unknown critical tag refuses, even beside a permitting issue', records: { [ZONE]: [{ flags: 128, tag: 'tbs', value: 'whatever' }, issue(CA)] }, refused: /128 tbs "whatever" at caa\.attestca\.test has the critical flag on a property this CA does not understand/ },
  { name: 'the critical flag on a known tag is fine', records: { [ZONE]: [issue(CA, 128)] } },
  { name: 'a malformed issue value is treated as naming no issuer', records: { [ZONE]: [issue(`${CA} extra words`)] }, refused: /is malformed, which forbids issuance \(RFC 8659 §4\.2\)/ },
  { name: 'a malformed parameter refuses', records: { [ZONE]: [issue(`${CA}; accounturi`)] }, refused: /malformed parameter "accounturi"/ },
  { name: 'parameters this CA gives no meaning to restrict nothing', records: { [ZONE]: [issue(`${CA}; policy=ev; x-other=1`)] } },
  // RFC 8659 §4.3: issuewild for wildcards.
  { name: 'wildcard: issuewild naming this CA overrides an issue naming another', records: { [ZONE]: [issue('other-ca.example'), issuewild(CA)] }, wildcard: true },
  { name: 'wildcard: issuewild ";" refuses even though issue names this CA', records: { [ZONE]: [issue(CA), issuewild(';')] }, wildcard: true, refused: /forbid issuance for \*\.www\.caa\.attestca\.test .*0 issuewild ";" names no issuer/ },
  { name: 'wildcard: without issuewild, issue applies', records: { [ZONE]: [issue(CA)] }, wildcard: true },
  { name: 'wildcard: without issuewild, an issue naming another CA refuses', records: { [ZONE]: [issue('other-ca.example')] }, wildcard: true, refused: /0 issue "other-ca\.example"/ },
  { name: 'not a wildcard: issuewild is ignored, issue decides', records: { [ZONE]: [issue(CA), issuewild(';')] } },
  { name: 'not a wildcard: only issuewild restricts nothing', records: { [ZONE]: [issuewild('other-ca.example')] } },
  // RFC 8657 §3 accounturi.
  { name: 'accounturi equal to the account URL: allowed', records: { [ZONE]: [issue(`${CA}; accounturi=${ACCOUNT}`)] } },
  { name: 'accounturi of another account: refused, naming both', records: { [ZONE]: [issue(`${CA}; accounturi=https://ca.attestca.test:8443/acme/acct/other`)] }, refused: /is bound to account https:\/\/ca\.attestca\.test:8443\/acme\/acct\/other, not https:\/\/ca\.attestca\.test:8443\/acme\/acct\/abc123/ },
  { name: 'two accounturi parameters: nobody satisfies them', records: { [ZONE]: [issue(`${CA}; accounturi=${ACCOUNT}; accounturi=${ACCOUNT}`)] }, refused: /more than one accounturi/ },
  { name: 'a record for another account beside one for this account: allowed', records: { [ZONE]: [issue(`${CA}; accounturi=${ACCOUNT}x`), issue(`${CA}; accounturi=${ACCOUNT}`)] } },
  // RFC 8657 §4 validationmethods.
  { name: 'validationmethods listing the method used: allowed', records: { [ZONE]: [issue(`${CA}; validationmethods=http-01,dns-01`)] } },
  { name: 'validationmethods not listing the method used: refused', records: { [ZONE]: [issue(`${CA}; validationmethods=http-01,tls-alpn-01`)] }, refused: /allows validation by http-01, tls-alpn-01, not dns-01/ },
  { name: 'validationmethods and the method, for tls-alpn-01', records: { [ZONE]: [issue(`${CA}; validationmethods=tls-alpn-01`)] }, method: 'tls-alpn-01' },
  { name: 'two validationmethods parameters refuse (failing closed)', records: { [ZONE]: [issue(`${CA}; validationmethods=dns-01; validationmethods=dns-01`)] }, refused: /more than one validationmethods/ },
  { name: 'a malformed validationmethods refuses', records: { [ZONE]: [issue(`${CA}; validationmethods=dns-01,,http-01`)] }, refused: /malformed validationmethods/ },
  { name: 'accounturi and validationmethods together, both satisfied', records: { [ZONE]: [issue(`${CA}; accounturi=${ACCOUNT}; validationmethods=dns-01`)] } },
  { name: 'parameter tags match case-insensitively, so they still bind', records: { [ZONE]: [issue(`${CA}; ValidationMethods=http-01`)] }, refused: /not dns-01/ },
];

describe('CAA (RFC 8659, RFC 8657)', () => {
  let dns: TestDns;
  before(async () => {
    dns = await startTestDns({ [NAME]: '127.0.0.1' });
  });
  after(() => dns.close());

  const resolver = () => createResolver(dns.server, 1000);
  const setRecords = (records: Record<string, TestCaa[]>) => {
    for (const owner of [NAME, ZONE, 'attestca.test', 'test']) dns.setCaa(owner, records[owner]);
  };

  for (const c of cases) {
    test(c.name, async () => {
      setRecords(c.records);
      const run = checkCaa({ name: NAME, wildcard: c.wildcard ?? false, accountUri: ACCOUNT, method: c.method ?? 'dns-01' }, { resolver: resolver(), identities: [CA] });
      if (!c.refused) return run;
      const e = await problem(run);
      assert.equal(e.type, 'caa');
      assert.equal(e.status, 403);
      assert.match(e.detail, c.refused);
    });
  }

  test('the climb asks for CAA at the name and each parent up to the TLD, never the root', async () => {
    setRecords({});
    const seen = dns.queries.length;
    await checkCaa({ name: NAME, wildcard: false, accountUri: ACCOUNT, method: 'dns-01' }, { resolver: resolver(), identities: [CA] });
    assert.deepEqual(dns.queries.slice(seen), ['CAA www.caa.attestca.test', 'CAA caa.attestca.test', 'CAA attestca.test', 'CAA test']);
  });

  test('a failed lookup on the way up is a dns problem, never permission', async () => {
    setRecords({ 'attestca.test': [issue(CA)] });
    dns.fail(ZONE, 'SERVFAIL');
    try {
      const e = await problem(checkCaa({ name: NAME, wildcard: false, accountUri: ACCOUNT, method: 'dns-01' }, { resolver: resolver(), identities: [CA] }));
      assert.equal(e.type, 'dns');
      assert.match(e.detail, /looking up CAA for caa\.attestca\.test: ESERVFAIL/);
    } finally {
      dns.fail(ZONE, undefined);
    }
  });
});

describe('CAA in the validation authority', () => {
  let dns: TestDns;
  before(async () => {
    dns = await startTestDns({ 'va.attestca.test': '127.0.0.1' });
  });
  after(() => dns.close());

  const KEY_AUTH = 'token-for-caa.thumbprint';
  const va = (enabled: boolean) =>
    new ValidationAuthority({
      resolver: createResolver(dns.server, 1000),
      http01Port: 1,
      tlsalpn01Port: 1,
      http01TimeoutMs: 1000,
      tlsalpn01TimeoutMs: 1000,
      caa: { enabled, identities: [CA] },
      deviceAttest: loadConfig({ env: {} }).deviceAttest,
    });
  const request = (over: Partial<ValidationRequest> = {}): ValidationRequest => ({
    type: 'dns-01',
    identifier: { type: 'dns', value: 'va.attestca.test' },
    wildcard: false,
    accountUri: ACCOUNT,
    token: 'token-for-caa',
    keyAuthorization: KEY_AUTH,
    payload: null,
    at: new Date(),
    ...over,
  });

  test('CAA off (the default): a refusing record is not even looked up', async () => {
    dns.setTxt('_acme-challenge.va.attestca.test', [dns01Digest(KEY_AUTH)]);
    dns.setCaa('va.attestca.test', [issue('other-ca.example')]);
    const seen = dns.queries.length;
    assert.equal(loadConfig({ env: {} }).acme.caa.enabled, false);
    await va(false).validate(request());
    assert.ok(!dns.queries.slice(seen).some((q) => q.startsWith('CAA')));
  });

  test('CAA on: the same record refuses after the challenge succeeded', async () => {
    const e = await problem(va(true).validate(request()));
    assert.equal(e.type, 'caa');
    assert.match(e.detail, /0 issue "other-ca\.example"/);
  });

  test('CAA on: a failed challenge is reported as such, and CAA is not looked up', async () => {
    dns.setTxt('_acme-challenge.va.attestca.test', ['wrong']);
    const seen = dns.queries.length;
    assert.equal((await problem(va(true).validate(request()))).type, 'incorrectResponse');
    assert.ok(!dns.queries.slice(seen).some((q) => q.startsWith('CAA')));
  });

  test('CAA on: a permitting record lets the validation through; a wildcard checks issuewild', async () => {
    dns.setTxt('_acme-challenge.va.attestca.test', [dns01Digest(KEY_AUTH)]);
    dns.setCaa('va.attestca.test', [issue(CA), issuewild('other-ca.example')]);
    await va(true).validate(request());
    const e = await problem(va(true).validate(request({ wildcard: true })));
    assert.equal(e.type, 'caa');
    assert.match(e.detail, /\*\.va\.attestca\.test/);
  });

  test('CAA on: ip identifiers have no CAA (RFC 8659 is for domain names)', async () => {
    // http-01 to a closed port fails first; what matters is that no CAA query is made for an ip.
    const seen = dns.queries.length;
    await problem(va(true).validate(request({ type: 'http-01', identifier: { type: 'ip', value: '127.0.0.1' } })));
    assert.ok(!dns.queries.slice(seen).some((q) => q.startsWith('CAA')));
  });

  test('a wildcard authorization is only ever validated by dns-01', async () => {
    const e = await problem(va(false).validate(request({ type: 'http-01', wildcard: true })));
    assert.equal(e.type, 'unauthorized');
    assert.match(e.detail, /only be validated by dns-01/);
  });
});

describe('CAA configuration', () => {
  const load = (yaml: string) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'attestca-caa-config-'));
    try {
      writeFileSync(path.join(dir, 'c.yaml'), yaml);
      return loadConfig({ configFile: path.join(dir, 'c.yaml'), env: {} });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  test('off by default; on with the issuer names in acme.caaIdentities', () => {
    assert.equal(load('').acme.caa.enabled, false);
    const on = load(`acme:\n  caaIdentities: [${CA}]\n  caa:\n    enabled: true\n`);
    assert.equal(on.acme.caa.enabled, true);
    assert.deepEqual(on.acme.caaIdentities, [CA]);
  });

  test('enabling it without caaIdentities is refused before anything starts', () => {
    assert.throws(() => load('acme:\n  caa:\n    enabled: true\n'), (e: unknown) => e instanceof ConfigError && /acme\.caa\.enabled: CAA checking needs acme\.caaIdentities/.test(e.message));
  });

  test('a caaIdentities entry that is not an issuer domain name is refused with the key named', () => {
    assert.throws(() => load('acme:\n  caaIdentities: ["https://ca.example.com"]\n'), (e: unknown) => e instanceof ConfigError && /acme\.caaIdentities\.0: expected issuer domain names/.test(e.message));
  });
});
