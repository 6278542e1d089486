// The command line as an operator uses it: help, init (create and import), config errors.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { configSchema } from '../src/config-schema.js';

const cli = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', HOME: os.tmpdir(), ...env },
    timeout: 60_000,
  });

const tmp = mkdtempSync(path.join(os.tmpdir(), 'attestca-cli-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const passFile = path.join(tmp, 'passphrase');
writeFileSync(passFile, 'correct horse battery staple\n');

const openssl = (args: string[]) => execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

describe('attestca CLI', () => {
  test('--help lists every command and each command documents its flags', () => {
    const top = cli(['--help']);
    assert.equal(top.status, 0);
    for (const c of ['serve', 'init', 'migrate']) assert.match(top.stdout, new RegExp(`\\b${c}\\b`));
    const serve = cli(['serve', '--help']);
    assert.equal(serve.status, 0);
    for (const flag of ['--config', '--data-dir', '--listen', '--base-url', '--database-url', '--tls', '--http01-port', '--tlsalpn01-port', '--dns-server']) {
      assert.ok(serve.stdout.includes(flag), `serve --help mentions ${flag}`);
    }
    assert.equal(cli(['init', '--help']).status, 0);
    assert.equal(cli(['migrate', '--help']).status, 0);
  });

  test('unknown commands and flags are refused with exit code 2', () => {
    const r = cli(['bogus']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown command "bogus"/);
    const f = cli(['serve', '--no-such-flag']);
    assert.equal(f.status, 2);
    assert.match(f.stderr, /no-such-flag/);
  });

  test('config errors name the key, where it is set and what is valid, before anything starts', () => {
    const file = path.join(tmp, 'bad.yaml');
    writeFileSync(file, 'listen: nowhere\nacme:\n  ordrLifetime: 7d\n');
    const r = cli(['serve', '--config', file, '--http01-port', '70000', '--data-dir', path.join(tmp, 'never')]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /listen: expected HOST:PORT/);
    assert.match(r.stderr, /http01Port: expected a port from 1 to 65535 \(set by --http01-port/);
    assert.match(r.stderr, /unknown key "ordrLifetime" under "acme"/);
    const missing = cli(['serve', '--config', path.join(tmp, 'nope.yaml')]);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /config file .*nope\.yaml cannot be read \(ENOENT\)/);
    const tls = cli(['serve', '--tls', 'maybe']);
    assert.match(tls.stderr, /tls: expected "auto"/);
  });

  test('the example config holds every key and passes the schema', () => {
    const doc = parseYaml(readFileSync('config/attestca.example.yaml', 'utf8'));
    const parsed = configSchema.parse(doc);
    assert.equal(parsed.listen, '0.0.0.0:8443');
    const keys = (o: object, prefix = ''): string[] =>
      Object.entries(o).flatMap(([k, v]) => (v && typeof v === 'object' && !Array.isArray(v) ? keys(v, `${prefix}${k}.`) : [`${prefix}${k}`]));
    const documented = new Set(keys(doc));
    for (const k of keys(configSchema.parse({}))) {
      if (['tlsCertFile', 'tlsKeyFile'].includes(k)) continue; // shown commented out: they replace tls auto
      assert.ok(documented.has(k), `config/attestca.example.yaml documents ${k}`);
    }
  });

  test('init creates an encrypted root and intermediate that openssl accepts, and never overwrites them', () => {
    const dataDir = path.join(tmp, 'init');
    const noPass = cli(['init', '--data-dir', dataDir]);
    assert.equal(noPass.status, 2);
    assert.match(noPass.stderr, /passphrase/);

    const r = cli(['init', '--data-dir', dataDir, '--passphrase-file', passFile, '--key-type', 'ec-p384', '--org', 'Example Corp']);
    assert.equal(r.status, 0, r.stderr);
    const ca = path.join(dataDir, 'ca');
    assert.match(openssl(['verify', '-CAfile', path.join(ca, 'roots.pem'), path.join(ca, 'issuer.pem')]), /OK/);
    assert.match(readFileSync(path.join(ca, 'issuer.key.pem'), 'utf8'), /BEGIN ENCRYPTED PRIVATE KEY/);
    assert.match(readFileSync(path.join(ca, 'root.key.pem'), 'utf8'), /BEGIN ENCRYPTED PRIVATE KEY/);
    openssl(['pkey', '-in', path.join(ca, 'issuer.key.pem'), '-passin', `file:${passFile}`, '-noout']);
    const text = openssl(['x509', '-in', path.join(ca, 'issuer.pem'), '-noout', '-text']);
    assert.match(text, /CA:TRUE, pathlen:0/);
    assert.match(text, /Certificate Sign, CRL Sign/);
    assert.match(text, /NIST CURVE: P-384|secp384r1/);
    assert.match(text, /O ?= ?Example Corp/);

    const again = cli(['init', '--data-dir', dataDir, '--passphrase-file', passFile]);
    assert.equal(again.status, 2);
    assert.match(again.stderr, /already exists/);

    const rsa = cli(['init', '--data-dir', path.join(tmp, 'rsa'), '--key-type', 'rsa-3072'], { ATTESTCA_CA_PASSPHRASE: 'a passphrase from the environment' });
    assert.equal(rsa.status, 0, rsa.stderr);
    assert.match(openssl(['x509', '-in', path.join(tmp, 'rsa', 'ca', 'issuer.pem'), '-noout', '-text']), /Public-Key: \(3072 bit\)/);
  });

  test('init imports an intermediate signed by an existing company root, and refuses a mismatched key', () => {
    const d = path.join(tmp, 'corp');
    rmSync(d, { recursive: true, force: true });
    execFileSync('mkdir', ['-p', d]);
    const ext = path.join(d, 'ext.cnf');
    writeFileSync(ext, '[v3_ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n');
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${d}/root.key`, '-out', `${d}/root.pem`, '-subj', '/CN=Corp Root', '-days', '3650', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
    openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${d}/int.key`, '-out', `${d}/int.csr`, '-subj', '/CN=Corp Device CA']);
    openssl(['x509', '-req', '-in', `${d}/int.csr`, '-CA', `${d}/root.pem`, '-CAkey', `${d}/root.key`, '-CAcreateserial', '-out', `${d}/int.pem`, '-days', '1825', '-extfile', ext, '-extensions', 'v3_ca']);
    openssl(['genpkey', '-algorithm', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${d}/other.key`]);

    const dataDir = path.join(d, 'data');
    const wrong = cli(['init', '--data-dir', dataDir, '--passphrase-file', passFile, '--import-cert', `${d}/int.pem`, '--import-key', `${d}/other.key`, '--import-chain', `${d}/root.pem`]);
    assert.equal(wrong.status, 2);
    assert.match(wrong.stderr, /does not belong to the imported certificate/);
    const notSigned = cli(['init', '--data-dir', dataDir, '--passphrase-file', passFile, '--import-cert', `${d}/int.pem`, '--import-key', `${d}/int.key`, '--import-chain', `${d}/int.pem`]);
    assert.equal(notSigned.status, 2);

    const ok = cli(['init', '--data-dir', dataDir, '--passphrase-file', passFile, '--import-cert', `${d}/int.pem`, '--import-key', `${d}/int.key`, '--import-chain', `${d}/root.pem`]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(readFileSync(path.join(dataDir, 'ca', 'roots.pem'), 'utf8'), readFileSync(`${d}/root.pem`, 'utf8'));
    assert.match(readFileSync(path.join(dataDir, 'ca', 'issuer.key.pem'), 'utf8'), /BEGIN ENCRYPTED PRIVATE KEY/);
  });
});
