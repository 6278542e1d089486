// The validity window of a certificate: what a newOrder may ask for with notBefore/notAfter
// (RFC 8555 §7.4), and the window the certificate gets at issuance. A requested window is issued
// exactly (to the second: X.509 times have no fractions, RFC 5280 §4.1.2.5), clipped only by the
// issuing CA's own expiry; one without a request is the configured validity from issuance.
import type { Config } from '../config.js';
import { AcmeError } from '../errors.js';

// RFC 3339 §5.6 date-time; "T" and "Z" may be lower case.
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|([+-])(\d{2}):(\d{2}))$/;

/** Milliseconds since the epoch of an RFC 3339 date-time, or undefined when it is not one. */
export function parseRfc3339(text: string): number | undefined {
  const m = DATE_TIME.exec(text);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  // A leap second (60) has no place in an X.509 time; a day past the month's end is no date.
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) return undefined;
  if (new Date(Date.UTC(y, mo - 1, d)).getUTCDate() !== d) return undefined;
  const offset = m[9] ? (m[9] === '-' ? -1 : 1) * (Number(m[10]) * 60 + Number(m[11])) * 60_000 : 0;
  if (m[9] && (Number(m[10]) > 23 || Number(m[11]) > 59)) return undefined;
  const fraction = m[7] ? Number(`0${m[7]}`) * 1000 : 0;
  return Date.UTC(y, mo - 1, d, h, mi, s) + fraction - offset;
}

export interface Window {
  notBefore: Date | null;
  notAfter: Date | null;
}

const SECOND = 1000;
const iso = (ms: number): string => new Date(ms).toISOString().replace('.000Z', 'Z');
const human = (ms: number): string => (ms % 86_400_000 === 0 ? `${ms / 86_400_000}d` : ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : `${Math.round(ms / 1000)}s`);

/** Which profile's limits apply: the order's (acme.profiles), null for the built-in ones. */
export interface ProfileRef {
  profile?: string | null | undefined;
}

/**
 * The validity a certificate gets without a requested notAfter, and the longest window a client
 * may ask for, with the key that sets it. Device certificates: deviceAttest.certValidity, whatever
 * the profile. Others: the profile's validity when it has one, fixing both (checked against
 * ca.maxValidity when the config is loaded), else ca.certValidity up to ca.maxValidity.
 */
export function validityLimits(config: Config, ref: ProfileRef, device: boolean): { validity: number; max: number; key: string } {
  if (device) return { validity: config.deviceAttest.certValidity, max: config.deviceAttest.certValidity, key: 'deviceAttest.certValidity' };
  const profile = ref.profile ? config.acme.profiles[ref.profile] : undefined;
  if (profile?.validity !== undefined) return { validity: profile.validity, max: profile.validity, key: `acme.profiles.${ref.profile}.validity` };
  return { validity: config.ca.certValidity, max: config.ca.maxValidity, key: 'ca.maxValidity' };
}

/**
 * Checks a newOrder's notBefore/notAfter against policy and returns them as the certificate will
 * carry them: fractions of a second are rounded inwards, so the certificate never covers more
 * than was asked. Every refusal is malformed and says what would be accepted.
 */
export function requestedWindow(config: Config, req: { notBefore?: string | undefined; notAfter?: string | undefined } & ProfileRef, device: boolean, now: Date, issuerNotAfter: Date): Window {
  const parse = (field: 'notBefore' | 'notAfter', round: (ms: number) => number): number | null => {
    const text = req[field];
    if (text === undefined) return null;
    const ms = parseRfc3339(text);
    if (ms === undefined) throw new AcmeError('malformed', `${field} "${text.slice(0, 64)}" is not an RFC 3339 date-time such as 2030-01-01T00:00:00Z (RFC 8555 §7.4)`);
    return round(ms);
  };
  const notBefore = parse('notBefore', (ms) => Math.ceil(ms / SECOND) * SECOND);
  const notAfter = parse('notAfter', (ms) => Math.floor(ms / SECOND) * SECOND);
  if (notBefore === null && notAfter === null) return { notBefore: null, notAfter: null };

  const t = now.getTime();
  const { backdate, maxNotBeforeDelay } = config.ca;
  if (notBefore !== null) {
    if (notBefore < t - backdate) throw new AcmeError('malformed', `notBefore ${iso(notBefore)} is in the past; this CA backdates by at most ${human(backdate)}`);
    if (notBefore > t + maxNotBeforeDelay) throw new AcmeError('malformed', `notBefore ${iso(notBefore)} is more than ${human(maxNotBeforeDelay)} ahead (ca.maxNotBeforeDelay)`);
    if (notBefore >= issuerNotAfter.getTime()) throw new AcmeError('malformed', `notBefore ${iso(notBefore)} is after the issuing CA expires (${iso(issuerNotAfter.getTime())})`);
  }
  if (notAfter !== null) {
    if (notAfter <= t) throw new AcmeError('malformed', `notAfter ${iso(notAfter)} is not in the future`);
    const from = notBefore ?? t - backdate;
    if (notAfter <= from) throw new AcmeError('malformed', `notAfter ${iso(notAfter)} is not after notBefore ${iso(from)}`);
    const { max, key } = validityLimits(config, req, device);
    if (notAfter - from > max) {
      throw new AcmeError('malformed', `notAfter - notBefore is ${human(notAfter - from)}, more than the ${human(max)} this CA issues (${key})`);
    }
  }
  return { notBefore: notBefore === null ? null : new Date(notBefore), notAfter: notAfter === null ? null : new Date(notAfter) };
}

/**
 * The window a certificate gets when it is signed at `now`: the order's requested bounds where it
 * has them, else notBefore = now - ca.backdate and notAfter = now (or the requested notBefore) +
 * the validity of the order's profile (validityLimits); notAfter never past the issuer's. Undefined when nothing of the
 * window is left (the requested notAfter has passed).
 */
export function certificateWindow(config: Config, order: Window & ProfileRef, device: boolean, now: Date, issuerNotAfter: Date): { notBefore: Date; notAfter: Date } | undefined {
  const { validity } = validityLimits(config, order, device);
  const notBefore = order.notBefore ?? new Date(now.getTime() - config.ca.backdate);
  const wanted = order.notAfter?.getTime() ?? (order.notBefore ?? now).getTime() + validity;
  const notAfter = new Date(Math.min(wanted, issuerNotAfter.getTime()));
  if (notAfter <= notBefore || notAfter <= now) return undefined;
  return { notBefore, notAfter };
}
