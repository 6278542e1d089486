// A subscriber's tls-alpn-01 responder (RFC 8737 §3) on loopback: a real TLS server that answers
// ALPN "acme-tls/1" with the validation certificate chosen by SNI, and the certificates themselves,
// built with the CA's X.509 library. Options make it misbehave the ways real servers do.
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { OID } from '../../src/pki/oids.js';
import { toPem } from '../../src/pki/pem.js';
import { x509 } from '../../src/pki/x509.js';
import { makeCert } from './pki.js';

export interface AcmeTlsCertSpec {
  /** SAN entries; an empty list leaves the subjectAltName extension out. */
  names: { type: 'dns' | 'ip'; value: string }[];
  /** The key authorization whose SHA-256 goes into the acmeIdentifier extension. */
  keyAuthorization: string;
  /** Mark the acmeIdentifier extension critical (RFC 8737 §3 requires it); default true. */
  critical?: boolean;
  /** Leave the acmeIdentifier extension out. */
  omitAcmeIdentifier?: boolean;
  /** Raw extnValue bytes instead of the DER OCTET STRING of the digest. */
  rawAcmeIdentifier?: Uint8Array;
}

export interface PemPair {
  cert: string;
  key: string;
}

/** DER of Authorization ::= OCTET STRING (SIZE (32)) holding SHA-256 of the key authorization. */
export const acmeIdentifierValue = (keyAuthorization: string): Uint8Array =>
  Buffer.concat([Buffer.from([0x04, 0x20]), createHash('sha256').update(keyAuthorization).digest()]);

/** A self-signed validation certificate (RFC 8737 §3; RFC 8738 §6 for IP names). */
export async function acmeTlsCertificate(spec: AcmeTlsCertSpec): Promise<PemPair> {
  const extensions: [string, boolean, Uint8Array][] = spec.omitAcmeIdentifier
    ? []
    : [[OID.acmeIdentifier, spec.critical ?? true, spec.rawAcmeIdentifier ?? acmeIdentifierValue(spec.keyAuthorization)]];
  const made = await makeCert({
    subject: 'CN=ACME tls-alpn-01 validation',
    extensions,
    x509Extensions: spec.names.length ? [new x509.SubjectAlternativeNameExtension(spec.names)] : [],
  });
  return { cert: toPem(made.der), key: made.key.export({ type: 'pkcs8', format: 'pem' }) as string };
}

export interface TlsAlpnResponder {
  port: number;
  /** The SNI of every handshake, in order. */
  servernames: string[];
  /** The ALPN protocols each client offered, in order. */
  offered: string[][];
  /** The certificate served for an SNI value (undefined: none, the handshake fails). */
  set(servername: string, pair: PemPair | undefined): void;
  close(): Promise<void>;
}

export interface TlsAlpnResponderOptions {
  port?: number;
  /** 'acme-tls/1' (default) or 'none': answer without ALPN, as a server that ignores it does. */
  alpn?: 'acme-tls/1' | 'none';
  maxVersion?: tls.SecureVersion;
}

export async function startTlsAlpnResponder(o: TlsAlpnResponderOptions = {}): Promise<TlsAlpnResponder> {
  const contexts = new Map<string, tls.SecureContext>();
  const servernames: string[] = [];
  const offered: string[][] = [];
  const server = tls.createServer({
    SNICallback: (servername, cb) => {
      servernames.push(servername);
      cb(null, contexts.get(servername.toLowerCase()));
    },
    ...(o.alpn === 'none'
      ? {}
      : {
          ALPNCallback: ({ protocols }: { protocols: string[] }) => {
            offered.push(protocols);
            return protocols.includes('acme-tls/1') ? 'acme-tls/1' : undefined;
          },
        }),
    ...(o.maxVersion ? { maxVersion: o.maxVersion, minVersion: 'TLSv1' as const } : {}),
  });
  server.on('tlsClientError', () => {});
  // RFC 8737 §4: nothing is exchanged after the handshake; the validator closes the connection.
  server.on('secureConnection', (socket) => socket.on('error', () => {}));
  await new Promise<void>((resolve) => server.listen(o.port ?? 0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    servernames,
    offered,
    set: (servername, pair) => {
      if (pair) contexts.set(servername.toLowerCase(), tls.createSecureContext(pair));
      else contexts.delete(servername.toLowerCase());
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
