// The OCSP wire format (RFC 6960 §4.1, §4.2): reading a request into the certificates it asks
// about, and the unsigned responses that carry only an error status. Pure: no I/O, no clock.
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { CertID, OCSPRequest, OCSPResponse, OCSPResponseStatus } from '@peculiar/asn1-ocsp';
import { DerError, integerHex, readTlv } from './der.js';
import { OID } from './oids.js';

export class OcspRequestError extends Error {
  override name = 'OcspRequestError';
}

/** CertID hash algorithms answered (RFC 6960 §4.1.1 names SHA-1; RFC 5019 §2.1.1 asks for SHA-256 too). */
export const ocspHashes = { [OID.sha1]: 'sha1', [OID.sha256]: 'sha256', [OID.sha384]: 'sha384', [OID.sha512]: 'sha512' } as const;
export type OcspHash = (typeof ocspHashes)[keyof typeof ocspHashes];
const HASH_BYTES: Record<OcspHash, number> = { sha1: 20, sha256: 32, sha384: 48, sha512: 64 };

/** One certificate a request asks about. */
export interface OcspQuery {
  /** The CertID as received: a response repeats it exactly (RFC 6960 §4.2.1). */
  certId: CertID;
  hash: OcspHash;
  issuerNameHash: Buffer;
  issuerKeyHash: Buffer;
  /** Lowercase hex, as serials are stored. */
  serial: string;
}

export interface ParsedOcspRequest {
  queries: OcspQuery[];
  /** The nonce extension's extnValue, to echo unchanged (RFC 6960 §4.4.1). */
  nonce: Buffer | undefined;
}

/** More CertIDs than this in one request is not a relying party checking a chain. */
export const MAX_OCSP_QUERIES = 10;
/** RFC 9654 §2.1: a nonce is 1 to 128 octets; a responder refuses others with malformedRequest. */
const MAX_NONCE_BYTES = 128;

export function parseOcspRequest(der: Uint8Array): ParsedOcspRequest {
  let request: OCSPRequest;
  try {
    if (readTlv(der, 0).end !== der.length) throw new DerError('trailing bytes after the request');
    request = AsnConvert.parse(der, OCSPRequest);
  } catch (err) {
    throw new OcspRequestError(`not a DER OCSPRequest: ${(err as Error).message}`);
  }
  const tbs = request.tbsRequest;
  if (tbs.version !== 0) throw new OcspRequestError(`request version ${tbs.version} is not v1 (0)`);
  if (tbs.requestList.length === 0) throw new OcspRequestError('the request asks about no certificate');
  if (tbs.requestList.length > MAX_OCSP_QUERIES) throw new OcspRequestError(`the request asks about ${tbs.requestList.length} certificates; at most ${MAX_OCSP_QUERIES} are answered at once`);

  let nonce: Buffer | undefined;
  for (const ext of tbs.requestExtensions ?? []) {
    if (ext.extnID === OID.ocspNonce) {
      nonce = Buffer.from(ext.extnValue.buffer);
      let value: OctetString;
      try {
        value = AsnConvert.parse(nonce, OctetString);
      } catch {
        throw new OcspRequestError('the nonce is not an OCTET STRING (RFC 9654 §2.1)');
      }
      if (value.byteLength < 1 || value.byteLength > MAX_NONCE_BYTES) throw new OcspRequestError(`the nonce is ${value.byteLength} octets; 1 to ${MAX_NONCE_BYTES} are accepted (RFC 9654 §2.1)`);
    } else if (ext.critical) {
      // RFC 6960 §4.4: unrecognized extensions are ignored unless critical.
      throw new OcspRequestError(`the request has a critical extension this responder does not know: ${ext.extnID}`);
    }
  }

  const queries = tbs.requestList.map((r): OcspQuery => {
    const id = r.reqCert;
    const hash = ocspHashes[id.hashAlgorithm.algorithm as keyof typeof ocspHashes];
    if (!hash) throw new OcspRequestError(`CertID hash algorithm ${id.hashAlgorithm.algorithm} is not supported (use SHA-1 or SHA-256)`);
    const issuerNameHash = Buffer.from(id.issuerNameHash.buffer);
    const issuerKeyHash = Buffer.from(id.issuerKeyHash.buffer);
    if (issuerNameHash.length !== HASH_BYTES[hash] || issuerKeyHash.length !== HASH_BYTES[hash]) throw new OcspRequestError(`CertID hashes are not ${hash} digests`);
    const serialBytes = new Uint8Array(id.serialNumber);
    if (serialBytes.length === 0 || serialBytes[0]! & 0x80) throw new OcspRequestError('CertID serialNumber is not a positive INTEGER');
    for (const ext of r.singleRequestExtensions ?? []) {
      if (ext.critical) throw new OcspRequestError(`a request entry has a critical extension this responder does not know: ${ext.extnID}`);
    }
    return { certId: id, hash, issuerNameHash, issuerKeyHash, serial: integerHex(serialBytes) };
  });
  return { queries, nonce };
}

export type OcspErrorStatus = 'malformedRequest' | 'internalError' | 'tryLater' | 'unauthorized';

/** An OCSPResponse without responseBytes: only an error status is sent (RFC 6960 §4.2.1). */
export function ocspErrorResponse(status: OcspErrorStatus): Buffer {
  return Buffer.from(AsnConvert.serialize(new OCSPResponse({ responseStatus: OCSPResponseStatus[status] })));
}
