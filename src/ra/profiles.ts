// Certificate profiles (draft-ietf-acme-profiles): which profile an order is issued under, and
// what the profile allows. With no acme.profiles configured nothing changes: orders carry no
// profile, the directory advertises none (as Boulder does when it has none), and certificates get
// the built-in server or device profile. With profiles, an order names one in newOrder or gets
// acme.defaultProfile (the draft RECOMMENDS associating one with every order, §4), and keeps it:
// a later change of acme.defaultProfile does not move existing orders.
import type { Identifier } from '../core.js';
import type { Config } from '../config.js';
import type { ProfileConfig } from '../config-schema.js';
import { AcmeError, type Subproblem } from '../errors.js';

const shown = (name: string): string => JSON.stringify(name.slice(0, 64));

/** What profiles this CA offers, for the refusal messages. */
function offered(config: Config): string {
  const names = Object.keys(config.acme.profiles);
  return names.length ? `this CA offers ${names.join(', ')} (the directory's meta.profiles)` : 'this CA offers no profiles: leave "profile" out of newOrder';
}

/**
 * The profile a newOrder is created under: the one it names, else acme.defaultProfile; null when
 * no profiles are configured. A name the directory does not advertise is invalidProfile (§4).
 */
export function selectProfile(config: Config, requested: string | undefined): string | null {
  if (requested === undefined) return config.acme.defaultProfile ?? null;
  if (!Object.hasOwn(config.acme.profiles, requested)) throw new AcmeError('invalidProfile', `profile ${shown(requested)} is not offered; ${offered(config)}`);
  return requested;
}

/**
 * The configuration of an order's profile (undefined: built-in). An order created under a profile
 * that has since been removed from acme.profiles is invalidProfile: the CA no longer issues under
 * it (draft-ietf-acme-profiles §4, finalize).
 */
export function profileConfig(config: Config, name: string | null): ProfileConfig | undefined {
  if (name === null) return undefined;
  const profile = Object.hasOwn(config.acme.profiles, name) ? config.acme.profiles[name] : undefined;
  if (!profile) throw new AcmeError('invalidProfile', `this CA no longer issues under the order's profile ${shown(name)}; ${offered(config)}; create a new order`);
  return profile;
}

/**
 * The identifier types of the profile (acme.profiles.<name>.identifierTypes). A request whose
 * identifiers the profile cannot issue for is incompatible with it, and draft-ietf-acme-profiles
 * §4 makes that invalidProfile; one rejectedIdentifier subproblem per identifier of another type
 * (RFC 8555 §6.7.1) tells the client which identifier to drop or which profile to pick.
 */
export function enforceProfileIdentifiers(config: Config, name: string | null, identifiers: Identifier[]): void {
  const profile = profileConfig(config, name);
  if (!profile) return;
  const allowed = profile.identifierTypes as string[];
  const problems: Subproblem[] = identifiers
    .filter((id) => !allowed.includes(id.type))
    .map((id) => ({
      type: 'rejectedIdentifier',
      detail: `profile "${name}" does not issue for ${id.type} identifiers (acme.profiles.${name}.identifierTypes: ${allowed.join(', ')}); choose another profile`,
      identifier: id,
    }));
  if (problems.length === 1) throw new AcmeError('invalidProfile', problems[0]!.detail, { subproblems: problems });
  if (problems.length) throw new AcmeError('invalidProfile', `profile "${name}" cannot issue for ${problems.length} of these identifiers; see subproblems`, { subproblems: problems });
}
