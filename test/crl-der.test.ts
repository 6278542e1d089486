// The CRL's DER, assembled by ca/crl.ts, for each kind of issuer key the CA supports: its
// to-be-signed part must equal, byte for byte, what @peculiar/x509's X509CrlGenerator (which the
// CA used before) makes of the same content, and openssl must verify the signature against the
// issuer certificate and read back every entry, date and reason. Also the DER writer's edges
// (integer signs, UTCTime/GeneralizedTime years, long lengths) and the refusals (a serial listed
// twice, an unassigned reason code).
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AsnConvert } from '@peculiar/asn1-schema';
import { CRLNumber, TBSCertList } from '@peculiar/asn1-x509';
import { AcmeUrls } from '../src/acme/urls.js';
import { CertificateAuthority } from '../src/ca/authority.js';
import type { CrlContent } from '../src/ca/crl.js';
import { caFiles, createHierarchy, type Hierarchy } from '../src/ca/hierarchy.js';
import { toSigningKey } from '../src/ca/keys.js';
import type { KeyType } from '../src/config-schema.js';
import { children, readTlv, splitSigned } from '../src/pki/der.js';
import { integerFromHex, oid, time, tlv } from '../src/pki/der-write.js';
import { OID } from '../src/pki/oids.js';
import { x509 } from '../src/pki/x509.js';
import { runTool } from './helpers/revocation.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'attestca-crl-der-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const NOW = new Date('2026-03-01T10:00:00Z');

// Entries covering each encoding choice: a serial whose high bit is set (a 00 octet goes in front),
// one spelt with a leading zero octet, one of odd length; unspecified (no reasonCode extension)
// and assigned codes up to aACompromise (10); the last second of UTCTime and the first of
// GeneralizedTime (RFC 5280 §5.1.2.4), a date in the 1900s, and a fraction of a second to drop.
const CONTENT: CrlContent = {
  number: 42,
  thisUpdate: new Date('2049-12-31T12:00:00.750Z'),
  nextUpdate: new Date('2050-01-07T12:00:00Z'),
  entries: [
    { serial: '8f0102030405060708090a0b0c0d0e0f', revokedAt: new Date('2049-12-31T23:59:59Z'), reason: 0 },
    { serial: '1234567890abcdef1234567890abcdef', revokedAt: new Date('2050-01-01T00:00:00Z'), reason: 1 },
    { serial: '00c3', revokedAt: new Date('1999-06-30T08:00:00.999Z'), reason: 4 },
    { serial: 'abc', revokedAt: new Date('2026-02-28T23:00:00Z'), reason: 10 },
  ],
};

/**
 * X509CrlGenerator writes an empty crlEntryExtensions SEQUENCE (30 00) into an entry without a
 * reason; RFC 5280 §5.1 (Extensions ::= SEQUENCE SIZE (1..MAX) OF Extension) does not allow one,
 * and ca/crl.ts leaves the field out (§5.3.1). The reference drops it, re-encoded by asn1-schema.
 */
function withoutEmptyEntryExtensions(tbs: Uint8Array): Buffer {
  const parsed = AsnConvert.parse(tbs, TBSCertList);
  for (const entry of parsed.revokedCertificates ?? []) if (entry.crlEntryExtensions?.length === 0) delete entry.crlEntryExtensions;
  return Buffer.from(AsnConvert.serialize(parsed));
}

/** The CRL as @peculiar/x509 builds it from the same content: the reference for the TBS bytes. */
async function peculiarCrl(h: Hierarchy, content: CrlContent): Promise<Buffer> {
  const signer = await toSigningKey(h.issuerKey);
  const issuerPublic = await x509.PublicKey.create(createPublicKey(h.issuerKey).export({ type: 'spki', format: 'der' }));
  const crl = await x509.X509CrlGenerator.create({
    issuer: h.issuerCert.subjectName,
    thisUpdate: content.thisUpdate,
    nextUpdate: content.nextUpdate,
    signingKey: signer.cryptoKey,
    signingAlgorithm: signer.algorithm,
    extensions: [await x509.AuthorityKeyIdentifierExtension.create(issuerPublic), new x509.Extension(OID.crlNumber, false, AsnConvert.serialize(new CRLNumber(content.number)))],
    entries: content.entries.map((e) => ({ serialNumber: e.serial, revocationDate: e.revokedAt, ...(e.reason === 0 ? {} : { reason: e.reason as x509.X509CrlReason }) })),
  });
  return Buffer.from(crl.rawData);
}

async function openssl(args: string[]): Promise<string> {
  const r = await runTool('openssl', args);
  assert.equal(r.code, 0, `openssl ${args.join(' ')} failed:\n${r.stderr}${r.stdout}`);
  return r.stdout + r.stderr;
}

/** openssl verifies the CRL's signature with the issuer certificate, then prints it. */
async function opensslText(der: Buffer, issuerPem: string, name: string): Promise<string> {
  const file = path.join(dir, name);
  writeFileSync(file, der);
  assert.match(await openssl(['crl', '-inform', 'DER', '-in', file, '-CAfile', issuerPem, '-noout']), /verify OK/);
  return openssl(['crl', '-inform', 'DER', '-in', file, '-noout', '-text']);
}

const ISSUERS: { keyType: KeyType; algorithm: RegExp }[] = [
  { keyType: 'ec-p256', algorithm: /Signature Algorithm: ecdsa-with-SHA256/ },
  { keyType: 'ec-p384', algorithm: /Signature Algorithm: ecdsa-with-SHA384/ },
  { keyType: 'rsa-2048', algorithm: /Signature Algorithm: sha256WithRSAEncryption/ },
];

for (const { keyType, algorithm } of ISSUERS) {
  describe(`a CRL signed by a ${keyType} issuer`, () => {
    let h: Hierarchy;
    let ca: CertificateAuthority;
    const issuerPem = () => caFiles(path.join(dir, keyType)).issuer;

    before(async () => {
      h = await createHierarchy({ dir: path.join(dir, keyType), keyType, passphrase: 'crl-der test', organization: 'CRL DER', now: NOW });
      ca = await CertificateAuthority.create(h, new AcmeUrls('https://localhost:8443'));
    });

    test('the TBSCertList and the signature algorithm equal X509CrlGenerator’s', async () => {
      const ours = splitSigned(await ca.signCrl(CONTENT));
      const reference = splitSigned(await peculiarCrl(h, CONTENT));
      assert.equal(Buffer.from(ours.tbs).toString('hex'), withoutEmptyEntryExtensions(reference.tbs).toString('hex'));
      assert.equal(Buffer.from(ours.algorithm).toString('hex'), Buffer.from(reference.algorithm).toString('hex'));
    });

    test('openssl verifies it against the issuer certificate and reads every entry, date and reason', async () => {
      const text = await opensslText(await ca.signCrl(CONTENT), issuerPem(), `${keyType}.crl`);
      assert.match(text, /Version 2/);
      assert.match(text, algorithm);
      assert.match(text, /Last Update: Dec 31 12:00:00 2049 GMT\n\s+Next Update: Jan {2}7 12:00:00 2050 GMT/);
      assert.match(text, /X509v3 CRL Number: \n\s+42\n/);
      assert.match(text, /X509v3 Authority Key Identifier/);
      const entries = text.split('Serial Number: ').slice(1);
      assert.equal(entries.length, 4);
      const expected = [
        ['8F0102030405060708090A0B0C0D0E0F', 'Dec 31 23:59:59 2049 GMT', undefined],
        ['1234567890ABCDEF1234567890ABCDEF', 'Jan  1 00:00:00 2050 GMT', 'Key Compromise'],
        ['C3', 'Jun 30 08:00:00 1999 GMT', 'Superseded'],
        ['0ABC', 'Feb 28 23:00:00 2026 GMT', 'AA Compromise'],
      ] as const;
      for (const [i, [serial, date, reason]] of expected.entries()) {
        const entry = entries[i]!;
        assert.ok(entry.startsWith(`${serial}\n`), entry);
        assert.match(entry, new RegExp(`Revocation Date: ${date}`));
        if (reason) assert.match(entry, new RegExp(`X509v3 CRL Reason Code: \\n\\s+${reason}\\n`));
        else assert.doesNotMatch(entry, /CRL Reason Code/);
      }
    });

    test('with nothing revoked, the revokedCertificates field is absent (RFC 5280 §5.1.2.6)', async () => {
      const empty = { ...CONTENT, entries: [] };
      const der = await ca.signCrl(empty);
      const { tbs } = splitSigned(der);
      // version, signature, issuer, thisUpdate, nextUpdate, [0] crlExtensions: no SEQUENCE in between.
      assert.deepEqual(
        children(tbs, readTlv(tbs, 0)).map((t) => t.tag),
        [0x02, 0x30, 0x30, 0x17, 0x18, 0xa0],
      );
      assert.deepEqual(Buffer.from(tbs), Buffer.from(splitSigned(await peculiarCrl(h, empty)).tbs));
      assert.match(await opensslText(der, issuerPem(), `${keyType}-empty.crl`), /No Revoked Certificates/);
    });
  });
}

describe('refusals', () => {
  let ca: CertificateAuthority;
  before(async () => {
    ca = await CertificateAuthority.create(await createHierarchy({ dir: path.join(dir, 'refusals'), keyType: 'ec-p256', passphrase: 'crl-der test', organization: 'CRL DER', now: NOW }), new AcmeUrls('https://localhost:8443'));
  });
  const cases: { name: string; change: Partial<CrlContent>; error: RegExp }[] = [
    { name: 'one serial twice, however spelt', change: { entries: [CONTENT.entries[1]!, { ...CONTENT.entries[0]!, serial: '00ab' }, { ...CONTENT.entries[0]!, serial: 'ab' }] }, error: /certificate ab is listed twice/ },
    { name: 'an unassigned reason code (7)', change: { entries: [{ ...CONTENT.entries[0]!, reason: 7 }] }, error: /reason 7, which RFC 5280 §5.3.1 does not assign/ },
    { name: 'a serial that is not lowercase hex', change: { entries: [{ ...CONTENT.entries[0]!, serial: 'ABC' }] }, error: /not lowercase hex/ },
    { name: 'serial zero', change: { entries: [{ ...CONTENT.entries[0]!, serial: '0000' }] }, error: /zero, not positive/ },
    { name: 'CRL number zero', change: { number: 0 }, error: /CRL number 0 is not a positive integer/ },
  ];
  for (const c of cases) {
    test(`signCrl refuses ${c.name}`, async () => {
      await assert.rejects(ca.signCrl({ ...CONTENT, ...c.change }), c.error);
    });
  }
});

describe('DER writer edges', () => {
  const hex = (b: Buffer) => b.toString('hex');
  test('INTEGER from hex: minimal, positive', () => {
    for (const [input, der] of [
      ['01', '020101'],
      ['7f', '02017f'],
      ['80', '02020080'],
      ['000080', '02020080'],
      ['abc', '02020abc'],
      ['ff01', '020300ff01'],
    ]) {
      assert.equal(hex(integerFromHex(input!)), der, input);
    }
  });
  test('Time: UTCTime for 1950 to 2049, GeneralizedTime before and after, fractions dropped (RFC 5280 §5.1.2.4)', () => {
    for (const [iso, der] of [
      ['1949-12-31T23:59:59Z', '180f31393439313233313233353935395a'],
      ['1950-01-01T00:00:00Z', '170d3530303130313030303030305a'],
      ['2049-12-31T23:59:59.999Z', '170d3439313233313233353935395a'],
      ['2050-01-01T00:00:00Z', '180f32303530303130313030303030305a'],
    ]) {
      assert.equal(hex(time(new Date(iso!))), der, iso);
    }
  });
  test('OBJECT IDENTIFIER, base 128 (X.690 §8.19)', () => {
    assert.equal(hex(oid(OID.reasonCode)), '0603551d15');
    assert.equal(hex(oid(OID.sha256WithRSAEncryption)), '06092a864886f70d01010b');
    assert.equal(hex(oid(OID.ecdsaWithSHA384)), '06082a8648ce3d040303');
  });
  test('lengths: short form to 127, long form from 128 (X.690 §8.1.3)', () => {
    for (const [n, head] of [
      [127, '047f'],
      [128, '048180'],
      [256, '04820100'],
      [70_000, '0483011170'],
    ] as const) {
      const der = tlv(0x04, Buffer.alloc(n));
      assert.equal(hex(der.subarray(0, head.length / 2)), head);
      assert.equal(der.length, head.length / 2 + n);
      assert.deepEqual(readTlv(der, 0), { tag: 0x04, offset: 0, start: head.length / 2, end: der.length });
    }
  });
});
