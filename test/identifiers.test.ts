// Which identifiers a new order may name, and the problem each refused one gets
// (RFC 8555 §7.1.3–§7.4, RFC 8738 §3, draft-ietf-acme-device-attest-09 §3–§4).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AcmeError } from '../src/errors.js';
import { checkIdentifiers, wildcardBase, type IdentifierPolicy } from '../src/ra/identifiers.js';

const open: IdentifierPolicy = { devices: true, allowlist: [] };
const refused = (ids: { type: string; value: string }[], type: string, detail: RegExp, policy = open) =>
  assert.throws(
    () => checkIdentifiers(ids, policy),
    (err: unknown) => {
      assert.ok(err instanceof AcmeError);
      assert.equal(err.type, type);
      assert.match(err.detail, detail);
      return true;
    },
  );

describe('device identifiers (draft-ietf-acme-device-attest §3, §4)', () => {
  const accepted: [string, string][] = [
    ['permanent-identifier', 'WV0NCDC2TX'],
    ['permanent-identifier', '00006032-001C704A1A92401C'],
    ['permanent-identifier', 'ABCDEF123456/1.2.3.4'],
    ['permanent-identifier', 'serial with spaces and ünïcode'],
    ['permanent-identifier', 'abc/2.999.1'],
    ['hardware-module', 'ABCD/1.2.3.4'],
    ['hardware-module', '00006021-0014182A11C0201E/1.2.840.113635.100.8.9.2'],
  ];
  for (const [type, value] of accepted) {
    test(`accepts ${type} ${value}, unchanged (no case folding)`, () => {
      assert.deepEqual(checkIdentifiers([{ type, value }], open), [{ type, value }]);
    });
  }

  const malformed: [string, string, RegExp][] = [
    ['permanent-identifier', '', /empty device identifier/],
    ['permanent-identifier', '/1.2.3', /empty device identifier/],
    ['permanent-identifier', 'abc/1.40', /not a dotted OID/],
    ['permanent-identifier', 'abc/01.2', /not a dotted OID/],
    ['permanent-identifier', 'abc/1', /not a dotted OID/],
    ['permanent-identifier', 'abc/1.2.03', /not a dotted OID/],
    ['permanent-identifier', 'abc/', /not a dotted OID/],
    ['permanent-identifier', 'a/b/1.2', /more than one/],
    ['permanent-identifier', 'bad\ud800surrogate', /not valid UTF-8/],
    ['hardware-module', 'ABCD', /serial "\/" type-oid/],
    ['hardware-module', '/1.2.3', /empty serial/],
    ['hardware-module', 'ABCD/xyz', /not a dotted OID/],
    ['hardware-module', 'A/B/1.2', /serial "\/" type-oid/],
  ];
  for (const [type, value, detail] of malformed) {
    test(`${type} ${JSON.stringify(value)} is malformed`, () => refused([{ type, value }], 'malformed', detail));
  }

  test('NUL is refused as unsupported rather than stored', () => refused([{ type: 'permanent-identifier', value: 'a\0b' }], 'rejectedIdentifier', /NUL/));

  test('a device cannot share an order with dns names, nor with another device', () => {
    refused([{ type: 'permanent-identifier', value: 'A1' }, { type: 'dns', value: 'a.example.com' }], 'rejectedIdentifier', /cannot be combined/);
    refused([{ type: 'permanent-identifier', value: 'A1' }, { type: 'permanent-identifier', value: 'B2' }], 'rejectedIdentifier', /one device/);
  });

  test('the allowlist is checked at newOrder, on the device part of the value', () => {
    const policy = { devices: true, allowlist: ['WV0NCDC2TX'] };
    assert.equal(checkIdentifiers([{ type: 'permanent-identifier', value: 'WV0NCDC2TX' }], policy).length, 1);
    assert.equal(checkIdentifiers([{ type: 'permanent-identifier', value: 'WV0NCDC2TX/1.2.3' }], policy).length, 1);
    refused([{ type: 'permanent-identifier', value: 'OTHER' }], 'rejectedIdentifier', /not in this CA's device allowlist/, policy);
  });

  test('with device attestation switched off, device identifiers are unsupported', () => {
    refused([{ type: 'permanent-identifier', value: 'A1' }], 'unsupportedIdentifier', /use dns or ip/, { devices: false, allowlist: [] });
  });

  test('several refused identifiers come back as subproblems naming each', () => {
    try {
      checkIdentifiers([{ type: 'permanent-identifier', value: '' }, { type: 'email', value: 'a@b.c' }], open);
      assert.fail('should throw');
    } catch (err) {
      assert.ok(err instanceof AcmeError);
      assert.equal(err.type, 'compound');
      assert.deepEqual(err.subproblems?.map((s) => [s.type, s.identifier?.type]), [['malformed', 'permanent-identifier'], ['unsupportedIdentifier', 'email']]);
    }
  });
});

describe('wildcard DNS names (RFC 8555 §7.1.3)', () => {
  test('a wildcard is accepted, lower-cased, and kept apart from its base name', () => {
    assert.deepEqual(checkIdentifiers([{ type: 'dns', value: '*.Example.COM' }, { type: 'dns', value: 'example.com' }], open), [
      { type: 'dns', value: '*.example.com' },
      { type: 'dns', value: 'example.com' },
    ]);
    assert.deepEqual(checkIdentifiers([{ type: 'dns', value: '*.a.example.com' }, { type: 'dns', value: '*.A.example.com' }], open), [{ type: 'dns', value: '*.a.example.com' }]);
  });

  test('wildcardBase strips "*." from wildcard dns names only', () => {
    assert.equal(wildcardBase({ type: 'dns', value: '*.example.com' }), 'example.com');
    assert.equal(wildcardBase({ type: 'dns', value: 'www.example.com' }), undefined);
    assert.equal(wildcardBase({ type: 'ip', value: '192.0.2.1' }), undefined);
  });

  const refusedNames: [string, RegExp][] = [
    ['*.com', /wildcard base name: DNS name must have at least two labels/],
    ['*', /at least two labels|leftmost label/],
    ['*.*.example.com', /one "\*", as its whole leftmost label/],
    ['a.*.example.com', /only as the whole leftmost label/],
    ['w*.example.com', /only as the whole leftmost label/],
    ['*.bad_label.example.com', /wildcard base name: DNS label "bad_label"/],
    ['*.example.123', /wildcard base name: DNS name ends in a numeric label/],
    [`*.${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(60)}.com`, /longer than 253/],
  ];
  for (const [value, detail] of refusedNames) {
    test(`${value.length > 40 ? `${value.slice(0, 40)}…` : value} is refused`, () => refused([{ type: 'dns', value }], 'rejectedIdentifier', detail));
  }
});
