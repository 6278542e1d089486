// The HTTPS certificate of the ACME endpoint itself. Apple devices require an https directory
// URL, so by default the CA serves TLS with a certificate it issues from its own hierarchy for
// the base URL's host, and renews it while running. Operators may give their own files instead.
import { generateKeyPairSync } from 'node:crypto';
import type https from 'node:https';
import { readFileSync } from 'node:fs';
import type { CertificateAuthority } from './ca/authority.js';
import { newSerial } from './ca/hierarchy.js';
import type { Clock } from './clock.js';
import type { Config } from './config.js';
import type { Identifier } from './core.js';
import type { Logger } from './log.js';
import { canonicalIp } from './pki/ip.js';
import { toPem } from './pki/pem.js';
import type { Db } from './sa/db.js';
import { reserveSerial, storeCertificate } from './sa/issuance.js';

export interface TlsMaterial {
  cert: string;
  key: string;
  notAfter: Date | undefined;
}

const VALIDITY_MS = 90 * 86_400_000;

export function serverIdentifiers(baseUrl: string): Identifier[] {
  const host = new URL(baseUrl).hostname.replace(/^\[|\]$/g, '');
  const ip = canonicalIp(host);
  if (ip) return [{ type: 'ip', value: ip }];
  const ids: Identifier[] = [{ type: 'dns', value: host.toLowerCase() }];
  if (host === 'localhost') ids.push({ type: 'ip', value: '127.0.0.1' }, { type: 'ip', value: '::1' });
  return ids;
}

export async function tlsMaterial(config: Config, ca: CertificateAuthority, db: Db, clock: Clock, log: Logger): Promise<TlsMaterial> {
  if (config.tlsCertFile && config.tlsKeyFile) {
    return { cert: readFileSync(config.tlsCertFile, 'utf8'), key: readFileSync(config.tlsKeyFile, 'utf8'), notAfter: undefined };
  }
  const identifiers = serverIdentifiers(config.baseUrl);
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const now = clock.now();
  const notBefore = new Date(now.getTime() - config.ca.backdate);
  const notAfter = new Date(Math.min(now.getTime() + VALIDITY_MS, ca.issuerNotAfter.getTime()));
  const serial = newSerial();
  // Recorded like every certificate this CA signs: serial first, then the certificate.
  await reserveSerial(db, serial, null, 'tls-server', now);
  const der = await ca.issue({ serial, spki: key.publicKey.export({ type: 'spki', format: 'der' }), identifiers, notBefore, notAfter, profile: 'server' });
  const chainPem = toPem(der) + ca.intermediatesPem;
  await storeCertificate(db, { serial, orderId: null, accountId: null, der, chainPem, identifiers, notBefore, notAfter, createdAt: now });
  log.info({ audit: 'issuance', purpose: 'tls-server', serial, identifiers, notAfter }, 'issued the HTTPS certificate of this server');
  return { cert: chainPem, key: key.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, notAfter };
}

const RENEW_BEFORE_MS = 30 * 86_400_000;
const CHECK_EVERY_MS = 12 * 3_600_000;

/** Renews a self-issued HTTPS certificate in place, 30 days before it expires. Returns a stop function. */
export function keepTlsFresh(server: https.Server, current: TlsMaterial, renew: () => Promise<TlsMaterial>, clock: Clock, log: Logger): () => void {
  if (!current.notAfter) return () => {};
  let notAfter = current.notAfter;
  const timer = setInterval(() => {
    if (notAfter.getTime() - clock.now().getTime() > RENEW_BEFORE_MS) return;
    renew().then(
      (next) => {
        server.setSecureContext({ cert: next.cert, key: next.key });
        notAfter = next.notAfter ?? notAfter;
      },
      (err: unknown) => log.error({ err }, 'renewing the HTTPS certificate failed; will try again'),
    );
  }, CHECK_EVERY_MS).unref();
  return () => clearInterval(timer);
}
