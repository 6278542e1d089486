// Which identifiers this server will put in a certificate, and their one canonical spelling.
// dns: RFC 1123 §2.1 host names in A-label form (RFC 5890); ip: RFC 8738 §3 canonical text.
import type { Identifier } from '../core.js';
import { AcmeError, type ProblemType, type Subproblem } from '../errors.js';
import { canonicalIp } from '../pki/ip.js';

/** Boulder's limit; a bigger order is almost always a mistake. */
export const MAX_IDENTIFIERS = 100;

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** The base name of a wildcard name ("*.example.com" → "example.com"), or undefined for any other name. */
export const wildcardBase = (i: Identifier): string | undefined => (i.type === 'dns' && i.value.startsWith('*.') ? i.value.slice(2) : undefined);

/** Why a DNS name is refused, or undefined when it is acceptable. */
function dnsNameProblem(name: string): { type: ProblemType; detail: string } | undefined {
  if (name.length === 0) return { type: 'malformed', detail: 'DNS name is empty' };
  if (name.length > 253) return { type: 'rejectedIdentifier', detail: 'DNS name is longer than 253 characters' };
  if (name.endsWith('.')) return { type: 'malformed', detail: 'DNS name ends in a dot' };
  if (name.startsWith('*.')) {
    // RFC 8555 §7.1.3: one "*" and a full stop, followed by a domain name; so the wildcard is the
    // whole leftmost label and appears nowhere else. The base must itself be an acceptable name
    // of two labels or more, so that "*.com" is refused. Wildcards are validated by dns-01 only
    // (ra/orders.ts).
    const base = name.slice(2);
    if (base.includes('*')) return { type: 'rejectedIdentifier', detail: 'a wildcard name has one "*", as its whole leftmost label (RFC 8555 §7.1.3)' };
    const p = dnsNameProblem(base);
    return p && { type: p.type, detail: `wildcard base name: ${p.detail}` };
  }
  if (name.includes('*')) return { type: 'rejectedIdentifier', detail: 'a "*" is allowed only as the whole leftmost label of a wildcard name, "*.example.com" (RFC 8555 §7.1.3)' };
  if (!/^[\x21-\x7e]+$/.test(name)) return { type: 'rejectedIdentifier', detail: 'DNS name has characters outside printable ASCII; send internationalised names as A-labels (xn--…)' };
  const labels = name.split('.');
  if (labels.length < 2) return { type: 'rejectedIdentifier', detail: 'DNS name must have at least two labels' };
  for (const label of labels) {
    if (!LABEL.test(label)) return { type: 'rejectedIdentifier', detail: `DNS label "${label}" is not letters, digits and inner hyphens of 1 to 63 characters` };
  }
  if (/^\d+$/.test(labels.at(-1)!)) return { type: 'rejectedIdentifier', detail: 'DNS name ends in a numeric label; use an ip identifier for addresses' };
  return undefined;
}

/**
 * An OBJECT IDENTIFIER in dotted form as draft-ietf-acme-device-attest §3 writes it: first arc
 * 0 or 1 with a second arc 0–39, or 2 with any second arc; no leading zeros; two arcs or more.
 */
/** A UTF-16 surrogate without its pair: text that has no UTF-8 encoding. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const OID_TEXT = /^(?:[01]\.(?:[0-9]|[1-3][0-9])|2\.(?:0|[1-9][0-9]*))(?:\.(?:0|[1-9][0-9]*))*$/;

/**
 * Why a permanent-identifier (draft §3: device-identifier-value ["/" assigner-value]) or
 * hardware-module (draft §4: hw-serial-num-value "/" hw-type-value) value is malformed.
 */
function deviceIdentifierProblem(type: 'permanent-identifier' | 'hardware-module', value: string): { type: ProblemType; detail: string } | undefined {
  if (LONE_SURROGATE.test(value)) return { type: 'malformed', detail: `${type} value is not valid UTF-8` };
  // The grammar allows NUL, but no certificate consumer handles it and Postgres text cannot hold it.
  if (value.includes('\0')) return { type: 'rejectedIdentifier', detail: `${type} values with a NUL character are not supported` };
  const parts = value.split('/');
  if (type === 'permanent-identifier') {
    if (parts.length > 2) return { type: 'malformed', detail: 'permanent-identifier value has more than one "/"; its form is device-identifier["/"assigner-oid] (draft-ietf-acme-device-attest §3)' };
    if (!parts[0]) return { type: 'malformed', detail: 'permanent-identifier value has an empty device identifier (draft-ietf-acme-device-attest §3)' };
    if (parts.length === 2 && !OID_TEXT.test(parts[1]!)) return { type: 'malformed', detail: `permanent-identifier assigner "${parts[1]}" is not a dotted OID (draft-ietf-acme-device-attest §3)` };
    return undefined;
  }
  if (parts.length !== 2) return { type: 'malformed', detail: 'hardware-module value must be serial "/" type-oid (draft-ietf-acme-device-attest §4)' };
  if (!parts[0]) return { type: 'malformed', detail: 'hardware-module value has an empty serial number (draft-ietf-acme-device-attest §4)' };
  if (!OID_TEXT.test(parts[1]!)) return { type: 'malformed', detail: `hardware-module type "${parts[1]}" is not a dotted OID (draft-ietf-acme-device-attest §4)` };
  return undefined;
}

export interface IdentifierPolicy {
  /** Whether device identifiers (device-attest-01) are accepted at all. */
  devices: boolean;
  /** Device identifier values allowed; empty means any. */
  allowlist: string[];
}

/** The identifier types that name a device and are validated by device-attest-01. */
export const isDeviceIdentifier = (i: Identifier): boolean => i.type === 'permanent-identifier' || i.type === 'hardware-module';

/**
 * Checks and canonicalises the identifiers of a new order. Duplicates collapse into one.
 * Every refused identifier becomes a subproblem (RFC 8555 §6.7.1).
 */
export function checkIdentifiers(requested: Identifier[], policy: IdentifierPolicy): Identifier[] {
  if (requested.length > MAX_IDENTIFIERS) throw new AcmeError('rejectedIdentifier', `an order may have at most ${MAX_IDENTIFIERS} identifiers, this one has ${requested.length}`);
  const problems: Subproblem[] = [];
  const out = new Map<string, Identifier>();
  for (const id of requested) {
    if (id.type === 'dns') {
      const value = id.value.toLowerCase();
      const p = dnsNameProblem(value);
      if (p) problems.push({ ...p, detail: `${p.detail}: "${id.value}"`, identifier: id });
      else out.set(`dns:${value}`, { type: 'dns', value });
    } else if (id.type === 'ip') {
      const ip = canonicalIp(id.value);
      if (!ip) problems.push({ type: 'malformed', detail: `"${id.value}" is not an IP address`, identifier: id });
      else if (ip !== id.value) problems.push({ type: 'malformed', detail: `IP address "${id.value}" is not in canonical form; send "${ip}" (RFC 8738 §3)`, identifier: id });
      else out.set(`ip:${ip}`, { type: 'ip', value: ip });
    } else if ((id.type === 'permanent-identifier' || id.type === 'hardware-module') && policy.devices) {
      // Device identifiers are compared octet for octet: no case folding (draft §3).
      const p = deviceIdentifierProblem(id.type, id.value);
      const device = id.type === 'permanent-identifier' ? id.value.split('/')[0]! : id.value;
      if (p) problems.push({ ...p, identifier: id });
      else if (policy.allowlist.length && !policy.allowlist.includes(device) && !policy.allowlist.includes(id.value)) {
        problems.push({ type: 'rejectedIdentifier', detail: `device ${id.value} is not in this CA's device allowlist`, identifier: id });
      } else out.set(`${id.type}:${id.value}`, { type: id.type, value: id.value });
    } else {
      const offered = policy.devices ? 'dns, ip, permanent-identifier or hardware-module' : 'dns or ip';
      problems.push({ type: 'unsupportedIdentifier', detail: `identifier type "${id.type}" is not supported; use ${offered}`, identifier: id });
    }
  }
  if (problems.length) throw identifierError(problems);
  const ids = [...out.values()];
  // A device certificate and a server certificate are different profiles (key binding, EKU):
  // one order asks for one of them.
  if (ids.some(isDeviceIdentifier) && !ids.every(isDeviceIdentifier)) {
    throw new AcmeError('rejectedIdentifier', 'device identifiers (permanent-identifier, hardware-module) cannot be combined with dns or ip identifiers in one order');
  }
  if (ids.filter(isDeviceIdentifier).length > 1) {
    throw new AcmeError('rejectedIdentifier', 'an order names one device: give a single permanent-identifier or hardware-module identifier');
  }
  return ids;
}

export function identifierError(problems: Subproblem[]): AcmeError {
  const types = new Set(problems.map((p) => p.type));
  const type: ProblemType = types.size === 1 ? problems[0]!.type : 'compound';
  const detail =
    problems.length === 1 ? problems[0]!.detail : `${problems.length} identifiers were refused: ${problems.map((p) => p.identifier?.value ?? '?').join(', ')}`;
  return new AcmeError(type, detail, { subproblems: problems });
}

export const identifierKey = (i: Identifier): string => `${i.type}:${i.value}`;
