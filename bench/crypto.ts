// The cryptography alone of one issuance (issue "Fast, and proven so"): the floor under the
// server's CPU per certificate, to compare the measured figures with. With node:crypto and keys
// already parsed, it times each operation the server must do per flow, and each flow's
// operations run back to back:
//   - one ES256 JWS verification (RFC 7515 §5.2, RFC 7518 §3.4) per signed request; the driver
//     (bench/driver.ts) sends newOrder, the authorization, the challenge, finalize and the
//     certificate download, and attestca answers the challenge and finalize with valid, so no
//     polls (bench/results: 1.0 of each request per certificate, no "order" requests);
//   - the CSR's self-signature (PKCS #10, RFC 2986 §3), checked at finalize (src/pki/csr.ts);
//   - device-attest-01 only: the Apple attestation chain (src/attestation/apple.ts through
//     src/pki/chain.ts), two signatures: the leaf by the Sub CA, the Sub CA by the root, both
//     ECDSA P-384 with SHA-384 in the simulator's hierarchy (src/devicesim/hierarchy.ts), as in
//     Apple's Enterprise Attestation hierarchy;
//   - the CA's signature over the leaf's TBSCertificate (ECDSA P-256, SHA-256: the development
//     CA's key type, src/ca/hierarchy.ts).
// Left out: TLS (connections are kept alive, handshakes are amortised over many flows), account
// creation (once per account), hashing of key authorizations and nonces (microseconds).
// Usage: npm run bench:crypto [-- --iterations 2000]
import { createPublicKey, generateKeyPairSync, sign, verify, X509Certificate, type KeyObject } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { buildAttestation } from '../src/devicesim/attestation.js';
import { deviceCsr, deviceFacts } from '../src/devicesim/device.js';
import { buildSimHierarchy } from '../src/devicesim/hierarchy.js';
import { splitSigned } from '../src/pki/der.js';
import { CsrFactory } from './csr.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const { values: args } = parseArgs({ options: { iterations: { type: 'string', default: '2000' }, label: { type: 'string', default: '' } } });
const ITERATIONS = Number(args.iterations);

const b64u = (x: string | Buffer) => Buffer.from(x).toString('base64url');

/** What the server verifies for one signed request: the JWS signing input and its raw r||s signature. */
interface Jws {
  input: Buffer;
  signature: Buffer;
}

function jws(key: KeyObject, url: string, payload: unknown): Jws {
  const header = b64u(JSON.stringify({ alg: 'ES256', kid: 'https://localhost:8443/acme/acct/3q2-7wFrS9m1kVqTkS0Lrw', nonce: b64u(Buffer.alloc(16, 7)), url }));
  const body = payload === '' ? '' : b64u(JSON.stringify(payload));
  const input = Buffer.from(`${header}.${body}`);
  return { input, signature: sign('sha256', input, { key, dsaEncoding: 'ieee-p1363' }) };
}

interface Flow {
  requests: string[];
  jws: Jws[];
  csr: ReturnType<typeof splitSigned>;
  csrKey: KeyObject;
  chain?: { leaf: X509Certificate; sub: X509Certificate; root: X509Certificate };
}

/** Times fn `n` times; each call alone (performance.now resolves to well under a microsecond). */
function timeEach(n: number, fn: () => void): number[] {
  for (let i = 0; i < Math.min(100, n); i++) fn(); // warm up
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    fn();
    out.push(performance.now() - t);
  }
  return out.sort((a, b) => a - b);
}

const stats = (sorted: number[]) => ({
  medianMs: sorted[Math.floor(sorted.length / 2)]!,
  p10Ms: sorted[Math.floor(sorted.length * 0.1)]!,
  p90Ms: sorted[Math.floor(sorted.length * 0.9)]!,
  n: sorted.length,
});

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`${what} did not verify: the benchmark would be timing a failure`);
}

async function main() {
  const now = new Date();
  const accountKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const accountPublic = createPublicKey(accountKey);
  const caKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const sim = await buildSimHierarchy(now);
  const base = 'https://localhost:8443/acme';

  // http-01: the driver's requests with the driver's payloads.
  const name = 'f0.w0.bench.test';
  const httpCsrB64 = new CsrFactory(accountKey).forName(name);
  const http01: Flow = {
    requests: ['new-order', 'authz', 'challenge', 'finalize', 'certificate'],
    jws: [
      jws(accountKey, `${base}/new-order`, { identifiers: [{ type: 'dns', value: name }] }),
      jws(accountKey, `${base}/authz/AbCdEfGhIjKlMnOpQrStUv`, ''),
      jws(accountKey, `${base}/chall/AbCdEfGhIjKlMnOpQrStUv`, {}),
      jws(accountKey, `${base}/order/AbCdEfGhIjKlMnOpQrStUv/finalize`, { csr: httpCsrB64 }),
      jws(accountKey, `${base}/cert/1f2e3d4c5b6a79881f2e3d4c5b6a7988`, ''),
    ],
    csr: splitSigned(Buffer.from(httpCsrB64, 'base64url')),
    csrKey: accountPublic,
  };

  // device-attest-01: a simulated Apple device's attestation and CSR, as the driver sends them.
  const deviceKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const built = await buildAttestation({ devicePublicKey: deviceKey, token: b64u(Buffer.alloc(32, 1)), device: deviceFacts({ serial: 'BENCH00000' }), issuer: { certDer: sim.subDer, key: sim.subKey }, now });
  const deviceCsrDer = await deviceCsr(deviceKey, 'BENCH00000');
  const deviceAttest: Flow = {
    requests: http01.requests,
    jws: [
      jws(accountKey, `${base}/new-order`, { identifiers: [{ type: 'permanent-identifier', value: 'BENCH00000' }] }),
      jws(accountKey, `${base}/authz/AbCdEfGhIjKlMnOpQrStUv`, ''),
      jws(accountKey, `${base}/chall/AbCdEfGhIjKlMnOpQrStUv`, { attObj: built.attObjText }),
      jws(accountKey, `${base}/order/AbCdEfGhIjKlMnOpQrStUv/finalize`, { csr: deviceCsrDer.toString('base64url') }),
      jws(accountKey, `${base}/cert/1f2e3d4c5b6a79881f2e3d4c5b6a7988`, ''),
    ],
    csr: splitSigned(deviceCsrDer),
    csrKey: createPublicKey(deviceKey),
    chain: { leaf: new X509Certificate(built.leafDer), sub: new X509Certificate(sim.subDer), root: new X509Certificate(sim.rootDer) },
  };
  // The CA signs a TBSCertificate the size of a real leaf's (the attestation leaf's, ~600 bytes).
  const tbs = splitSigned(built.leafDer).tbs;

  const ops = {
    jwsVerifyEs256: () => check(verify('sha256', http01.jws[3]!.input, { key: accountPublic, dsaEncoding: 'ieee-p1363' }, http01.jws[3]!.signature), 'JWS'),
    csrVerifyP256: () => check(verify('sha256', http01.csr.tbs, http01.csrKey, http01.csr.signature), 'CSR'),
    chainVerifyP384: () => check(deviceAttest.chain!.leaf.verify(deviceAttest.chain!.sub.publicKey), 'attestation leaf'),
    issueSignP256: () => sign('sha256', tbs, caKey),
  };
  const runFlow = (f: Flow) => () => {
    for (const j of f.jws) check(verify('sha256', j.input, { key: accountPublic, dsaEncoding: 'ieee-p1363' }, j.signature), 'JWS');
    if (f.chain) {
      check(f.chain.leaf.verify(f.chain.sub.publicKey), 'attestation leaf');
      check(f.chain.sub.verify(f.chain.root.publicKey), 'attestation Sub CA');
    }
    check(verify('sha256', f.csr.tbs, f.csrKey, f.csr.signature), 'CSR');
    sign('sha256', tbs, caKey);
  };

  const operations = Object.fromEntries(Object.entries(ops).map(([k, fn]) => [k, stats(timeEach(ITERATIONS, fn))]));
  const m = (k: keyof typeof ops) => operations[k]!.medianMs;
  const flow = (f: Flow, chainVerifications: number) => {
    const counts = { jwsVerifyEs256: f.jws.length, csrVerifyP256: 1, chainVerifyP384: chainVerifications, issueSignP256: 1 };
    return {
      requests: f.requests,
      operations: counts,
      sumOfMediansMs: Object.entries(counts).reduce((s, [k, c]) => s + c * m(k as keyof typeof ops), 0),
      measured: stats(timeEach(Math.max(100, Math.floor(ITERATIONS / 4)), runFlow(f))),
    };
  };
  const report = {
    date: new Date().toISOString(),
    label: args.label,
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, memGb: Math.round(os.totalmem() / 2 ** 30), kernel: os.release() },
    versions: { node: process.version, openssl: process.versions.openssl, commit: execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim() },
    parameters: { iterations: ITERATIONS },
    operations,
    flows: { 'http-01': flow(http01, 0), 'device-attest-01': flow(deviceAttest, 2) },
  };
  mkdirSync(path.join(root, 'bench/results'), { recursive: true });
  const file = path.join(root, 'bench/results', `${report.date.slice(0, 19).replace(/:/g, '')}-crypto${args.label ? '-' + args.label : ''}.json`);
  writeFileSync(file, JSON.stringify(report, null, 1) + '\n');
  process.stdout.write(JSON.stringify(report, null, 1) + `\nwritten ${path.relative(root, file)}\n`);
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
