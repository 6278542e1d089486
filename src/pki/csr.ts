// Reads a PKCS #10 certification request (RFC 2986) as sent in an ACME finalize request
// (RFC 8555 §7.4): its signature, its public key and the names it asks for. Pure: no I/O.
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { CertificationRequest } from '@peculiar/asn1-csr';
import { AlgorithmIdentifier, Extensions, GeneralNames, Name, SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import { splitSigned } from './der.js';
import { canonicalIp } from './ip.js';
import { OID } from './oids.js';
import { otherNameIdentifier } from './othernames.js';

export class CsrError extends Error {
  override name = 'CsrError';
}

/** Signature algorithms accepted on a CSR and the hash each uses. */
const SIGNATURE_HASHES: Record<string, string | null> = {
  [OID.ecdsaWithSHA256]: 'sha256',
  [OID.ecdsaWithSHA384]: 'sha384',
  [OID.ecdsaWithSHA512]: 'sha512',
  [OID.sha256WithRSAEncryption]: 'sha256',
  [OID.sha384WithRSAEncryption]: 'sha384',
  [OID.sha512WithRSAEncryption]: 'sha512',
  [OID.ed25519]: null,
};

export interface ParsedCsr {
  publicKey: KeyObject;
  /** DER SubjectPublicKeyInfo, as it goes into the certificate. */
  spki: Buffer;
  commonName: string | undefined;
  dnsNames: string[];
  ipAddresses: string[];
  /** PermanentIdentifier and HardwareModuleName otherNames, as identifier text (pki/othernames.ts). */
  deviceIdentifiers: { type: 'permanent-identifier' | 'hardware-module'; value: string }[];
  /** SAN entries of other kinds (email, URI, otherName…), named for the error message. */
  otherNames: string[];
  extensionRequest: Extensions | undefined;
}

export function parseCsr(der: Uint8Array): ParsedCsr {
  let csr: CertificationRequest;
  let parts: ReturnType<typeof splitSigned>;
  try {
    parts = splitSigned(der);
    csr = AsnConvert.parse(der, CertificationRequest);
  } catch (err) {
    throw new CsrError(`CSR is not a DER PKCS #10 request: ${(err as Error).message}`);
  }
  const info = csr.certificationRequestInfo;
  if (info.version !== 0) throw new CsrError(`CSR version ${info.version} is not v1 (0)`);

  const spki = Buffer.from(AsnConvert.serialize(info.subjectPKInfo));
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  } catch (err) {
    throw new CsrError(`CSR public key cannot be read: ${(err as Error).message}`);
  }

  const algorithm = parseDer(parts.algorithm, AlgorithmIdentifier, 'signature algorithm').algorithm;
  if (!(algorithm in SIGNATURE_HASHES)) throw new CsrError(`CSR signature algorithm ${algorithm} is not accepted (use ECDSA or RSA PKCS #1 v1.5 with SHA-256/384/512, or Ed25519)`);
  if (!signatureMatchesKey(algorithm, info.subjectPKInfo)) throw new CsrError(`CSR signature algorithm ${algorithm} does not fit its public key`);
  let ok = false;
  try {
    ok = verify(SIGNATURE_HASHES[algorithm] ?? null, parts.tbs, publicKey, parts.signature);
  } catch {
    ok = false;
  }
  if (!ok) throw new CsrError('CSR signature does not verify with the CSR public key');

  const commonName = readCommonName(info.subject);
  const out: ParsedCsr = { publicKey, spki, commonName, dnsNames: [], ipAddresses: [], deviceIdentifiers: [], otherNames: [], extensionRequest: undefined };
  for (const attr of info.attributes) {
    if (attr.type !== OID.extensionRequest) continue;
    if (attr.values.length !== 1 || out.extensionRequest) throw new CsrError('CSR has more than one extensionRequest');
    out.extensionRequest = parseDer(attr.values[0]!, Extensions, 'extensionRequest');
  }
  for (const ext of out.extensionRequest ?? []) {
    if (ext.extnID !== OID.subjectAltName) continue;
    const names = parseDer(ext.extnValue, GeneralNames, 'subjectAltName');
    for (const n of names) {
      if (n.dNSName !== undefined) out.dnsNames.push(n.dNSName.toLowerCase());
      else if (n.iPAddress !== undefined) {
        const ip = canonicalIp(n.iPAddress);
        if (!ip) throw new CsrError(`CSR has an IP address SAN that is not an address: ${n.iPAddress}`);
        out.ipAddresses.push(ip);
      } else if (n.rfc822Name !== undefined) out.otherNames.push(`email:${n.rfc822Name}`);
      else if (n.uniformResourceIdentifier !== undefined) out.otherNames.push(`URI:${n.uniformResourceIdentifier}`);
      else if (n.otherName !== undefined) {
        let device: ReturnType<typeof otherNameIdentifier>;
        try {
          device = otherNameIdentifier(n.otherName.typeId, new Uint8Array(n.otherName.value));
        } catch (err) {
          throw new CsrError(`CSR otherName ${n.otherName.typeId} is malformed: ${(err as Error).message}`);
        }
        if (device) out.deviceIdentifiers.push(device);
        else out.otherNames.push(`otherName:${n.otherName.typeId}`);
      }
      else out.otherNames.push('an unsupported name form');
    }
  }
  return out;
}

/**
 * Parses a DER field nested in the CSR. The outer parse accepts any bytes inside an OCTET STRING
 * or an attribute value, so a signed CSR can still carry a field that is not what its OID says.
 */
function parseDer<T>(der: Parameters<typeof AsnConvert.parse>[0], schema: new () => T, what: string): T {
  try {
    return AsnConvert.parse(der, schema);
  } catch (err) {
    throw new CsrError(`CSR ${what} is not valid DER: ${(err as Error).message}`);
  }
}

function readCommonName(subject: Name): string | undefined {
  const values: string[] = [];
  for (const rdn of subject) {
    for (const atv of rdn) {
      if (atv.type === OID.commonName) values.push(atv.value.toString());
    }
  }
  if (values.length > 1) throw new CsrError('CSR subject has more than one commonName');
  return values[0];
}

function signatureMatchesKey(sigAlg: string, spki: SubjectPublicKeyInfo): boolean {
  const keyAlg = spki.algorithm.algorithm;
  if (sigAlg.startsWith('1.2.840.10045.4.')) return keyAlg === OID.ecPublicKey;
  if (sigAlg.startsWith('1.2.840.113549.1.1.')) return keyAlg === OID.rsaEncryption;
  return sigAlg === keyAlg;
}
