// The one configuration schema: every key, its default and what is valid. src/config.ts
// reads the sources (file, environment, flags) and checks what spans several keys.
import { isIP } from 'node:net';
import { z } from 'zod';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "90s", "30m", "24h", "7d" → milliseconds. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(text.trim());
  if (!m) return undefined;
  return Number(m[1]) * UNITS[m[2]!]!;
}

const duration = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((v, ctx) => {
      const ms = parseDuration(v);
      if (ms === undefined || ms <= 0) {
        ctx.addIssue({ code: 'custom', message: `expected a duration such as 90s, 30m, 24h or 7d, got "${v}"` });
        return z.NEVER;
      }
      return ms;
    });

/** A duration with no default: absent stays undefined (the caller derives it from another key). */
const optionalDuration = z
  .string()
  .optional()
  .transform((v, ctx) => {
    if (v === undefined) return undefined;
    const ms = parseDuration(v);
    if (ms === undefined || ms <= 0) {
      ctx.addIssue({ code: 'custom', message: `expected a duration such as 24h or 90d, got "${v}"` });
      return z.NEVER;
    }
    return ms;
  });

const hostPort = z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[^:\s]+):\d{1,5}$/, 'expected HOST:PORT, e.g. 0.0.0.0:8443 or [::1]:8443');
const port = z.coerce.number().int().min(1, 'expected a port from 1 to 65535').max(65535, 'expected a port from 1 to 65535');
const httpUrl = z.url({ protocol: /^https?$/, error: 'expected an http(s) URL such as https://ca.example.com' });

/** Attestation statement formats a verifier exists for (src/attestation/). */
export const attestationFormats = ['apple', 'step', 'tpm', 'android-key'] as const;
export type AttestationFormat = (typeof attestationFormats)[number];

export const keyTypes = ['ec-p256', 'ec-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096'] as const;
export type KeyType = (typeof keyTypes)[number];

/** Identifier types an order may name (RFC 8555 §9.7.7, RFC 8738, draft-ietf-acme-device-attest). */
export const identifierTypes = ['dns', 'ip', 'permanent-identifier', 'hardware-module'] as const;

/** A DNS suffix rule: "example.internal" matches that name and every name under it. */
const dnsRule = z
  .string()
  .transform((v) => v.trim().toLowerCase().replace(/\.$/, ''))
  .pipe(z.string().regex(/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$/, 'expected a DNS name such as example.internal (it matches the name and its subdomains)'));

/** An address or CIDR range, IPv4 or IPv6: 10.0.0.0/8, 192.0.2.7, 2001:db8::/32. */
const ipRule = z.string().refine((v) => {
  const [addr, prefix, ...rest] = v.trim().split('/');
  const family = isIP(addr ?? '');
  if (!family || rest.length) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}, 'expected an IP address or CIDR range such as 10.0.0.0/8 or 2001:db8::/32');

/**
 * Extended key usages a profile may give its certificates (RFC 5280 §4.2.1.12): id-kp-serverAuth
 * (1.3.6.1.5.5.7.3.1) and id-kp-clientAuth (1.3.6.1.5.5.7.3.2), the two a TLS CA issues.
 */
export const extendedKeyUsages = ['serverAuth', 'clientAuth'] as const;
export type ExtendedKeyUsage = (typeof extendedKeyUsages)[number];

/** A profile name as clients send it in newOrder's `profile` (draft-ietf-acme-profiles §4). */
const PROFILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * One certificate profile (draft-ietf-acme-profiles): what a certificate ordered under it looks
 * like. Unset keys keep the built-in behaviour: ca.certValidity (device certificates:
 * deviceAttest.certValidity), EKU serverAuth + clientAuth, keyEncipherment for RSA keys, CN = the
 * first DNS name, every identifier type.
 */
const profileSchema = z.strictObject({
  /** Shown to clients in the directory's meta.profiles. */
  description: z.string().min(1, 'expected a short description or a documentation URL, shown to clients in the directory'),
  /** notAfter - notBefore of the profile's certificates, and the longest window a newOrder may ask for. */
  validity: optionalDuration,
  extendedKeyUsage: z
    .array(z.enum(extendedKeyUsages, { error: `expected some of ${extendedKeyUsages.join(', ')} (RFC 5280 §4.2.1.12)` }))
    .min(1, `expected at least one of ${extendedKeyUsages.join(', ')}`)
    .default([...extendedKeyUsages]),
  /** keyUsage keyEncipherment for RSA keys (RSA key exchange, TLS 1.2 and older); false: digitalSignature only. */
  keyEncipherment: z.boolean().default(true),
  /** Leave the subject empty (names only in the SAN extension, as CA/B Forum BR §7.1.4.3 allows). */
  omitCommonName: z.boolean().default(false),
  /** Identifier types an order under this profile may name; others are rejectedIdentifier. */
  identifierTypes: z
    .array(z.enum(identifierTypes, { error: `expected some of ${identifierTypes.join(', ')}` }))
    .min(1, `expected at least one of ${identifierTypes.join(', ')}`)
    .default([...identifierTypes]),
});
export type ProfileConfig = z.output<typeof profileSchema>;

/** A rate limit: at most `count` events per `window`; count 0 means unlimited. */
const limit = (count: number, window: string) =>
  z.strictObject({ count: z.coerce.number().int().min(0, 'expected 0 (unlimited) or more').default(count), window: duration(window) }).prefault({});

/** The schema of the config file; flags and environment variables set the same keys. */
export const configSchema = z.strictObject({
  dataDir: z.string().min(1).default('./data'),
  listen: hostPort.default('0.0.0.0:8443'),
  baseUrl: httpUrl.optional(),
  databaseUrl: z.string().regex(/^postgres(ql)?:\/\//, 'expected a postgres:// URL').optional(),
  tls: z.enum(['auto', 'off'], { error: 'expected "auto" (serve HTTPS) or "off" (plain HTTP behind a TLS proxy)' }).default('auto'),
  tlsCertFile: z.string().optional(),
  tlsKeyFile: z.string().optional(),
  http01Port: port.default(80),
  tlsalpn01Port: port.default(443),
  dnsServer: hostPort.optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Processes serving one listening socket (node:cluster); more than one needs databaseUrl. */
  workers: z.coerce.number().int().min(1, 'expected 1 or more').max(64, 'expected at most 64').default(1),
  ca: z
    .strictObject({
      /** File holding the passphrase that encrypts the CA keys at rest. */
      passphraseFile: z.string().optional(),
      /** Validity of issued end-entity certificates. */
      certValidity: duration('24h'),
      /** notBefore is set this far in the past, for clients whose clocks run slow. */
      backdate: duration('1m'),
      /** Longest notAfter - notBefore a newOrder may ask for (RFC 8555 §7.4); default certValidity. */
      maxValidity: optionalDuration,
      /** How far in the future a newOrder's notBefore may be. */
      maxNotBeforeDelay: duration('7d'),
      /**
       * PEM files of alternate chains (RFC 8555 §7.4.2): each starts with a certificate of the
       * issuer's subject and key signed by another CA (a cross-sign), each certificate signed by
       * the next; served at the certificate URL + "/1", "/2", … and linked rel="alternate".
       */
      alternateChains: z.array(z.string().min(1, 'expected the path of a PEM file')).default([]),
    })
    .prefault({}),
  acme: z
    .strictObject({
      termsOfService: httpUrl.optional(),
      website: httpUrl.optional(),
      /**
       * Issuer domain names of this CA: advertised in the directory's meta.caaIdentities (RFC 8555
       * §7.1.1) and, when caa.enabled, the names a CAA issue/issuewild property must name.
       */
      caaIdentities: z.array(z.string().regex(/^[A-Za-z0-9](?:-*[A-Za-z0-9])*(?:\.[A-Za-z0-9](?:-*[A-Za-z0-9])*)*$/, 'expected issuer domain names such as ca.example.com (RFC 8659 §4.2)')).default([]),
      /** CAA checking (RFC 8659, RFC 8657) after a dns identifier validates; off by default. */
      caa: z.strictObject({ enabled: z.boolean().default(false) }).prefault({}),
      orderLifetime: duration('7d'),
      authzLifetime: duration('7d'),
      nonceLifetime: duration('1h'),
      /** Largest JWS body accepted, in bytes. */
      maxBodyBytes: z.coerce.number().int().min(1024).max(16 * 1024 * 1024).default(64 * 1024),
      /** How long a claimed validation may run before another instance takes it over. */
      validationLease: duration('30s'),
      http01Timeout: duration('10s'),
      /** Bound on one tls-alpn-01 validation: TCP connect and TLS handshake, all addresses together. */
      tlsalpn01Timeout: duration('10s'),
      /** Bound on each DNS query of a validation (A/AAAA, TXT, CAA); the resolver tries twice. */
      dnsTimeout: duration('5s'),
      /** RFC 8555 §7.3.4. off: accounts need no binding (one sent anyway is checked); required: every new account needs one. */
      externalAccountBinding: z.enum(['off', 'required'], { error: 'expected "off" or "required"' }).default('off'),
      /** How long a valid authorization serves new orders of its account (RFC 8555 §7.4); "off" = never reused. */
      authzReuse: z
        .string()
        .default('30d')
        .transform((v, ctx) => {
          const ms = v === 'off' ? 0 : parseDuration(v);
          if (ms === undefined || ms < 0) {
            ctx.addIssue({ code: 'custom', message: `expected "off" or a duration such as 30d or 8h, got "${v}"` });
            return z.NEVER;
          }
          return ms;
        }),
      /** How long a challenge response waits for its validation before answering 'processing'. */
      validationWait: z
        .string()
        .default('2s')
        .transform((v, ctx) => {
          const ms = v === '0' ? 0 : parseDuration(v);
          if (ms === undefined) {
            ctx.addIssue({ code: 'custom', message: `expected 0 or a duration such as 500ms or 2s, got "${v}"` });
            return z.NEVER;
          }
          return ms;
        }),
      /** Certificate profiles offered in the directory's meta.profiles (draft-ietf-acme-profiles); empty: none. */
      profiles: z.record(z.string(), profileSchema).default({}),
      /** The profile of an order whose newOrder names none; required when profiles are configured. */
      defaultProfile: z.string().optional(),
    })
    .superRefine((acme, ctx) => {
      const names = Object.keys(acme.profiles);
      for (const name of names.filter((n) => !PROFILE_NAME.test(n))) {
        ctx.addIssue({ code: 'custom', path: ['profiles', name], message: 'a profile name is letters, digits, ".", "_" and "-", at most 64, such as tls-server' });
      }
      if (acme.defaultProfile === undefined && names.length) {
        ctx.addIssue({ code: 'custom', path: ['defaultProfile'], message: `name the profile an order gets when its newOrder names none: one of ${names.join(', ')}` });
      } else if (acme.defaultProfile !== undefined && !names.includes(acme.defaultProfile)) {
        const fix = names.length ? `name one of acme.profiles (${names.join(', ')})` : 'configure acme.profiles, or remove acme.defaultProfile';
        ctx.addIssue({ code: 'custom', path: ['defaultProfile'], message: `"${acme.defaultProfile}" is not a configured profile; ${fix}` });
      }
    })
    .prefault({}),
  /** The CRL of each issuer (RFC 5280 §5), served at <baseUrl>/crl/<issuer-id>.crl. */
  crl: z
    .strictObject({
      /** nextUpdate is thisUpdate plus this: how long relying parties may use a CRL (RFC 5280 §5.1.2.5). */
      validity: duration('24h'),
      /** A new CRL is signed at least this often, and on every revocation. Shorter than validity. */
      refresh: duration('1h'),
      /** How often each instance looks for a revocation recorded elsewhere (attestca revoke, another instance). */
      checkInterval: duration('10s'),
    })
    .prefault({}),
  /** The OCSP responder (RFC 6960) at <baseUrl>/ocsp, signing with a delegated certificate. */
  ocsp: z
    .strictObject({
      /** nextUpdate of each response is its thisUpdate plus this (RFC 6960 §4.2.2.1). */
      responseValidity: duration('1h'),
      /** Validity of the delegated OCSP signing certificate; it is renewed when a third of it is left. */
      signerValidity: duration('30d'),
    })
    .prefault({}),
  /** Which identifiers this CA issues for, checked at newOrder and newAuthz (ra/policy.ts). */
  policy: z
    .strictObject({
      /** Identifier types accepted; the device types also need deviceAttest.formats. */
      identifierTypes: z.array(z.enum(identifierTypes, { error: `expected some of ${identifierTypes.join(', ')}` })).default([...identifierTypes]),
      /** Suffix rules: a rule matches the name and its subdomains. allow empty = any name; deny wins. */
      dns: z.strictObject({ allow: z.array(dnsRule).default([]), deny: z.array(dnsRule).default([]) }).prefault({}),
      /** Addresses or CIDR ranges, IPv4 and IPv6. allow empty = any address; deny wins. */
      ip: z.strictObject({ allow: z.array(ipRule).default([]), deny: z.array(ipRule).default([]) }).prefault({}),
    })
    .prefault({}),
  /**
   * Rate limits (RFC 8555 §6.6), counted in the database so they hold across instances; an
   * exceeded limit is answered rateLimited (429) with Retry-After.
   */
  limits: z
    .strictObject({
      /** newOrder requests per account. */
      ordersPerAccount: limit(300, '3h'),
      /** Accounts created per client IP address. */
      accountsPerIp: limit(50, '3h'),
      /** Certificates per identifier (the exact name or address), counted at finalize. */
      certificatesPerName: limit(50, '7d'),
      /** Pending, unexpired authorizations one account may hold; 0 = unlimited. */
      pendingAuthorizationsPerAccount: z.coerce.number().int().min(0, 'expected 0 (unlimited) or more').default(1000),
    })
    .prefault({}),
  /** device-attest-01 (draft-ietf-acme-device-attest): policy for permanent-identifier and hardware-module orders. */
  deviceAttest: z
    .strictObject({
      /** Formats accepted; remove one to refuse its statements. */
      formats: z.array(z.enum(attestationFormats, { error: `expected some of ${attestationFormats.join(', ')}` })).default([...attestationFormats]),
      /**
       * Trust anchors per format, PEM files, replacing the built-in roots of that format (Apple
       * Enterprise Attestation Root, Yubico's PIV roots, Google's attestation roots). tpm has no
       * built-in roots: give the CA that issues your TPMs' AK certificates.
       */
      roots: z.partialRecord(z.enum(attestationFormats, { error: `expected a format: ${attestationFormats.join(', ')}` }), z.union([z.string(), z.array(z.string())])).default({}),
      /**
       * required: a device must present a valid attestation. optional: a device that sends none
       * is accepted if its identifier is on the allowlist (no key binding then).
       */
      attestation: z.enum(['required', 'optional']).default('required'),
      /** Serial numbers / UDIDs / identifier values allowed; empty means any attested device. */
      allowlist: z.array(z.string().min(1)).default([]),
      /** Refuse attestations whose OS version is below this (Apple osVersion, Android osVersion). */
      minimumOsVersion: z.string().regex(/^\d+(\.\d+)*$/, 'expected a version such as 17.4').optional(),
      /**
       * draft-ietf-acme-device-attest-09 §3: issue certificates that do not name the device (no
       * PermanentIdentifier/HardwareModuleName SAN), and refuse CSRs that ask for one.
       */
      privacyPreserving: z.boolean().default(false),
      /** Accept YubiKeys whose f9 certificate lacks basicConstraints (firmware 4.3.x, 5.2.4). */
      allowYubikeyF9WithoutBasicConstraints: z.boolean().default(false),
      /** Validity of device certificates. */
      certValidity: duration('365d'),
    })
    .prefault({}),
}).superRefine((config, ctx) => {
  // A profile's validity is also the longest window its orders may ask for, so it stays within
  // ca.maxValidity. It shapes dns/ip certificates only: device certificates keep the built-in
  // device profile (deviceAttest.certValidity), so on a device-only profile it would do nothing.
  const serverMax = config.ca.maxValidity ?? config.ca.certValidity;
  for (const [name, p] of Object.entries(config.acme.profiles)) {
    if (p.validity === undefined) continue;
    const path = ['acme', 'profiles', name, 'validity'];
    if (!p.identifierTypes.some((t) => t === 'dns' || t === 'ip')) {
      ctx.addIssue({ code: 'custom', path, message: 'a profile for device identifiers only has no validity of its own: device certificates last deviceAttest.certValidity; remove it' });
    } else if (p.validity > serverMax) {
      ctx.addIssue({ code: 'custom', path, message: `longer than ca.maxValidity${config.ca.maxValidity === undefined ? ' (default: ca.certValidity)' : ''}; shorten it or raise ca.maxValidity` });
    }
  }
});
