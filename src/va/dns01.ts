// dns-01 validation (RFC 8555 §8.4): a TXT record at _acme-challenge.<name> holds
// base64url(SHA-256(key authorization)). For a wildcard order the name is the base domain: the
// authorization's identifier has no "*." (RFC 8555 §7.1.3).
import { createHash } from 'node:crypto';
import type { Identifier } from '../core.js';
import { AcmeError } from '../errors.js';
import type { DnsResolver } from './resolver.js';

export interface Dns01Options {
  resolver: DnsResolver;
}

/** How much of what was found goes into a problem detail. */
const SHOWN_RECORDS = 5;
const SHOWN_CHARS = 100;

/** RFC 8555 §8.4: the TXT value the client provisions for a key authorization. */
export const dns01Digest = (keyAuthorization: string): string => createHash('sha256').update(keyAuthorization, 'utf8').digest('base64url');

export async function validateDns01(identifier: Identifier, keyAuthorization: string, o: Dns01Options): Promise<void> {
  // RFC 8738 §7: there is no dns-01 for IP identifiers (the ra never offers it; fail closed).
  if (identifier.type !== 'dns') throw new AcmeError('malformed', `dns-01 validates dns identifiers only, not ${identifier.type}`);
  const name = `_acme-challenge.${identifier.value}`;
  const expected = dns01Digest(keyAuthorization);
  // Lookup failures and NXDOMAIN come back from the resolver as `dns` problems.
  const records = await o.resolver.txt(name);
  if (!records.length) throw new AcmeError('dns', `DNS problem: no TXT record found at ${name}`);
  // "one of the TXT records" (§8.4): several may be there at once, e.g. for a name and its wildcard.
  if (records.includes(expected)) return;
  // Records exist and none matches: incorrectResponse ("response received didn't match the
  // challenge's requirements", RFC 8555 §6.7), as http-01 reports a wrong body. Boulder says
  // unauthorized, from before that type existed; the type here tells the client the DNS works
  // and the value is wrong.
  throw new AcmeError('incorrectResponse', `the TXT records at ${name} are ${describe(records)}; none is "${expected}", base64url(SHA-256) of the key authorization`);
}

function describe(records: string[]): string {
  const shown = records.slice(0, SHOWN_RECORDS).map((r) => JSON.stringify(r.length > SHOWN_CHARS ? `${r.slice(0, SHOWN_CHARS)}…` : r));
  const more = records.length > SHOWN_RECORDS ? ` and ${records.length - SHOWN_RECORDS} more` : '';
  return `${shown.join(', ')}${more} (${records.length} record${records.length === 1 ? '' : 's'})`;
}
