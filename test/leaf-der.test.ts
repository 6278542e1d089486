// End-entity certificates, assembled in DER by ca/leaf.ts, for each kind of issuer key the CA
// supports and each profile: the TBSCertificate must equal, byte for byte, what @peculiar/x509's
// X509CertificateGenerator (which the CA used before) makes of the same request, built here the
// way ca/authority.ts built it; openssl must verify the certificate up to the root, and node's
// X509Certificate must find it issued and signed by the issuer. Also the DER writer's new pieces
// (named bits, strings) and the IP octets, and where the two deliberately differ: a device
// identifier that the library would have read as RFC 4514 text ("#hex", quotes, backslashes).
import assert from 'node:assert/strict';
import { createHash, createPublicKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AcmeUrls } from '../src/acme/urls.js';
import { CertificateAuthority, type LeafRequest, type OcspSignerRequest } from '../src/ca/authority.js';
import { caFiles, createHierarchy, newSerial, type Hierarchy } from '../src/ca/hierarchy.js';
import { toSigningKey } from '../src/ca/keys.js';
import type { KeyType } from '../src/config-schema.js';
import { certificateFields, splitSigned } from '../src/pki/der.js';
import { namedBits, printableString, utf8String } from '../src/pki/der-write.js';
import { ipOctets } from '../src/pki/ip.js';
import { OID } from '../src/pki/oids.js';
import { generalNames, hardwareModuleName, permanentIdentifierName } from '../src/pki/othernames.js';
import { toPem } from '../src/pki/pem.js';
import { x509 } from '../src/pki/x509.js';
import { runTool } from './helpers/revocation.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'attestca-leaf-der-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const NOW = new Date('2026-03-01T10:00:00Z');
const URLS = new AcmeUrls('https://localhost:8443');

// ---- The reference: how ca/authority.ts built certificates with @peculiar/x509 before ----

type OldNames = { subject: { CN: string[] }[]; san: InstanceType<typeof x509.Extension> | undefined; eku: string[] };

async function peculiarSigner(h: Hierarchy, issuerId: string) {
  const signer = await toSigningKey(h.issuerKey);
  const issuerPublic = await x509.PublicKey.create(createPublicKey(h.issuerKey).export({ type: 'spki', format: 'der' }));
  const aki = await x509.AuthorityKeyIdentifierExtension.create(issuerPublic);
  const status = [
    new x509.CRLDistributionPointsExtension([URLS.crl(issuerId)], false),
    new x509.AuthorityInfoAccessExtension({ ocsp: URLS.ocsp, caIssuers: URLS.issuerCert }, false),
  ];
  const sign = async (v: { serial: string; notBefore: Date; notAfter: Date }, subject: { CN: string[] }[], publicKey: x509.PublicKey, extensions: x509.Extension[]) => {
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: v.serial,
      subject,
      issuer: h.issuerCert.subjectName,
      notBefore: v.notBefore,
      notAfter: v.notAfter,
      publicKey,
      signingKey: signer.cryptoKey,
      signingAlgorithm: signer.algorithm,
      extensions,
    });
    return Buffer.from(cert.rawData);
  };
  return { aki, status, sign };
}

function oldServerNames(req: LeafRequest): OldNames {
  const firstDns = req.usage?.omitCommonName ? undefined : req.identifiers.find((i) => i.type === 'dns' && i.value.length <= 64);
  const subject = firstDns ? [{ CN: [firstDns.value] }] : [];
  const names = req.identifiers.map((i) => ({ type: i.type === 'ip' ? 'ip' : 'dns', value: i.value }) as const);
  const eku = (req.usage?.extendedKeyUsage ?? ['serverAuth', 'clientAuth']).map((u) => x509.ExtendedKeyUsage[u]);
  return { subject, san: new x509.SubjectAlternativeNameExtension(names, subject.length === 0), eku };
}

async function oldDeviceNames(req: LeafRequest): Promise<OldNames> {
  const eku = [x509.ExtendedKeyUsage.clientAuth];
  if (req.privacy) {
    const hash = Buffer.from(await crypto.subtle.digest('SHA-256', req.spki)).toString('hex');
    return { subject: [{ CN: [hash] }], san: undefined, eku };
  }
  const id = req.identifiers[0]!;
  const subject = id.value.length <= 64 ? [{ CN: [id.value] }] : [];
  const der = generalNames(req.identifiers.map((i) => (i.type === 'hardware-module' ? hardwareModuleName(i.value) : permanentIdentifierName(i.value))));
  return { subject, san: new x509.Extension('2.5.29.17', subject.length === 0, der), eku };
}

async function peculiarLeaf(h: Hierarchy, issuerId: string, req: LeafRequest): Promise<Buffer> {
  const { aki, status, sign } = await peculiarSigner(h, issuerId);
  const publicKey = await x509.PublicKey.create(req.spki);
  const keyType = createPublicKey({ key: req.spki, format: 'der', type: 'spki' }).asymmetricKeyType;
  const usage = req.profile === 'server' ? req.usage : undefined;
  const encipherment = keyType === 'rsa' && (usage?.keyEncipherment ?? true);
  const usages = x509.KeyUsageFlags.digitalSignature | (encipherment ? x509.KeyUsageFlags.keyEncipherment : 0);
  const { subject, san, eku } = req.profile === 'device' ? await oldDeviceNames(req) : oldServerNames(req);
  return sign(req, subject, publicKey, [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(usages, true),
    new x509.ExtendedKeyUsageExtension(eku, false),
    await x509.SubjectKeyIdentifierExtension.create(publicKey),
    aki,
    ...(san ? [san] : []),
    ...status,
  ]);
}

async function peculiarOcspSigner(h: Hierarchy, issuerId: string, req: OcspSignerRequest): Promise<Buffer> {
  const { aki, sign } = await peculiarSigner(h, issuerId);
  const publicKey = await x509.PublicKey.create(req.spki);
  const cn = h.issuerCert.subjectName.getField('CN')[0] ?? 'attestca';
  return sign(req, [{ CN: [`${cn} OCSP Responder`] }], publicKey, [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([OID.ocspSigning], false),
    new x509.Extension(OID.ocspNoCheck, false, new Uint8Array([0x05, 0x00])),
    await x509.SubjectKeyIdentifierExtension.create(publicKey),
    aki,
  ]);
}

// ---- The requests ----

const spkiOf = (k: { publicKey: { export(o: { type: 'spki'; format: 'der' }): Buffer } }) => k.publicKey.export({ type: 'spki', format: 'der' });
const KEYS = {
  p256: spkiOf(generateKeyPairSync('ec', { namedCurve: 'P-256' })),
  p384: spkiOf(generateKeyPairSync('ec', { namedCurve: 'P-384' })),
  rsa: spkiOf(generateKeyPairSync('rsa', { modulusLength: 2048 })),
  ed25519: spkiOf(generateKeyPairSync('ed25519')),
};

const LONG = `${'a'.repeat(60)}.example.com`; // 72 characters: more than ub-common-name (64)
const DAY = 86_400_000;

interface Case {
  name: string;
  req: Partial<LeafRequest> & Pick<LeafRequest, 'identifiers'>;
  /** What openssl x509 -text must show. */
  text: RegExp[];
}

const dns = (value: string) => ({ type: 'dns' as const, value });
const ip = (value: string) => ({ type: 'ip' as const, value });
const perm = (value: string) => ({ type: 'permanent-identifier' as const, value });

const CASES: Case[] = [
  { name: 'server: one DNS name', req: { identifiers: [dns('example.com')] }, text: [/Subject: CN ?= ?example.com\n/, /TLS Web Server Authentication, TLS Web Client Authentication/, /Key Usage: critical\n\s+Digital Signature\n/] },
  {
    name: 'server: several DNS names, IPv4 and IPv6, a P-384 key, notAfter in 2050 (GeneralizedTime)',
    req: { identifiers: [dns('a.example.com'), dns('b.example.com'), ip('192.0.2.10'), ip('2001:db8::1'), ip('::1')], spki: KEYS.p384, notAfter: new Date('2050-01-02T03:04:05.678Z') },
    text: [/DNS:a.example.com, DNS:b.example.com, IP Address:192.0.2.10, IP Address:2001:DB8:0:0:0:0:0:1, IP Address:0:0:0:0:0:0:0:1/, /Not After : Jan {2}2 03:04:05 2050 GMT/],
  },
  { name: 'server: a wildcard (UTF8String CN: "*" is not in PrintableString)', req: { identifiers: [dns('*.example.com'), dns('example.com')] }, text: [/Subject: CN ?= ?\*.example.com\n/] },
  { name: 'server: a name longer than 64 characters: no CN, critical SAN', req: { identifiers: [dns(LONG)] }, text: [/Subject: \n/, /Subject Alternative Name: critical\n/] },
  { name: 'server: a long name first, the CN is the first short one', req: { identifiers: [dns(LONG), dns('short.example.com')] }, text: [/Subject: CN ?= ?short.example.com\n/] },
  { name: 'server: IP addresses only: no CN', req: { identifiers: [ip('198.51.100.7'), ip('2001:db8:85a3::8a2e:370:7334')] }, text: [/Subject Alternative Name: critical\n\s+IP Address:198.51.100.7, IP Address:2001:DB8:85A3:0:0:8A2E:370:7334/] },
  { name: 'server: omitCommonName', req: { identifiers: [dns('example.com')], usage: { extendedKeyUsage: ['serverAuth'], keyEncipherment: false, omitCommonName: true } }, text: [/Subject: \n/, /Extended Key Usage: \n\s+TLS Web Server Authentication\n/] },
  { name: 'server: EKU clientAuth only', req: { identifiers: [dns('client.example.com')], usage: { extendedKeyUsage: ['clientAuth'], keyEncipherment: true, omitCommonName: false } }, text: [/Extended Key Usage: \n\s+TLS Web Client Authentication\n/] },
  { name: 'server: an RSA key, built-in profile: keyEncipherment', req: { identifiers: [dns('rsa.example.com')], spki: KEYS.rsa }, text: [/Digital Signature, Key Encipherment/] },
  { name: 'server: an RSA key, a profile without keyEncipherment', req: { identifiers: [dns('rsa.example.com')], spki: KEYS.rsa, usage: { extendedKeyUsage: ['serverAuth'], keyEncipherment: false, omitCommonName: false } }, text: [/Key Usage: critical\n\s+Digital Signature\n/] },
  { name: 'server: an RSA key, a profile with keyEncipherment', req: { identifiers: [dns('rsa.example.com')], spki: KEYS.rsa, usage: { extendedKeyUsage: ['serverAuth', 'clientAuth'], keyEncipherment: true, omitCommonName: false } }, text: [/Digital Signature, Key Encipherment/] },
  { name: 'server: an EC key, a profile with keyEncipherment (RSA only)', req: { identifiers: [dns('ec.example.com')], usage: { extendedKeyUsage: ['serverAuth'], keyEncipherment: true, omitCommonName: false } }, text: [/Key Usage: critical\n\s+Digital Signature\n/] },
  { name: 'server: an Ed25519 key', req: { identifiers: [dns('ed.example.com')], spki: KEYS.ed25519 }, text: [/Public Key Algorithm: ED25519/] },
  { name: 'server: a serial with its high bit set, a notBefore with milliseconds', req: { identifiers: [dns('example.com')], serial: 'f00dfeedc0ffee0123456789abcdef01', notBefore: new Date('2026-03-01T10:00:00.999Z') }, text: [/Serial Number:\s+f0:0d:fe:ed:c0:ff:ee:01/, /Not Before: Mar {2}1 10:00:00 2026 GMT/] },
  { name: 'device: permanent-identifier', req: { profile: 'device', identifiers: [perm('C02XK1ZJJGH5')] }, text: [/Subject: CN ?= ?C02XK1ZJJGH5\n/, /Extended Key Usage: \n\s+TLS Web Client Authentication\n/] },
  { name: 'device: permanent-identifier with an assigner', req: { profile: 'device', identifiers: [perm('C02XK1ZJJGH5/1.2.840.113635.100.8.2')] }, text: [/Subject: CN ?= ?C02XK1ZJJGH5\/1.2.840.113635.100.8.2\n/] },
  { name: 'device: hardware-module', req: { profile: 'device', identifiers: [{ type: 'hardware-module', value: 'SN-0042/1.3.6.1.4.1.311.21.20' }] }, text: [/Subject: CN ?= ?SN-0042\/1.3.6.1.4.1.311.21.20\n/] },
  { name: 'device: privacy-preserving (no identifier SAN, CN the key hash)', req: { profile: 'device', privacy: true, identifiers: [perm('C02XK1ZJJGH5')] }, text: [new RegExp(`Subject: CN ?= ?${createHash('sha256').update(KEYS.p256).digest('hex')}\\n`)] },
  { name: 'device: an identifier longer than 64 characters: no CN, critical SAN', req: { profile: 'device', identifiers: [perm('D'.repeat(65))] }, text: [/Subject: \n/, /Subject Alternative Name: critical\n/] },
  { name: 'device: identifiers outside PrintableString (UTF8String CN)', req: { profile: 'device', identifiers: [perm('Gerät_Ü1')] }, text: [/Subject: CN ?= ?Ger/] },
  { name: 'device: an RSA key (keyEncipherment; a server profile’s usage does not apply)', req: { profile: 'device', identifiers: [perm('RSA-DEVICE-1')], spki: KEYS.rsa, usage: { extendedKeyUsage: ['serverAuth'], keyEncipherment: false, omitCommonName: true } }, text: [/Digital Signature, Key Encipherment/, /Subject: CN ?= ?RSA-DEVICE-1\n/] },
];

function request(c: Case): LeafRequest {
  return { serial: newSerial(), spki: KEYS.p256, notBefore: NOW, notAfter: new Date(NOW.getTime() + 90 * DAY), profile: 'server', ...c.req };
}

async function openssl(args: string[]): Promise<string> {
  const r = await runTool('openssl', args);
  assert.equal(r.code, 0, `openssl ${args.join(' ')} failed:\n${r.stderr}${r.stdout}`);
  return r.stdout + r.stderr;
}

const ISSUERS: { keyType: KeyType; algorithm: RegExp }[] = [
  { keyType: 'ec-p256', algorithm: /Signature Algorithm: ecdsa-with-SHA256/ },
  { keyType: 'ec-p384', algorithm: /Signature Algorithm: ecdsa-with-SHA384/ },
  { keyType: 'rsa-2048', algorithm: /Signature Algorithm: sha256WithRSAEncryption/ },
];

for (const { keyType, algorithm } of ISSUERS) {
  describe(`certificates signed by a ${keyType} issuer`, () => {
    let h: Hierarchy;
    let ca: CertificateAuthority;
    let issuer: X509Certificate;
    const files = () => caFiles(path.join(dir, keyType));

    before(async () => {
      h = await createHierarchy({ dir: path.join(dir, keyType), keyType, passphrase: 'leaf-der test', organization: 'Leaf DER', now: NOW });
      ca = await CertificateAuthority.create(h, URLS);
      issuer = new X509Certificate(ca.issuerDer);
    });

    /** The certificate, checked by node (issued by, signed by the issuer) and by openssl (chain to the root); openssl's text of it. */
    async function check(der: Buffer, name: string, purpose?: string): Promise<string> {
      const cert = new X509Certificate(der);
      assert.ok(cert.checkIssued(issuer), 'names and key identifiers match the issuer');
      assert.ok(cert.verify(issuer.publicKey), 'the issuer’s key verifies the signature');
      assert.ok(ca.issued(der));
      const file = path.join(dir, `${keyType}-${name.replace(/[^a-z0-9]+/gi, '-')}.pem`);
      writeFileSync(file, toPem(der));
      const { roots, issuer: issuerPem } = files();
      // At a fixed time within every certificate's validity, so that the test does not age.
      const at = String(Math.floor(NOW.getTime() / 1000) + 3600);
      assert.match(await openssl(['verify', '-attime', at, '-CAfile', roots, '-untrusted', issuerPem, ...(purpose ? ['-purpose', purpose] : []), file]), /: OK\n/);
      const text = await openssl(['x509', '-in', file, '-noout', '-text']);
      assert.match(text, algorithm);
      return text;
    }

    for (const c of CASES) {
      test(c.name, async () => {
        const req = request(c);
        const der = await ca.issue(req);
        const ours = splitSigned(der);
        const reference = await peculiarLeaf(h, ca.issuerId, req);
        const theirs = splitSigned(reference);
        assert.equal(Buffer.from(ours.tbs).toString('hex'), Buffer.from(theirs.tbs).toString('hex'));
        assert.equal(Buffer.from(ours.algorithm).toString('hex'), Buffer.from(theirs.algorithm).toString('hex'));
        // PKCS #1 v1.5 signatures are deterministic: with an RSA issuer the whole certificate is the same.
        if (keyType === 'rsa-2048') assert.deepEqual(der, reference);
        const device = req.profile === 'device';
        const text = await check(der, c.name, device ? 'sslclient' : undefined);
        for (const re of c.text) assert.match(text, re);
        assert.match(text, /Basic Constraints: critical\n\s+CA:FALSE\n/);
        assert.match(text, /Authority Information Access: \n\s+OCSP - URI:https:\/\/localhost:8443\/ocsp\n\s+CA Issuers - URI:https:\/\/localhost:8443\/ca\/issuer.der\n/);
        assert.match(text, new RegExp(`CRL Distribution Points: \\n\\s+Full Name:\\n\\s+URI:https://localhost:8443/crl/${ca.issuerId}`));
        if (req.privacy) assert.doesNotMatch(text, /Subject Alternative Name/);
        else assert.match(text, /Subject Alternative Name/);
      });
    }

    test('the delegated OCSP signing certificate', async () => {
      const req: OcspSignerRequest = { serial: newSerial(), spki: KEYS.p256, notBefore: NOW, notAfter: new Date(NOW.getTime() + 7 * DAY) };
      const der = await ca.issueOcspSigner(req);
      const reference = await peculiarOcspSigner(h, ca.issuerId, req);
      assert.equal(Buffer.from(splitSigned(der).tbs).toString('hex'), Buffer.from(splitSigned(reference).tbs).toString('hex'));
      if (keyType === 'rsa-2048') assert.deepEqual(der, reference);
      const text = await check(der, 'ocsp-signer', 'ocsphelper');
      assert.match(text, /Subject: CN ?= ?Leaf DER Intermediate CA OCSP Responder\n/);
      assert.match(text, /Extended Key Usage: \n\s+OCSP Signing\n/);
      assert.match(text, /OCSP No Check: \n/);
    });
  });
}

describe('device identifiers the library read as RFC 4514 text', () => {
  // @peculiar/x509's Name treated a value given as JSON like a string DN: a leading "#" made the rest
  // hex (X.690 bytes put in as they were), quotes were taken off and backslash escapes undone. A
  // device identifier is none of that; ca/leaf.ts writes it into the CN as the order names it, as
  // the SAN does. The library's CN for each is shown, to say what changed.
  let h: Hierarchy;
  let ca: CertificateAuthority;
  before(async () => {
    h = await createHierarchy({ dir: path.join(dir, 'quirks'), keyType: 'ec-p256', passphrase: 'leaf-der test', organization: 'Leaf DER', now: NOW });
    ca = await CertificateAuthority.create(h, URLS);
  });
  for (const [value, libraryCn] of [
    ['#0c03616263', utf8String('abc')],
    ['"quoted"', printableString('quoted')],
    ['back\\slash', printableString('backslash')],
  ] as const) {
    test(`${value}: the CN and the SAN hold the identifier as it is`, async () => {
      const req: LeafRequest = { serial: newSerial(), spki: KEYS.p256, identifiers: [perm(value)], notBefore: NOW, notAfter: new Date(NOW.getTime() + DAY), profile: 'device' };
      const der = await ca.issue(req);
      assert.ok(certificateFields(der).subject.includes(utf8String(value)));
      assert.ok(der.includes(permanentIdentifierName(value)));
      assert.ok(new X509Certificate(der).verify(new X509Certificate(ca.issuerDer).publicKey));
      const reference = certificateFields(await peculiarLeaf(h, ca.issuerId, req)).subject;
      assert.ok(reference.includes(libraryCn) && !reference.includes(utf8String(value)));
    });
  }
});

describe('refusals', () => {
  let ca: CertificateAuthority;
  before(async () => {
    ca = await CertificateAuthority.create(await createHierarchy({ dir: path.join(dir, 'refusals'), keyType: 'ec-p256', passphrase: 'leaf-der test', organization: 'Leaf DER', now: NOW }), URLS);
  });
  const base = (): LeafRequest => ({ serial: newSerial(), spki: KEYS.p256, identifiers: [dns('example.com')], notBefore: NOW, notAfter: new Date(NOW.getTime() + DAY), profile: 'server' });
  const cases: { name: string; change: Partial<LeafRequest>; error: RegExp }[] = [
    { name: 'an SPKI with bytes after it', change: { spki: Buffer.concat([KEYS.p256, Buffer.from([0])]) }, error: /not a single DER SubjectPublicKeyInfo/ },
    { name: 'an SPKI that is not one', change: { spki: Buffer.from('30050500030100', 'hex') }, error: /not a DER SubjectPublicKeyInfo/ },
    { name: 'a DNS name outside IA5String', change: { identifiers: [dns('bücher.example')] }, error: /outside IA5String/ },
    { name: 'an IP identifier that is not an address', change: { identifiers: [ip('192.0.2')] }, error: /not an IP address/ },
    { name: 'a serial that is not lowercase hex', change: { serial: 'ABC' }, error: /not lowercase hex/ },
  ];
  for (const c of cases) {
    test(`issue refuses ${c.name}`, async () => {
      await assert.rejects(ca.issue({ ...base(), ...c.change }), c.error);
    });
  }
});

describe('DER writer and IP pieces', () => {
  const hex = (b: Buffer) => b.toString('hex');
  test('named bits: trailing zero bits dropped, unused bits counted (X.690 §11.2.2)', () => {
    assert.equal(hex(namedBits([0])), '03020780');
    assert.equal(hex(namedBits([0, 2])), '030205a0');
    assert.equal(hex(namedBits([5, 6])), '03020106'); // keyCertSign, cRLSign
    assert.equal(hex(namedBits([8])), '0303070080');
    assert.equal(hex(namedBits([])), '030100');
  });
  test('PrintableString only for its own characters', () => {
    assert.equal(hex(printableString("A-z 0'()+,./:=?")), `130f${Buffer.from("A-z 0'()+,./:=?").toString('hex')}`);
    for (const bad of ['*.example.com', 'a_b', 'ä', 'a@b']) assert.throws(() => printableString(bad), /outside PrintableString/);
  });
  test('IP octets, network order, v4 and v6 (with "::" and an IPv4 tail)', () => {
    assert.equal(hex(ipOctets('192.0.2.1')), 'c0000201');
    assert.equal(hex(ipOctets('2001:db8::1')), '20010db8000000000000000000000001');
    assert.equal(hex(ipOctets('::')), '00000000000000000000000000000000');
    assert.equal(hex(ipOctets('fe80::')), 'fe800000000000000000000000000000');
    assert.equal(hex(ipOctets('::ffff:192.0.2.1')), '00000000000000000000ffffc0000201');
    assert.throws(() => ipOctets('example.com'), /not an IP address/);
  });
});
