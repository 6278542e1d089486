// What the revocation tests share: binary HTTP (CRLs and OCSP are DER), running openssl and other
// tools without blocking the event loop (the server under test runs in this process), and the
// pieces of an issued chain.
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import https from 'node:https';
import { AsnConvert } from '@peculiar/asn1-schema';
import { OCSPResponse } from '@peculiar/asn1-ocsp';
import { fromPem } from '../../src/pki/pem.js';

export interface BinaryResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export function fetchBinary(url: string, agent: https.Agent, init: { method?: string; headers?: Record<string, string>; body?: Buffer } = {}): Promise<BinaryResult> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: init.method ?? 'GET', headers: init.headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(30_000, () => req.destroy(new Error(`timeout: ${url}`)));
    req.end(init.body);
  });
}

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a tool asynchronously (never execFileSync: the server answering it runs in this process). */
export function runTool(file: string, args: string[], env?: NodeJS.ProcessEnv, timeoutMs = 90_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL', env, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      resolve({ code, stdout, stderr: err && code === null ? `${stderr}\n[${err.message}]` : stderr });
    });
  });
}

/** The leaf of a PEM chain as DER, its serial as stored (lowercase hex), and the rest of the chain. */
export function splitChain(chainPem: string): { leafDer: Buffer; leafPem: string; serial: string; intermediatesPem: string } {
  const [leafPem, ...rest] = chainPem.split(/(?=-----BEGIN CERTIFICATE-----)/);
  const leafDer = fromPem(leafPem!)[0]!;
  return { leafDer, leafPem: leafPem!, serial: new X509Certificate(leafDer).serialNumber.toLowerCase(), intermediatesPem: rest.join('') };
}

/** The responseStatus of a DER OCSPResponse (RFC 6960 §4.2.1): 0 successful, 1 malformedRequest, 6 unauthorized… */
export function ocspResponseStatus(der: Buffer): number {
  return AsnConvert.parse(der, OCSPResponse).responseStatus;
}
