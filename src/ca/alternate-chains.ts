// Alternate certificate chains (RFC 8555 §7.4.2): the same leaf, followed by another path to a
// root, e.g. the issuer cross-signed by an older or more widely trusted root, as Let's Encrypt
// served "R3 ← DST Root CA X3" beside "R3 ← ISRG Root X1". Each configured chain (ca.alternateChains)
// starts with a certificate that has the issuer's subject and public key, so the leaf verifies
// under it exactly as under the issuer; each certificate is signed by the next. A chain that does
// not fit would hand clients a path that fails to verify, so it stops the CA from starting
// (fail closed), naming the key and the file.
import { AsnConvert } from '@peculiar/asn1-schema';
import { ConfigError } from '../config.js';
import { ChainError, extension, parseCert, type ParsedCert } from '../pki/chain.js';
import { fromPem, toPem } from '../pki/pem.js';

/** subjectKeyIdentifier, RFC 5280 §4.2.1.2. */
const SUBJECT_KEY_IDENTIFIER = '2.5.29.14';

const subjectDer = (c: ParsedCert): Buffer => Buffer.from(AsnConvert.serialize(c.asn.tbsCertificate.subject));
const spkiDer = (c: ParsedCert): Buffer => c.x509.publicKey.export({ type: 'spki', format: 'der' });

/**
 * Checks each configured chain against the issuer's certificate (DER) and returns each as the PEM
 * that follows the leaf, in configuration order: alternate chain n is served at the certificate
 * URL + "/n".
 */
export function checkAlternateChains(issuerDer: Buffer, chains: readonly { file: string; pem: string }[]): string[] {
  const issuer = parseCert(issuerDer);
  return chains.map(({ file, pem }) => {
    const fail = (why: string): never => {
      throw new ConfigError(`ca.alternateChains: ${file}: ${why}; give a chain that starts with the issuing CA's certificate cross-signed by another CA, each certificate followed by its issuer`);
    };
    let certs: ParsedCert[];
    try {
      certs = fromPem(pem).map((der) => parseCert(der));
    } catch (err) {
      if (err instanceof ChainError) return fail(err.message);
      throw err;
    }
    const first = certs[0];
    if (!first) return fail('holds no certificate');
    if (!subjectDer(first).equals(subjectDer(issuer))) return fail(`the first certificate's subject "${first.name}" is not the issuing CA's, "${issuer.name}"`);
    if (!spkiDer(first).equals(spkiDer(issuer))) return fail(`the first certificate ("${first.name}") has another public key than the issuing CA`);
    // Leaves name the issuer's key identifier (AKI); a cross-sign carrying another SKI would not match it.
    const ski = extension(first, SUBJECT_KEY_IDENTIFIER);
    const issuerSki = extension(issuer, SUBJECT_KEY_IDENTIFIER);
    if (ski && issuerSki && !ski.value.equals(issuerSki.value)) return fail(`the first certificate's subjectKeyIdentifier differs from the issuing CA's`);
    for (const [i, cert] of certs.entries()) {
      if (!cert.x509.ca) fail(`certificate ${i + 1} ("${cert.name}") is not a CA certificate (basicConstraints cA is not true)`);
      const parent = certs[i + 1];
      if (parent && !(cert.x509.checkIssued(parent.x509) && cert.x509.verify(parent.x509.publicKey))) {
        fail(`certificate ${i + 1} ("${cert.name}") is not signed by certificate ${i + 2} ("${parent.name}")`);
      }
    }
    return certs.map((c) => toPem(c.der)).join('');
  });
}
