// The name policy of config `policy`: which identifier types, DNS names and IP addresses this CA
// issues for. Checked at newOrder (RFC 8555 §7.4) and newAuthz (§7.4.1) after the identifiers
// are canonical (ra/identifiers.ts); each refused identifier is one subproblem naming the rule
// that refused it (§6.7.1).
import { BlockList, isIP } from 'node:net';
import type { Identifier } from '../core.js';
import type { Config } from '../config.js';
import type { Subproblem } from '../errors.js';
import { identifierError } from './identifiers.js';

type Policy = Config['policy'];

/** `name` is `rule` or a name under it ("a.example.internal" is under "example.internal"). */
const underRule = (name: string, rule: string): boolean => name === rule || name.endsWith(`.${rule}`);

function blockList(rules: string[]): BlockList {
  const list = new BlockList();
  for (const rule of rules) {
    const [addr, prefix] = rule.trim().split('/') as [string, string | undefined];
    const family = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
    if (prefix === undefined) list.addAddress(addr, family);
    else list.addSubnet(addr, Number(prefix), family);
  }
  return list;
}

/** The first rule of `rules` that contains `ip`, for naming it in the refusal. */
const ipRuleFor = (ip: string, rules: string[]): string | undefined => rules.find((r) => blockList([r]).check(ip, isIP(ip) === 6 ? 'ipv6' : 'ipv4'));

function dnsProblem(policy: Policy, name: string): string | undefined {
  const { allow, deny } = policy.dns;
  // RFC 8555 §7.1.3: "*.base" names every single label under base; it is checked as base, and
  // refused when one of the names it covers is denied (a deny rule one label below base).
  const wildcard = name.startsWith('*.');
  const base = wildcard ? name.slice(2) : name;
  const denied = deny.find((r) => underRule(base, r) || (wildcard && r.endsWith(`.${base}`) && !r.slice(0, -base.length - 1).includes('.')));
  if (denied) return `"${name}" is refused by policy.dns.deny rule "${denied}"`;
  if (allow.length && !allow.some((r) => underRule(base, r))) return `"${name}" is not under any policy.dns.allow rule (${allow.join(', ')})`;
  return undefined;
}

function ipProblem(policy: Policy, ip: string): string | undefined {
  const { allow, deny } = policy.ip;
  const denied = ipRuleFor(ip, deny);
  if (denied) return `${ip} is refused by policy.ip.deny rule "${denied}"`;
  if (allow.length && !ipRuleFor(ip, allow)) return `${ip} is not in any policy.ip.allow range (${allow.join(', ')})`;
  return undefined;
}

/** Throws one problem with a subproblem per identifier the policy refuses; returns if none is. */
export function enforceNamePolicy(policy: Policy, identifiers: Identifier[]): void {
  const problems: Subproblem[] = [];
  for (const id of identifiers) {
    if (!(policy.identifierTypes as string[]).includes(id.type)) {
      // §6.7: a type the server does not issue for is unsupportedIdentifier.
      problems.push({ type: 'unsupportedIdentifier', detail: `identifier type "${id.type}" is not accepted by this CA (policy.identifierTypes: ${policy.identifierTypes.join(', ')})`, identifier: id });
      continue;
    }
    const refused = id.type === 'dns' ? dnsProblem(policy, id.value) : id.type === 'ip' ? ipProblem(policy, id.value) : undefined;
    if (refused) problems.push({ type: 'rejectedIdentifier', detail: refused, identifier: id });
  }
  if (problems.length) throw identifierError(problems);
}
