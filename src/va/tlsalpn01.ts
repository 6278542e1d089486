// tls-alpn-01 validation (RFC 8737 §3): a TLS handshake with the identifier on the tls-alpn-01
// port, offering only ALPN "acme-tls/1" with SNI = the name, must present a certificate whose only
// SAN is the identifier and that carries a critical id-pe-acmeIdentifier extension holding
// SHA-256 of the key authorization. IP identifiers (RFC 8738 §6): connect to the address, SNI is
// its reverse-mapping name, the SAN an iPAddress. The connection is closed right after the
// handshake; no application data is exchanged (RFC 8737 §4).
import { createHash, timingSafeEqual } from 'node:crypto';
import tls from 'node:tls';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate, GeneralNames, type GeneralName } from '@peculiar/asn1-x509';
import type { Identifier } from '../core.js';
import { AcmeError } from '../errors.js';
import { canonicalIp, reverseDnsName } from '../pki/ip.js';
import { OID } from '../pki/oids.js';
import type { DnsResolver } from './resolver.js';

/** RFC 8737 §6.2: the ALPN protocol ID of the validation handshake. */
export const ACME_TLS_1 = 'acme-tls/1';

export interface TlsAlpn01Options {
  resolver: DnsResolver;
  /** The port the validator connects to (--tlsalpn01-port; 443 in production, RFC 8737 §3). */
  port: number;
  timeoutMs: number;
}

interface Handshake {
  where: string;
  alpn: string | false;
  der: Buffer | undefined;
}

export async function validateTlsAlpn01(identifier: Identifier, keyAuthorization: string, o: TlsAlpn01Options): Promise<void> {
  if (identifier.type !== 'dns' && identifier.type !== 'ip') throw new AcmeError('malformed', `tls-alpn-01 validates dns and ip identifiers only, not ${identifier.type}`);
  const expected = createHash('sha256').update(keyAuthorization, 'utf8').digest();
  const servername = identifier.type === 'ip' ? reverseDnsName(identifier.value) : identifier.value;
  // RFC 8738 §4: an IP identifier skips resolution; the address is the identifier.
  const addresses = identifier.type === 'ip' ? [identifier.value] : await o.resolver.addresses(identifier.value);
  const deadline = Date.now() + o.timeoutMs;
  let lastError: AcmeError | undefined;
  // Try each address (IPv6 first) until one completes a TCP connection, as http-01 does; a
  // server that answers decides the validation.
  for (const address of addresses) {
    let hs: Handshake;
    try {
      hs = await handshake(address, o.port, servername, deadline);
    } catch (err) {
      lastError = err as AcmeError;
      if (!(err instanceof AcmeError) || err.type !== 'connection' || Date.now() >= deadline) break;
      continue;
    }
    checkHandshake(hs, identifier, servername, expected);
    return;
  }
  throw lastError ?? new AcmeError('connection', `no address to connect to for ${identifier.value}`);
}

function handshake(address: string, port: number, servername: string, deadline: number): Promise<Handshake> {
  const where = `${address.includes(':') ? `[${address}]` : address}:${port}`;
  const remaining = Math.max(1, deadline - Date.now());
  return new Promise<Handshake>((resolve, reject) => {
    let connected = false;
    const socket = tls.connect({
      host: address,
      port,
      servername,
      ALPNProtocols: [ACME_TLS_1],
      // The validation certificate is self-signed by design (RFC 8737 §3): its content is the proof.
      rejectUnauthorized: false,
      // RFC 8737 §4: only TLS 1.2 or higher.
      minVersion: 'TLSv1.2',
    });
    const fail = (e: AcmeError) => {
      socket.destroy();
      reject(e);
    };
    const timer = setTimeout(
      () => fail(new AcmeError('connection', `timeout after ${Math.round(remaining / 1000)}s ${connected ? 'in the TLS handshake with' : 'connecting to'} ${where} for tls-alpn-01`)),
      remaining,
    );
    socket.once('connect', () => (connected = true));
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const peer = socket.getPeerCertificate(false);
      const result: Handshake = { where, alpn: socket.alpnProtocol ?? false, der: peer && 'raw' in peer ? peer.raw : undefined };
      socket.destroy();
      resolve(result);
    });
    // `on`, not `once`: a second error after the first (a reset during teardown) must not go unheard.
    socket.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const code = err.code ?? err.message;
      // Before the TCP connection: nothing reachable there. After it: the TLS layer refused us.
      if (!connected) fail(new AcmeError('connection', `connecting to ${where} for tls-alpn-01: ${code}`, { cause: err }));
      else fail(new AcmeError('tls', `TLS handshake with ${where} (SNI ${servername}, ALPN ${ACME_TLS_1}) failed: ${tlsReason(err)}`, { cause: err }));
    });
  });
}

/** OpenSSL's reason ("tlsv1 alert protocol version") rather than its whole error line. */
function tlsReason(err: NodeJS.ErrnoException & { reason?: string }): string {
  if (err.reason) return err.code ? `${err.reason} (${err.code})` : err.reason;
  return err.code ? `${err.message} (${err.code})` : err.message;
}

function checkHandshake(hs: Handshake, identifier: Identifier, servername: string, expected: Buffer): void {
  const from = `${hs.where} (SNI ${servername})`;
  // RFC 8737 §3: the ServerHello must select acme-tls/1. A server that ignores ALPN or picks another
  // protocol is not answering the challenge, whatever certificate it shows.
  if (hs.alpn !== ACME_TLS_1) {
    throw new AcmeError('unauthorized', `${from} did not negotiate ALPN protocol "${ACME_TLS_1}" (it chose ${hs.alpn ? `"${hs.alpn}"` : 'none'}); configure the server to answer ${ACME_TLS_1} with the validation certificate`);
  }
  if (!hs.der) throw new AcmeError('unauthorized', `${from} presented no certificate`);
  let cert: Certificate;
  try {
    cert = AsnConvert.parse(hs.der, Certificate);
  } catch (err) {
    throw new AcmeError('unauthorized', `the certificate from ${from} is not valid DER X.509: ${(err as Error).message}`);
  }
  const extensions = cert.tbsCertificate.extensions ?? [];

  // The SAN: exactly one entry, equal to the identifier (dNSName compared case-insensitively,
  // RFC 4343; iPAddress for ip identifiers, RFC 8738 §6).
  const sans = extensions.filter((e) => e.extnID === OID.subjectAltName);
  if (sans.length !== 1) throw new AcmeError('unauthorized', `the certificate from ${from} has ${sans.length} subjectAltName extensions; it needs exactly one, naming ${identifier.value}`);
  let names: GeneralName[];
  try {
    names = [...AsnConvert.parse(sans[0]!.extnValue, GeneralNames)];
  } catch (err) {
    throw new AcmeError('unauthorized', `the certificate from ${from} has a malformed subjectAltName: ${(err as Error).message}`);
  }
  const shown = names.map(describeName).join(', ') || 'none';
  if (names.length !== 1 || !nameMatches(names[0]!, identifier)) {
    const want = identifier.type === 'ip' ? `IP:${identifier.value}` : `DNS:${identifier.value}`;
    throw new AcmeError('unauthorized', `the certificate from ${from} names ${shown}; a tls-alpn-01 certificate must name exactly ${want} (RFC 8737 §3)`);
  }

  // id-pe-acmeIdentifier: critical, extnValue = DER OCTET STRING (SIZE (32)) of the digest.
  const ids = extensions.filter((e) => e.extnID === OID.acmeIdentifier);
  if (ids.length !== 1) {
    throw new AcmeError('unauthorized', `the certificate from ${from} has ${ids.length === 0 ? 'no' : ids.length} acmeIdentifier extension${ids.length > 1 ? 's' : ''} (${OID.acmeIdentifier}); it needs exactly one (RFC 8737 §3)`);
  }
  const ext = ids[0]!;
  if (!ext.critical) throw new AcmeError('unauthorized', `the acmeIdentifier extension of the certificate from ${from} is not critical; RFC 8737 §3 requires it to be`);
  const value = Buffer.from(ext.extnValue.buffer);
  if (value.length !== 34 || value[0] !== 0x04 || value[1] !== 0x20) {
    throw new AcmeError('unauthorized', `the acmeIdentifier extension of the certificate from ${from} is not a DER OCTET STRING of 32 bytes (got ${value.length} bytes: ${value.subarray(0, 40).toString('hex')})`);
  }
  const digest = value.subarray(2);
  if (!timingSafeEqual(digest, expected)) {
    throw new AcmeError('incorrectResponse', `the acmeIdentifier extension of the certificate from ${from} holds ${digest.toString('hex')}, expected ${expected.toString('hex')}, SHA-256 of the key authorization`);
  }
}

function nameMatches(n: GeneralName, identifier: Identifier): boolean {
  if (identifier.type === 'dns') return n.dNSName !== undefined && n.dNSName.toLowerCase() === identifier.value;
  return n.iPAddress !== undefined && canonicalIp(n.iPAddress) === identifier.value;
}

function describeName(n: GeneralName): string {
  if (n.dNSName !== undefined) return `DNS:${n.dNSName}`;
  if (n.iPAddress !== undefined) return `IP:${n.iPAddress}`;
  if (n.rfc822Name !== undefined) return `email:${n.rfc822Name}`;
  if (n.uniformResourceIdentifier !== undefined) return `URI:${n.uniformResourceIdentifier}`;
  return 'another name form';
}
