// Signing OCSP responses (RFC 6960 §4.2) with a delegated responder certificate (§4.2.2.2): the
// intermediate issues a certificate with id-kp-OCSPSigning to a key of the responder's own, so the
// intermediate's key never signs a response. Only ca/ holds that key. Which status each
// certificate has is decided by the caller (ra/ocsp.ts); this file encodes and signs.
import { createHash, sign, type KeyObject } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { BasicOCSPResponse, CertStatus, KeyHash, OCSPResponse, OCSPResponseStatus, ResponderID, ResponseBytes, ResponseData, RevokedInfo, SingleResponse } from '@peculiar/asn1-ocsp';
import { AlgorithmIdentifier, Certificate, CRLReason, Extension } from '@peculiar/asn1-x509';
import type { CertificateStatus } from '../core.js';
import { certificateFields } from '../pki/der.js';
import { OID } from '../pki/oids.js';
import type { OcspHash, OcspQuery } from '../pki/ocsp.js';
import { wholeSeconds } from './crl.js';

/** The delegated signing certificate and its key (ca/ocsp-signer.ts makes and stores them). */
export interface OcspSigner {
  certDer: Buffer;
  key: KeyObject;
  notAfter: Date;
}

export interface OcspAnswer {
  query: OcspQuery;
  status: CertificateStatus;
}

export interface OcspResponseOptions {
  /** producedAt and every thisUpdate (RFC 6960 §4.2.2.1). */
  now: Date;
  /** How long the response may be relied on: nextUpdate = now + this. */
  validityMs: number;
  /** The request's nonce extnValue, echoed (RFC 6960 §4.4.1). */
  nonce: Buffer | undefined;
}

const HASHES: OcspHash[] = ['sha1', 'sha256', 'sha384', 'sha512'];

export class OcspResponder {
  /** issuerNameHash and issuerKeyHash of the intermediate, per CertID hash algorithm (RFC 6960 §4.1.1). */
  private readonly issuerHashes: Record<OcspHash, { name: Buffer; key: Buffer }>;
  private signer: (OcspSigner & { responderId: ResponderID }) | undefined;

  constructor(private readonly issuerDer: Buffer) {
    const f = certificateFields(issuerDer);
    this.issuerHashes = Object.fromEntries(
      HASHES.map((h) => [h, { name: createHash(h).update(f.subject).digest(), key: createHash(h).update(f.publicKeyBits).digest() }]),
    ) as Record<OcspHash, { name: Buffer; key: Buffer }>;
  }

  /** Starts signing with this certificate (at start, and when ra/ocsp-signer.ts renews it). */
  use(signer: OcspSigner): void {
    // RFC 6960 §4.2.2.3: byKey is the SHA-1 hash of the responder's public key bits.
    const keyHash = createHash('sha1').update(certificateFields(signer.certDer).publicKeyBits).digest();
    this.signer = { ...signer, responderId: new ResponderID({ byKey: new KeyHash(keyHash) }) };
  }

  get signerNotAfter(): Date | undefined {
    return this.signer?.notAfter;
  }

  /** Does the CertID name the issuer this responder answers for? Name and key must both match. */
  isForIssuer(q: OcspQuery): boolean {
    const mine = this.issuerHashes[q.hash];
    return mine.name.equals(q.issuerNameHash) && mine.key.equals(q.issuerKeyHash);
  }

  /** A successful OCSPResponse with a BasicOCSPResponse signed by the delegated key. */
  respond(answers: OcspAnswer[], o: OcspResponseOptions): Buffer {
    const signer = this.signer;
    if (!signer) throw new Error('the OCSP responder has no signing certificate yet');
    const now = wholeSeconds(o.now);
    const nextUpdate = wholeSeconds(new Date(now.getTime() + o.validityMs));
    const tbs = new ResponseData({
      responderID: signer.responderId,
      producedAt: now,
      responses: answers.map(
        (a) =>
          new SingleResponse({
            certID: a.query.certId,
            certStatus: certStatus(a.status),
            thisUpdate: now,
            nextUpdate,
          }),
      ),
      ...(o.nonce ? { responseExtensions: [new Extension({ extnID: OID.ocspNonce, critical: false, extnValue: new OctetString(o.nonce) })] } : {}),
    });
    const tbsDer = Buffer.from(AsnConvert.serialize(tbs));
    const { algorithm, hash } = signatureAlgorithm(signer.key);
    const signature = sign(hash, tbsDer, { key: signer.key, dsaEncoding: 'der' });
    const basic = new BasicOCSPResponse({
      tbsResponseData: tbs,
      signatureAlgorithm: new AlgorithmIdentifier({ algorithm }),
      signature: new Uint8Array(signature).buffer,
      // The responder's certificate, so that a client can check the delegation (RFC 6960 §4.2.2.2),
      // and the intermediate above it, so that the client can build its chain to the root.
      certs: [AsnConvert.parse(signer.certDer, Certificate), AsnConvert.parse(this.issuerDer, Certificate)],
    });
    const response = new OCSPResponse({
      responseStatus: OCSPResponseStatus.successful,
      responseBytes: new ResponseBytes({ responseType: OID.ocspBasic, response: new OctetString(AsnConvert.serialize(basic)) }),
    });
    return Buffer.from(AsnConvert.serialize(response));
  }
}

function certStatus(s: CertificateStatus): CertStatus {
  switch (s.status) {
    case 'good':
      return new CertStatus({ good: null });
    case 'unknown':
      return new CertStatus({ unknown: null });
    case 'revoked':
      // Like a CRL entry, the reason is left out rather than saying unspecified (RFC 5280 §5.3.1).
      return new CertStatus({
        revoked: new RevokedInfo({ revocationTime: wholeSeconds(s.revokedAt), ...(s.reason === 0 ? {} : { revocationReason: new CRLReason(s.reason) }) }),
      });
  }
}

/** ECDSA with the hash that fits the delegated key's curve (RFC 5758 §3.2); ca/ocsp-signer.ts makes EC keys only. */
function signatureAlgorithm(key: KeyObject): { algorithm: string; hash: string } {
  if (key.asymmetricKeyType !== 'ec') throw new Error(`the OCSP signing key is ${key.asymmetricKeyType}, not EC`);
  return key.asymmetricKeyDetails?.namedCurve === 'secp384r1' ? { algorithm: OID.ecdsaWithSHA384, hash: 'sha384' } : { algorithm: OID.ecdsaWithSHA256, hash: 'sha256' };
}
