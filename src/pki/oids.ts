// Every OID the CA names, once, with where it is defined (STYLE.md habit 8).
export const OID = {
  // RFC 5280 §4.1.2.4 / X.520: commonName
  commonName: '2.5.4.3',
  // Certificate extensions (RFC 5280 §4.2.1.x, id-ce 14, 15, 17, 19, 31, 35, 37; §4.2.2.1 id-pe 1)
  subjectKeyIdentifier: '2.5.29.14', // §4.2.1.2
  keyUsage: '2.5.29.15', // §4.2.1.3
  subjectAltName: '2.5.29.17', // §4.2.1.6
  basicConstraints: '2.5.29.19', // §4.2.1.9
  crlDistributionPoints: '2.5.29.31', // §4.2.1.13
  authorityKeyIdentifier: '2.5.29.35', // §4.2.1.1
  extKeyUsage: '2.5.29.37', // §4.2.1.12
  authorityInfoAccess: '1.3.6.1.5.5.7.1.1', // §4.2.2.1
  // RFC 5280 §4.2.2.1: AccessDescription accessMethods id-ad-ocsp and id-ad-caIssuers
  adOcsp: '1.3.6.1.5.5.7.48.1',
  adCaIssuers: '1.3.6.1.5.5.7.48.2',
  // RFC 2985 §5.4.2 (PKCS #9): extensionRequest attribute of a PKCS #10 request
  extensionRequest: '1.2.840.113549.1.9.14',
  // RFC 5280 §4.2.1.12
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  // RFC 8737 §3, §6.1: id-pe-acmeIdentifier ({ id-pe 31 }), the tls-alpn-01 validation extension
  acmeIdentifier: '1.3.6.1.5.5.7.1.31',
  // RFC 5480 §2.1.1 / §2.1.1.1
  ecPublicKey: '1.2.840.10045.2.1',
  // RFC 8017 Appendix A.1
  rsaEncryption: '1.2.840.113549.1.1.1',
  // RFC 8410 §3
  ed25519: '1.3.101.112',
  // Signature algorithms: RFC 5758 §3.2 (ECDSA), RFC 4055 §5 (RSA PKCS #1 v1.5)
  ecdsaWithSHA256: '1.2.840.10045.4.3.2',
  ecdsaWithSHA384: '1.2.840.10045.4.3.3',
  ecdsaWithSHA512: '1.2.840.10045.4.3.4',
  sha256WithRSAEncryption: '1.2.840.113549.1.1.11',
  sha384WithRSAEncryption: '1.2.840.113549.1.1.12',
  sha512WithRSAEncryption: '1.2.840.113549.1.1.13',
  // Hash algorithms of OCSP CertIDs: RFC 3279 §2.2.1 (SHA-1), RFC 5754 §2 (SHA-2)
  sha1: '1.3.14.3.2.26',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
  // RFC 5280 §5.2.3 (cRLNumber), §5.3.1 (reasonCode, a CRL entry extension).
  crlNumber: '2.5.29.20',
  reasonCode: '2.5.29.21',
  // RFC 6960 §4.2.2.2 (id-kp-OCSPSigning), §4.2.2.2.1 (id-pkix-ocsp-nocheck), §4.2.1 (id-pkix-ocsp-basic),
  // §4.4.1 (id-pkix-ocsp-nonce)
  ocspSigning: '1.3.6.1.5.5.7.3.9',
  ocspNoCheck: '1.3.6.1.5.5.7.48.1.5',
  ocspBasic: '1.3.6.1.5.5.7.48.1.1',
  ocspNonce: '1.3.6.1.5.5.7.48.1.2',
} as const;
