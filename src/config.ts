// Loading the configuration (STYLE.md habit 6): defaults < config file < environment < flags,
// parsed by the one schema in config-schema.ts. This module is the only reader of process.env and
// of the config file; everything else gets the parsed `Config` passed down. Errors name the key,
// where it can be set, and what is valid.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { configSchema, attestationFormats, type AttestationFormat } from './config-schema.js';

export type FileConfig = z.input<typeof configSchema>;
type Parsed = z.output<typeof configSchema>;

export interface Config extends Omit<Parsed, 'ca' | 'baseUrl' | 'deviceAttest'> {
  baseUrl: string;
  configFile: string | undefined;
  ca: Omit<Parsed['ca'], 'maxValidity' | 'alternateChains'> & {
    passphrase: string | undefined;
    maxValidity: number;
    /** The PEM text of each ca.alternateChains file (read here, once; checked against the issuer by ca/alternate-chains.ts). */
    alternateChains: { file: string; pem: string }[];
  };
  deviceAttest: Omit<Parsed['deviceAttest'], 'roots'> & {
    /** PEM text of the configured roots per format (read here, once); absent = built-in roots. */
    roots: Partial<Record<AttestationFormat, string>>;
  };
}

/** Where each top-level key can be set, for error messages. */
const sources: Record<string, { flag?: string; env?: string }> = {
  dataDir: { flag: '--data-dir', env: 'ATTESTCA_DATA_DIR' },
  listen: { flag: '--listen', env: 'ATTESTCA_LISTEN' },
  baseUrl: { flag: '--base-url', env: 'ATTESTCA_BASE_URL' },
  databaseUrl: { flag: '--database-url', env: 'DATABASE_URL' },
  tls: { flag: '--tls', env: 'ATTESTCA_TLS' },
  tlsCertFile: { flag: '--tls-cert', env: 'ATTESTCA_TLS_CERT' },
  tlsKeyFile: { flag: '--tls-key', env: 'ATTESTCA_TLS_KEY' },
  http01Port: { flag: '--http01-port', env: 'ATTESTCA_HTTP01_PORT' },
  tlsalpn01Port: { flag: '--tlsalpn01-port', env: 'ATTESTCA_TLSALPN01_PORT' },
  dnsServer: { flag: '--dns-server', env: 'ATTESTCA_DNS_SERVER' },
  logLevel: { flag: '--log-level', env: 'ATTESTCA_LOG_LEVEL' },
  workers: { flag: '--workers', env: 'ATTESTCA_WORKERS' },
  'ca.passphraseFile': { flag: '--passphrase-file', env: 'ATTESTCA_CA_PASSPHRASE_FILE' },
  'deviceAttest.roots': { flag: '--attestation-root FORMAT=PEMFILE', env: 'ATTESTCA_ATTESTATION_ROOTS (FORMAT=FILE,…)' },
};

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Values from the command line, already named after config keys (see cli.ts). */
type OverrideKey = 'dataDir' | 'listen' | 'baseUrl' | 'databaseUrl' | 'tls' | 'tlsCertFile' | 'tlsKeyFile' | 'http01Port' | 'tlsalpn01Port' | 'dnsServer' | 'logLevel' | 'workers' | 'ca.passphraseFile';
export type ConfigOverrides = { [K in OverrideKey]?: string | undefined } & {
  /** FORMAT=PEMFILE pairs from repeated --attestation-root flags. */
  attestationRoots?: string[];
};

export interface LoadOptions {
  configFile?: string | undefined;
  overrides?: ConfigOverrides;
  env?: NodeJS.ProcessEnv;
}

function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`config file ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)}); pass an existing file with --config or ATTESTCA_CONFIG`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`config file ${file} is not valid YAML or JSON: ${(err as Error).message}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError(`config file ${file} must hold a mapping of keys (dataDir, listen, acme, …) at the top level`);
  return doc as Record<string, unknown>;
}

function setPath(target: Record<string, unknown>, key: string, value: string): void {
  const parts = key.split('.');
  let node = target;
  for (const p of parts.slice(0, -1)) {
    if (typeof node[p] !== 'object' || node[p] === null) node[p] = {};
    node = node[p] as Record<string, unknown>;
  }
  node[parts.at(-1)!] = value;
}

function describeIssue(issue: z.core.$ZodIssue, fileName: string | undefined): string {
  const key = issue.path.join('.');
  if (issue.code === 'unrecognized_keys') {
    const where = key ? `under "${key}"` : 'at the top level';
    return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')} ${where}${fileName ? ` of ${fileName}` : ''}; remove ${issue.keys.length > 1 ? 'them' : 'it'} or fix the spelling (see config/attestca.example.yaml for every key)`;
  }
  const src = sources[key];
  const where = [src?.flag, src?.env, `"${key}" in the config file`].filter(Boolean).join(', ');
  return `${key || '(root)'}: ${issue.message} (set by ${where})`;
}

export function loadConfig(options: LoadOptions = {}): Config {
  const env = options.env ?? process.env;
  const configFile = options.configFile ?? env.ATTESTCA_CONFIG;
  const raw: Record<string, unknown> = configFile ? readConfigFile(configFile) : {};

  const rootPairs = [...(env.ATTESTCA_ATTESTATION_ROOTS ? env.ATTESTCA_ATTESTATION_ROOTS.split(',') : []), ...(options.overrides?.attestationRoots ?? [])];
  for (const pair of rootPairs) {
    const m = /^([a-z-]+)=(.+)$/.exec(pair.trim());
    if (!m) throw new ConfigError(`--attestation-root: expected FORMAT=PEMFILE (FORMAT one of ${attestationFormats.join(', ')}), got "${pair}"`);
    const da = (raw.deviceAttest ??= {}) as Record<string, unknown>;
    const roots = (da.roots ??= {}) as Record<string, unknown>;
    roots[m[1]!] = m[2]!;
  }
  for (const [key, src] of Object.entries(sources)) {
    if (key === 'deviceAttest.roots') continue;
    const fromEnv = src.env ? env[src.env] : undefined;
    if (fromEnv !== undefined && fromEnv !== '') setPath(raw, key, fromEnv);
    if (key === 'databaseUrl' && !fromEnv && env.ATTESTCA_DATABASE_URL) setPath(raw, key, env.ATTESTCA_DATABASE_URL);
  }
  for (const [key, value] of Object.entries(options.overrides ?? {})) {
    if (typeof value === 'string' && key !== 'attestationRoots') setPath(raw, key, value);
  }

  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  - ${describeIssue(i, configFile)}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const parsed = result.data;

  if ((parsed.tlsCertFile === undefined) !== (parsed.tlsKeyFile === undefined)) {
    throw new ConfigError('tlsCertFile and tlsKeyFile go together: give both (--tls-cert and --tls-key) or neither');
  }

  const baseUrl = (parsed.baseUrl ?? defaultBaseUrl(parsed.listen, parsed.tls)).replace(/\/+$/, '');
  if (parsed.tls === 'auto' && !baseUrl.startsWith('https://')) {
    throw new ConfigError(`baseUrl: "${baseUrl}" is http:// but tls is "auto"; use an https:// base URL, or --tls off when a TLS proxy serves that URL`);
  }

  let passphrase = env.ATTESTCA_CA_PASSPHRASE || undefined;
  if (parsed.ca.passphraseFile) {
    try {
      passphrase = readFileSync(parsed.ca.passphraseFile, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new ConfigError(`ca.passphraseFile: ${parsed.ca.passphraseFile} cannot be read (${(err as NodeJS.ErrnoException).code}); give a readable file with --passphrase-file`);
    }
    if (!passphrase) throw new ConfigError(`ca.passphraseFile: ${parsed.ca.passphraseFile} is empty; put the CA key passphrase in it`);
  }

  const roots: Partial<Record<AttestationFormat, string>> = {};
  for (const [format, files] of Object.entries(parsed.deviceAttest.roots) as [AttestationFormat, string | string[]][]) {
    roots[format] = (Array.isArray(files) ? files : [files])
      .map((file) => {
        let pem: string;
        try {
          pem = readFileSync(file, 'utf8');
        } catch (err) {
          throw new ConfigError(`deviceAttest.roots.${format}: ${file} cannot be read (${(err as NodeJS.ErrnoException).code}); give a PEM file of root certificates`);
        }
        if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new ConfigError(`deviceAttest.roots.${format}: ${file} holds no PEM certificate`);
        return pem;
      })
      .join('\n');
  }
  const alternateChains = parsed.ca.alternateChains.map((file) => {
    let pem: string;
    try {
      pem = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(`ca.alternateChains: ${file} cannot be read (${(err as NodeJS.ErrnoException).code}); give a PEM file of the cross-signed issuer and the certificates above it`);
    }
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new ConfigError(`ca.alternateChains: ${file} holds no PEM certificate`);
    return { file, pem };
  });
  if (parsed.workers > 1 && !parsed.databaseUrl) {
    throw new ConfigError(`workers: ${parsed.workers} processes need a Postgres server (--database-url): the embedded database can be opened by one process only`);
  }
  if (parsed.acme.caa.enabled && parsed.acme.caaIdentities.length === 0) {
    throw new ConfigError('acme.caa.enabled: CAA checking needs acme.caaIdentities, the issuer domain names (e.g. ca.example.com) that CAA records name to allow this CA');
  }
  if (parsed.crl.refresh >= parsed.crl.validity) {
    throw new ConfigError(`crl.refresh must be shorter than crl.validity, or relying parties would hold an expired CRL before the next one is signed`);
  }
  if (parsed.deviceAttest.attestation === 'optional' && parsed.deviceAttest.allowlist.length === 0) {
    throw new ConfigError('deviceAttest.attestation: "optional" needs deviceAttest.allowlist: without an attestation, only the allowlist says which identifiers are real devices');
  }

  const maxValidity = parsed.ca.maxValidity ?? parsed.ca.certValidity;
  if (maxValidity < parsed.ca.certValidity) {
    throw new ConfigError('ca.maxValidity is shorter than ca.certValidity: an order without notAfter would get a longer certificate than one may ask for; raise ca.maxValidity or lower ca.certValidity');
  }

  return {
    ...parsed,
    deviceAttest: { ...parsed.deviceAttest, roots },
    dataDir: path.resolve(parsed.dataDir),
    baseUrl,
    configFile,
    ca: { ...parsed.ca, passphrase, maxValidity, alternateChains },
  };
}

function defaultBaseUrl(listen: string, tls: 'auto' | 'off'): string {
  const port = listen.slice(listen.lastIndexOf(':') + 1);
  return `${tls === 'auto' ? 'https' : 'http'}://localhost:${port}`;
}

/** Splits "host:port" or "[v6]:port". */
export function splitHostPort(value: string): { host: string; port: number } {
  const i = value.lastIndexOf(':');
  return { host: value.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(value.slice(i + 1)) };
}
