// Which identifiers this server will put in a certificate, and their one canonical spelling.
// dns: RFC 1123 §2.1 host names in A-label form (RFC 5890); ip: RFC 8738 §3 canonical text.
import type { Identifier } from '../core.js';
import { AcmeError, type ProblemType, type Subproblem } from '../errors.js';
import { canonicalIp } from '../pki/ip.js';

/** Boulder's limit; a bigger order is almost always a mistake. */
export const MAX_IDENTIFIERS = 100;

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Why a DNS name is refused, or undefined when it is acceptable. */
function dnsNameProblem(name: string): { type: ProblemType; detail: string } | undefined {
  if (name.length === 0) return { type: 'malformed', detail: 'DNS name is empty' };
  if (name.length > 253) return { type: 'rejectedIdentifier', detail: 'DNS name is longer than 253 characters' };
  if (name.endsWith('.')) return { type: 'malformed', detail: 'DNS name ends in a dot' };
  if (name.startsWith('*.')) return { type: 'rejectedIdentifier', detail: 'wildcard names need the dns-01 challenge, which this server does not offer' };
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
 * Checks and canonicalises the identifiers of a new order. Duplicates collapse into one.
 * Every refused identifier becomes a subproblem (RFC 8555 §6.7.1).
 */
export function checkIdentifiers(requested: Identifier[]): Identifier[] {
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
    } else {
      problems.push({ type: 'unsupportedIdentifier', detail: `identifier type "${id.type}" is not supported; use dns or ip`, identifier: id });
    }
  }
  if (problems.length) throw identifierError(problems);
  return [...out.values()];
}

export function identifierError(problems: Subproblem[]): AcmeError {
  const types = new Set(problems.map((p) => p.type));
  const type: ProblemType = types.size === 1 ? problems[0]!.type : 'compound';
  const detail =
    problems.length === 1 ? problems[0]!.detail : `${problems.length} identifiers were refused: ${problems.map((p) => p.identifier?.value ?? '?').join(', ')}`;
  return new AcmeError(type, detail, { subproblems: problems });
}

export const identifierKey = (i: Identifier): string => `${i.type}:${i.value}`;
