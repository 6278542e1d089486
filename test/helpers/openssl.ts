// The openssl command line as an independent judge of what the CA issued.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

function withFiles<T>(files: Record<string, string>, fn: (dir: string) => T): T {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'attestca-openssl-'));
  try {
    for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `openssl verify` of the leaf of a served chain against the roots, the rest as untrusted intermediates. */
export function opensslVerify(rootsPem: string, chainPem: string): string {
  const [leaf, ...rest] = chainPem.split(/(?=-----BEGIN CERTIFICATE-----)/);
  return withFiles({ 'roots.pem': rootsPem, 'leaf.pem': leaf!, 'chain.pem': rest.join('') }, (dir) =>
    execFileSync('openssl', ['verify', '-CAfile', path.join(dir, 'roots.pem'), '-untrusted', path.join(dir, 'chain.pem'), path.join(dir, 'leaf.pem')], { encoding: 'utf8' }),
  );
}

/** The subjectAltName entries of the first certificate in a PEM text, as openssl prints them ("DNS:x", "IP Address:y"). */
export function opensslSans(pem: string): string[] {
  const out = withFiles({ 'cert.pem': pem }, (dir) => execFileSync('openssl', ['x509', '-in', path.join(dir, 'cert.pem'), '-noout', '-ext', 'subjectAltName'], { encoding: 'utf8' }));
  return out
    .split('\n')
    .slice(1)
    .join(',')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .sort();
}

/** `openssl x509 -text` of the first certificate in a PEM text. */
export function opensslText(pem: string): string {
  return withFiles({ 'cert.pem': pem }, (dir) => execFileSync('openssl', ['x509', '-in', path.join(dir, 'cert.pem'), '-noout', '-text'], { encoding: 'utf8' }));
}
