// The `tpm` attestation format (WebAuthn §8.3) as device-attest-01 uses it (draft-ietf-acme-
// device-attest §5; step-ca's construction, our notes §2.6): the client has an AK (attestation
// key) certificate from an enterprise attestation CA, creates the key it wants certified and runs
// TPM2_Certify on it with qualifyingData = SHA-256(keyAuthorization). The statement carries
//   attStmt = { ver: "2.0", alg, x5c: [AK cert, …intermediates], sig, certInfo, pubArea }
// where pubArea is the new key's TPMT_PUBLIC, certInfo the TPMS_ATTEST the TPM produced about it,
// and sig the AK's signature over certInfo. Checked in this order (all of them, fail closed):
//   1. ver, alg and the byte members are there;       5. sig over certInfo with the AK key;
//   2. x5c parses, chains to this format's anchors;   6. certInfo is a TPM-made CERTIFY report;
//   3. AK certificate profile (WebAuthn §8.3.1);       7. pubArea: key type, size, attributes,
//   4. identifier SANs of the AK certificate;             and certInfo names exactly this pubArea;
//                                                      8. extraData == SHA-256(keyAuthorization).
// Freshness comes last on purpose: real Windows Hello statements (test vectors) pass 1–7 and fail
// only here, which proves the rest of the path on real TPM output.
import { constants, createHash, timingSafeEqual, verify, type KeyObject } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { BasicConstraints, ExtendedKeyUsage, SubjectAlternativeName } from '@peculiar/asn1-x509';
import { extension, parseCert, verifyChain, type ParsedCert } from '../pki/chain.js';
import { OID } from '../pki/oids.js';
import { OID_HARDWARE_MODULE_NAME, OID_PERMANENT_IDENTIFIER, otherNameIdentifier } from '../pki/othernames.js';
import { parseCertInfo, parsePubArea, parseSignature, publicAreaSpki, tpmName, TPM_ALG, TPM_HASHES, TPMA_OBJECT } from './tpm-structures.js';
import { AttestationError, member, x5c, type AttestationFacts, type AttestationVerifier, type HardwareModule } from './verifier.js';

// OIDs this format reads (STYLE.md habit 8). SAN is OID.subjectAltName (RFC 5280 §4.2.1.6).
/** basicConstraints, RFC 5280 §4.2.1.9. */
const OID_BASIC_CONSTRAINTS = '2.5.29.19';
/** extKeyUsage, RFC 5280 §4.2.1.12. */
const OID_EXT_KEY_USAGE = '2.5.29.37';
/** tcg-kp-AIKCertificate, TCG EK Credential Profile for TPM Family 2.0; required by WebAuthn §8.3.1. */
const OID_TCG_KP_AIK_CERTIFICATE = '2.23.133.8.3';
/** tcg-at-tpmManufacturer / tpmModel / tpmVersion: TCG EK Credential Profile §3.2.9 (SAN directoryName), WebAuthn §8.3.1. */
const OID_TCG_AT = { manufacturer: '2.23.133.2.1', model: '2.23.133.2.2', version: '2.23.133.2.3' } as const;

/**
 * `alg` values (IANA COSE Algorithms registry) accepted for the AK signature over certInfo, with
 * the TPMT_SIGNATURE sigAlg/hash they imply. RS1 is there because TPMs commonly sign with SHA-1
 * (Windows Hello does, see the vectors; step-ca accepts it too).
 */
const ALGS = new Map<number, { name: string; hash: string; tpmHash: number; sigAlg: number; key: 'rsa' | 'ec' }>([
  [-257, { name: 'RS256', hash: 'sha256', tpmHash: TPM_ALG.SHA256, sigAlg: TPM_ALG.RSASSA, key: 'rsa' }],
  [-37, { name: 'PS256', hash: 'sha256', tpmHash: TPM_ALG.SHA256, sigAlg: TPM_ALG.RSAPSS, key: 'rsa' }],
  [-65535, { name: 'RS1', hash: 'sha1', tpmHash: TPM_ALG.SHA1, sigAlg: TPM_ALG.RSASSA, key: 'rsa' }],
  [-7, { name: 'ES256', hash: 'sha256', tpmHash: TPM_ALG.SHA256, sigAlg: TPM_ALG.ECDSA, key: 'ec' }],
]);

/** Coordinate size of the AK curves, to lay a TPMS_SIGNATURE_ECC out as r ‖ s (IEEE P1363). */
const EC_FIELD_BYTES: Record<string, number> = { prime256v1: 32, secp384r1: 48, secp521r1: 66 };

export interface AkCertificate {
  manufacturer: string;
  model: string;
  version: string;
  permanentIdentifiers: string[];
  hardwareModules: HardwareModule[];
}

/**
 * The AK certificate requirements of WebAuthn §8.3.1 ("TPM Attestation Statement Certificate
 * Requirements"), and what it says about the device.
 */
export function readAkCertificate(cert: ParsedCert): AkCertificate {
  const fail = (detail: string): never => {
    throw new AttestationError('akCert', `AK certificate: ${detail}`);
  };
  const parse = <T>(what: string, f: () => T): T => {
    try {
      return f();
    } catch (err) {
      return fail(`${what} cannot be read: ${(err as Error).message}`);
    }
  };
  const tbs = cert.asn.tbsCertificate;
  if (tbs.version !== 2) fail(`version is ${tbs.version + 1}, not 3`);
  if (tbs.subject.length !== 0) fail(`subject must be empty, it is "${cert.name}"`);

  const bc = extension(cert, OID_BASIC_CONSTRAINTS);
  // Absent basicConstraints means "not a CA" (RFC 5280 §4.2.1.9), which is what is required.
  if (bc && parse('basicConstraints', () => AsnConvert.parse(bc.value, BasicConstraints)).cA) fail('is a CA certificate (basicConstraints cA true)');

  const eku = extension(cert, OID_EXT_KEY_USAGE);
  if (!eku) fail(`has no extendedKeyUsage; ${OID_TCG_KP_AIK_CERTIFICATE} (tcg-kp-AIKCertificate) is required`);
  const usages = parse('extendedKeyUsage', () => AsnConvert.parse(eku!.value, ExtendedKeyUsage));
  if (!usages.includes(OID_TCG_KP_AIK_CERTIFICATE)) fail(`extendedKeyUsage lacks ${OID_TCG_KP_AIK_CERTIFICATE} (tcg-kp-AIKCertificate)`);

  const san = extension(cert, OID.subjectAltName);
  if (!san) fail('has no subjectAltName with the TPM manufacturer, model and version');
  // RFC 5280 §4.2.1.6: with an empty subject the SAN must be critical.
  if (!san!.critical) fail('subjectAltName must be critical (the subject is empty)');
  const names = parse('subjectAltName', () => AsnConvert.parse(san!.value, SubjectAlternativeName));

  const tpm: Partial<Record<keyof typeof OID_TCG_AT, string>> = {};
  const permanentIdentifiers: string[] = [];
  const hardwareModules: HardwareModule[] = [];
  for (const name of names) {
    for (const rdn of name.directoryName ?? []) {
      for (const atv of rdn) {
        const key = (Object.keys(OID_TCG_AT) as (keyof typeof OID_TCG_AT)[]).find((k) => OID_TCG_AT[k] === atv.type);
        if (!key) continue;
        if (tpm[key] !== undefined) fail(`subjectAltName names the TPM ${key} twice`);
        if (atv.value.anyValue) fail(`TPM ${key} (${atv.type}) is not a string`);
        tpm[key] = atv.value.toString();
      }
    }
    const other = name.otherName;
    if (other && (other.typeId === OID_PERMANENT_IDENTIFIER || other.typeId === OID_HARDWARE_MODULE_NAME)) {
      const id = (() => {
        try {
          return otherNameIdentifier(other.typeId, new Uint8Array(other.value))!;
        } catch (err) {
          throw new AttestationError('identifiers', `AK certificate otherName ${other.typeId} is malformed: ${(err as Error).message}`);
        }
      })();
      if (id.type === 'permanent-identifier') permanentIdentifiers.push(id.value);
      else {
        const slash = id.value.lastIndexOf('/');
        hardwareModules.push({ serial: id.value.slice(0, slash), type: id.value.slice(slash + 1) });
      }
    }
  }
  for (const key of Object.keys(OID_TCG_AT) as (keyof typeof OID_TCG_AT)[]) {
    if (!tpm[key]) fail(`subjectAltName has no TPM ${key} (${OID_TCG_AT[key]}) in a directoryName`);
  }
  return { manufacturer: tpm.manufacturer!, model: tpm.model!, version: tpm.version!, permanentIdentifiers, hardwareModules };
}

/**
 * Verifies the AK's signature over certInfo. `sig` may be a TPMT_SIGNATURE (what TPM2_Certify
 * returns and WebAuthn §8.3 asks for, go-attestation/step-ca expect it) or the bare signature
 * (what Windows Hello sends). The two cannot be confused: a TPMT_SIGNATURE for an RSA key is 6
 * bytes longer than the modulus, a bare RSA signature exactly as long; a bare ECDSA signature is
 * a DER SEQUENCE (0x30), a TPMT_SIGNATURE starts with sigAlg 0x0018.
 */
function verifyCertInfoSignature(algId: number, ak: KeyObject, certInfo: Buffer, sig: Buffer): void {
  const alg = ALGS.get(algId)!;
  if (ak.asymmetricKeyType !== alg.key) {
    throw new AttestationError('alg', `alg ${algId} (${alg.name}) needs an ${alg.key.toUpperCase()} AK, the AK certificate holds an ${ak.asymmetricKeyType ?? 'unknown'} key`);
  }
  const structured = (): ReturnType<typeof parseSignature> => {
    const t = parseSignature(sig);
    if (t.sigAlg !== alg.sigAlg || t.hashAlg !== alg.tpmHash) {
      throw new AttestationError('sig', `TPMT_SIGNATURE is sigAlg 0x${t.sigAlg.toString(16)} hash 0x${t.hashAlg.toString(16)}, alg ${alg.name} means sigAlg 0x${alg.sigAlg.toString(16)} hash 0x${alg.tpmHash.toString(16)}`);
    }
    return t;
  };
  let ok = false;
  if (alg.key === 'rsa') {
    const modulusBytes = Math.ceil((ak.asymmetricKeyDetails?.modulusLength ?? 0) / 8);
    const t = sig.length === modulusBytes ? undefined : structured();
    const raw = t ? (t.kind === 'rsa' ? t.sig : Buffer.alloc(0)) : sig;
    // TPM RSAPSS salt is the digest size on current TPMs and the maximum on some older ones
    // (Part 1, "RSASSA-PSS"); accepting any salt length covers both.
    const padding = alg.sigAlg === TPM_ALG.RSAPSS ? { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO } : { padding: constants.RSA_PKCS1_PADDING };
    ok = safeVerify(alg.hash, certInfo, { key: ak, ...padding }, raw);
  } else if (sig[0] === 0x30) {
    ok = safeVerify(alg.hash, certInfo, { key: ak, dsaEncoding: 'der' }, sig);
  } else {
    const t = structured();
    const size = EC_FIELD_BYTES[ak.asymmetricKeyDetails?.namedCurve ?? ''];
    if (!size) throw new AttestationError('alg', `AK curve ${ak.asymmetricKeyDetails?.namedCurve} is not P-256, P-384 or P-521`);
    if (t.kind !== 'ecc' || t.r.length > size || t.s.length > size) throw new AttestationError('sig', 'TPMS_SIGNATURE_ECC r or s is longer than the AK curve allows');
    const pad = (b: Buffer) => Buffer.concat([Buffer.alloc(size - b.length), b]);
    ok = safeVerify(alg.hash, certInfo, { key: ak, dsaEncoding: 'ieee-p1363' }, Buffer.concat([pad(t.r), pad(t.s)]));
  }
  if (!ok) throw new AttestationError('sig', `sig does not verify over certInfo with the AK certificate key (${alg.name})`);
}

function safeVerify(hash: string, data: Buffer, key: Parameters<typeof verify>[2], sig: Buffer): boolean {
  try {
    return verify(hash, data, key, sig);
  } catch {
    return false; // a malformed signature is a signature that does not verify
  }
}

export const verifyTpm: AttestationVerifier = (input): AttestationFacts => {
  const { attStmt } = input;
  // 1. Members.
  const ver = member<string>(attStmt, 'ver', 'string', 'ver');
  if (ver !== '2.0') throw new AttestationError('ver', `attStmt "ver" is "${ver}", only TPM "2.0" is supported`);
  const algId = member<number>(attStmt, 'alg', 'number', 'alg');
  if (!ALGS.has(algId)) throw new AttestationError('alg', `attStmt "alg" ${algId} is not RS256 (-257), ES256 (-7), PS256 (-37) or RS1 (-65535)`);
  const sig = Buffer.from(member<Uint8Array>(attStmt, 'sig', 'bytes', 'sig'));
  const certInfo = Buffer.from(member<Uint8Array>(attStmt, 'certInfo', 'bytes', 'certInfo'));
  const pubArea = Buffer.from(member<Uint8Array>(attStmt, 'pubArea', 'bytes', 'pubArea'));

  // 2. The AK certificate and its chain to the AK CAs configured for this format. There are
  //    no built-in TPM roots: who may issue AK certificates is an enterprise decision.
  const [leafDer, ...intermediates] = x5c(attStmt);
  let ak: ParsedCert;
  try {
    ak = parseCert(leafDer!);
    intermediates.forEach(parseCert);
  } catch (err) {
    throw new AttestationError('x5c', `x5c holds something that is not a certificate: ${(err as Error).message}`);
  }
  let path: ParsedCert[];
  try {
    path = verifyChain(leafDer!, intermediates, input.anchors, { at: input.at }).path;
  } catch (err) {
    // ChainError, or a malformed extension in a certificate the client sent: either way the
    // statement is unacceptable, not a server fault.
    throw new AttestationError('chain', `AK certificate chain: ${(err as Error).message}`);
  }

  // 3–4. Profile and identifiers. Unlike step-ca (which skips the identifier check when the AK
  //    certificate has no PermanentIdentifier), an AK certificate without identifiers yields
  //    empty lists here, and va refuses any order whose identifier is not among them (notes §6
  //    row 26): an AK certificate alone does not say which device it is.
  const akInfo = readAkCertificate(ak);

  // 5. The AK signed certInfo.
  verifyCertInfoSignature(algId, ak.x509.publicKey, certInfo, sig);

  // 6. certInfo is TPM-generated (magic) and reports TPM2_Certify (type); checked while parsing.
  const attest = parseCertInfo(certInfo);

  // 7. The certified key: a TPM-resident (fixedTPM, fixedParent), TPM-generated
  //    (sensitiveDataOrigin), unrestricted key of an accepted size, named by certInfo.
  const pub = parsePubArea(pubArea);
  const required = TPMA_OBJECT.fixedTPM | TPMA_OBJECT.fixedParent | TPMA_OBJECT.sensitiveDataOrigin;
  if ((pub.objectAttributes & required) !== required || pub.objectAttributes & TPMA_OBJECT.restricted) {
    throw new AttestationError('attributes', `pubArea objectAttributes 0x${pub.objectAttributes.toString(16).padStart(8, '0')} must set fixedTPM, fixedParent and sensitiveDataOrigin and clear restricted`);
  }
  if (pub.type === 'rsa' && pub.keyBits < 2048) throw new AttestationError('key', `attested RSA key has ${pub.keyBits} bits, at least 2048 are required`);
  const attestedSpki = publicAreaSpki(pub); // also refuses ECC curves other than P-256/384/521
  const name = tpmName(pubArea, pub.nameAlg);
  if (!name.equals(attest.attested.name)) {
    throw new AttestationError('name', `certInfo certifies the object named ${attest.attested.name.toString('hex')}, pubArea is named ${name.toString('hex')} (${TPM_HASHES.get(pub.nameAlg)!.name})`);
  }

  // 8. Freshness and account binding: TPM2_Certify's qualifyingData was SHA-256(keyAuthorization).
  const expected = createHash('sha256').update(input.keyAuthorization, 'utf8').digest();
  if (attest.extraData.length !== expected.length || !timingSafeEqual(attest.extraData, expected)) {
    throw new AttestationError('extraData', 'certInfo extraData is not SHA-256 of this challenge\'s key authorization (stale statement, another challenge or another account)');
  }

  return {
    format: 'tpm',
    permanentIdentifiers: akInfo.permanentIdentifiers,
    hardwareModules: akInfo.hardwareModules,
    attestedSpki,
    claims: {
      manufacturer: akInfo.manufacturer,
      model: akInfo.model,
      version: akInfo.version,
      firmwareVersion: `0x${attest.firmwareVersion.toString(16).padStart(16, '0')}`,
      alg: algId,
    },
    chain: path.map((c) => c.der),
  };
};
