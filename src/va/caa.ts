// CAA checking (RFC 8659), with the ACME account and method bindings of RFC 8657. Run by the va
// after a challenge for a dns identifier has succeeded and before the authorization becomes
// valid; off unless acme.caa.enabled. The issuer domain names this CA answers to are
// acme.caaIdentities, the same list the directory advertises (RFC 8555 §7.1.1).
import type { ChallengeType } from '../core.js';
import { AcmeError } from '../errors.js';
import type { CaaRecord, DnsResolver } from './resolver.js';

export interface CaaRequest {
  /** The dns identifier; for a wildcard authorization the base name, without "*.". */
  name: string;
  wildcard: boolean;
  /** The account URL (RFC 8657 §3 compares accounturi with it). */
  accountUri: string;
  /** The challenge that validated the name (RFC 8657 §4 validationmethods). */
  method: ChallengeType;
}

export interface CaaOptions {
  resolver: DnsResolver;
  /** Issuer domain names that mean this CA, compared case-insensitively. */
  identities: string[];
}

/** RFC 8659 §4.1 bit 0 (the MSB) of the flags octet: the issuer critical flag. */
const ISSUER_CRITICAL = 0x80;

/**
 * Property tags this CA understands: issue, issuewild, iodef (RFC 8659 §4.2–§4.4) and
 * contactemail, contactphone (IANA "Certification Authority Restriction Properties", CA/Browser
 * Forum), which restrict nothing. Any other tag marked critical forbids issuance (§4.1).
 */
const UNDERSTOOD = new Set(['issue', 'issuewild', 'iodef', 'contactemail', 'contactphone']);

// RFC 8659 §4.2: issue-value = *WSP [issuer-domain-name *WSP] [";" *WSP [parameters *WSP]]
const LABEL = '[A-Za-z0-9](?:-*[A-Za-z0-9])*';
const ISSUE_VALUE = new RegExp(`^[ \\t]*(${LABEL}(?:\\.${LABEL})*)?[ \\t]*(?:;(.*))?$`, 's');
const PARAMETER = new RegExp(`^[ \\t]*(${LABEL})[ \\t]*=[ \\t]*([\\x21-\\x3a\\x3c-\\x7e]*)[ \\t]*$`);
// RFC 8657 §4: value = [*(label ",") label], label = 1*(ALPHA / DIGIT / "-")
const METHODS = /^(?:[A-Za-z0-9-]+(?:,[A-Za-z0-9-]+)*)?$/;

/** The relevant RRset (RFC 8659 §3) and the name it was found at. */
export async function relevantCaa(name: string, resolver: DnsResolver): Promise<{ at: string; records: CaaRecord[] } | undefined> {
  const labels = name.split('.');
  // Climb from the name itself to the TLD, never the root; the first non-empty RRset decides.
  for (let i = 0; i < labels.length; i++) {
    const at = labels.slice(i).join('.');
    const records = await resolver.caa(at);
    if (records.length) return { at, records };
  }
  return undefined;
}

/** Resolves when CAA allows this CA to issue for the name; throws a `caa` AcmeError naming the record otherwise. */
export async function checkCaa(req: CaaRequest, o: CaaOptions): Promise<void> {
  const found = await relevantCaa(req.name, o.resolver);
  // No CAA record anywhere up to the TLD: any CA may issue (RFC 8659 §3).
  if (!found) return;
  const { at, records } = found;
  const shown = `${req.wildcard ? '*.' : ''}${req.name}`;

  const critical = records.find((r) => (r.flags & ISSUER_CRITICAL) !== 0 && !UNDERSTOOD.has(r.tag));
  if (critical) {
    throw new AcmeError('caa', `CAA record ${show(critical)} at ${at} has the critical flag on a property this CA does not understand, which forbids issuance for ${shown} (RFC 8659 §4.1)`);
  }

  // RFC 8659 §4.3: for a wildcard, issuewild properties replace issue properties when there are
  // any; for other names issuewild is ignored.
  const issuewild = records.filter((r) => r.tag === 'issuewild');
  const relevant = req.wildcard && issuewild.length ? issuewild : records.filter((r) => r.tag === 'issue');
  // An RRset without issue properties (only iodef, say) restricts nothing (RFC 8659 §4).
  if (!relevant.length) return;

  const refusals: string[] = [];
  for (const record of relevant) {
    const why = refusal(record, req, o.identities);
    // Properties add up: one that authorizes this CA, account and method is enough (§4.2).
    if (why === undefined) return;
    refusals.push(`${show(record)} ${why}`);
  }
  throw new AcmeError('caa', `CAA records at ${at} forbid issuance for ${shown} by this CA (${o.identities.join(', ')}): ${refusals.join('; ')}`);
}

/** Why one issue/issuewild property does not authorize this request, or undefined when it does. */
function refusal(record: CaaRecord, req: CaaRequest, identities: string[]): string | undefined {
  const m = ISSUE_VALUE.exec(record.value);
  // A value that does not parse is treated as one naming no issuer (RFC 8659 §4.2).
  if (!m) return 'is malformed, which forbids issuance (RFC 8659 §4.2)';
  const issuer = m[1]?.toLowerCase();
  if (!issuer) return 'names no issuer, which forbids issuance';
  if (!identities.some((id) => id.toLowerCase() === issuer)) return `names ${issuer}, not this CA`;

  const params = new Map<string, string[]>();
  if (m[2] !== undefined && m[2].trim() !== '') {
    for (const part of m[2].split(';')) {
      const p = PARAMETER.exec(part);
      if (!p) return `has a malformed parameter "${part.trim()}", which forbids issuance (RFC 8659 §4.2)`;
      // Parameter tags are matched case-insensitively, so a differently spelt binding still binds.
      const tag = p[1]!.toLowerCase();
      params.set(tag, [...(params.get(tag) ?? []), p[2]!]);
    }
  }

  const accounts = params.get('accounturi') ?? [];
  // RFC 8657 §3: a property with more than one accounturi cannot be satisfied.
  if (accounts.length > 1) return 'has more than one accounturi parameter, which no account satisfies (RFC 8657 §3)';
  if (accounts.length === 1 && accounts[0] !== req.accountUri) return `is bound to account ${accounts[0]}, not ${req.accountUri} (RFC 8657 §3)`;

  const methods = params.get('validationmethods') ?? [];
  // Two lists could be read as a union or an intersection; refusing is the reading that fails closed.
  if (methods.length > 1) return 'has more than one validationmethods parameter, which this CA treats as unsatisfiable';
  if (methods.length === 1) {
    if (!METHODS.test(methods[0]!)) return `has a malformed validationmethods "${methods[0]}" (RFC 8657 §4)`;
    const allowed = methods[0]!.split(',');
    if (!allowed.includes(req.method)) return `allows validation by ${allowed.join(', ') || 'no method'}, not ${req.method} (RFC 8657 §4)`;
  }
  // Parameters are CA-specific (RFC 8659 §4.2); others this CA gives no meaning to restrict nothing.
  return undefined;
}

const show = (r: CaaRecord): string => `${r.flags} ${r.tag} ${JSON.stringify(r.value)}`;
