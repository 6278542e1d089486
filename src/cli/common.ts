import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError, loadConfig, type Config, type ConfigOverrides } from '../config.js';

export class UsageError extends Error {
  override name = 'UsageError';
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** The flags every command that opens the CA's state accepts; each maps to a config key. */
export const stateOptions = {
  config: { type: 'string' },
  'data-dir': { type: 'string' },
  'database-url': { type: 'string' },
  'passphrase-file': { type: 'string' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Options;

export const serveOptions = {
  ...stateOptions,
  listen: { type: 'string' },
  'base-url': { type: 'string' },
  tls: { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'http01-port': { type: 'string' },
  'tlsalpn01-port': { type: 'string' },
  'dns-server': { type: 'string' },
  'attestation-root': { type: 'string', multiple: true },
  workers: { type: 'string' },
} as const satisfies Options;

const flagToKey: Record<string, Exclude<keyof ConfigOverrides, 'attestationRoots'>> = {
  'data-dir': 'dataDir',
  'database-url': 'databaseUrl',
  'passphrase-file': 'ca.passphraseFile',
  'log-level': 'logLevel',
  listen: 'listen',
  'base-url': 'baseUrl',
  tls: 'tls',
  'tls-cert': 'tlsCertFile',
  'tls-key': 'tlsKeyFile',
  'http01-port': 'http01Port',
  'tlsalpn01-port': 'tlsalpn01Port',
  'dns-server': 'dnsServer',
  workers: 'workers',
};

export function parseFlags<O extends Options>(args: string[], options: O) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** Builds the Config from flags (highest precedence), environment and config file. */
export function configFromFlags(values: Record<string, unknown>): Config {
  const overrides: ConfigOverrides = {};
  for (const [flag, key] of Object.entries(flagToKey)) {
    const v = values[flag];
    if (typeof v === 'string') overrides[key] = v;
  }
  const roots = values['attestation-root'];
  if (Array.isArray(roots)) overrides.attestationRoots = roots.filter((r): r is string => typeof r === 'string');
  return loadConfig({ configFile: typeof values.config === 'string' ? values.config : undefined, overrides });
}

export { ConfigError };
