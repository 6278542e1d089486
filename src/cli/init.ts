import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createHierarchy, hierarchyExists, importHierarchy, caFiles } from '../ca/hierarchy.js';
import { keyTypes, type KeyType } from '../config-schema.js';
import { configFromFlags, parseFlags, stateOptions, UsageError } from './common.js';

export const initHelp = `attestca init: create the CA's keys and certificates

Usage: attestca init [--key-type TYPE] [--org NAME] [flags]
       attestca init --import-cert FILE --import-key FILE --import-chain FILE [flags]

Creates a root CA (20 years) and an intermediate (10 years) under <data-dir>/ca, or imports an
intermediate that your own root has signed, so that attestca issues under your PKI. Private keys
are written as encrypted PKCS #8; the passphrase comes from --passphrase-file or the
ATTESTCA_CA_PASSPHRASE environment variable, never from the command line. An existing CA is
never overwritten.

Flags:
  --key-type TYPE                  ${keyTypes.join(' | ')} (default ec-p256)
  --org NAME                       organization named in the CA certificates (default attestca)
  --import-cert FILE               the intermediate certificate to sign with (PEM)
  --import-key FILE                its private key (PEM, PKCS #8 or traditional, encrypted or not)
  --import-key-passphrase-file F   passphrase of that key, when it differs from the CA passphrase
  --import-chain FILE              the certificates above it, ending with the root (PEM)
  --passphrase-file FILE           file with the passphrase that encrypts the CA keys
  --data-dir DIR                   state directory (default ./data)
  --config FILE                    config file (for dataDir and ca.passphraseFile)
  -h, --help                       this text
`;

const initOptions = {
  ...stateOptions,
  'key-type': { type: 'string' },
  org: { type: 'string' },
  'import-cert': { type: 'string' },
  'import-key': { type: 'string' },
  'import-key-passphrase-file': { type: 'string' },
  'import-chain': { type: 'string' },
} as const;

const read = (file: string, what: string): string => {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`${what} ${file} cannot be read: ${(err as NodeJS.ErrnoException).code}`);
  }
};

export async function init(args: string[]): Promise<number> {
  const { values } = parseFlags(args, initOptions);
  if (values.help) {
    process.stdout.write(initHelp);
    return 0;
  }
  const config = configFromFlags(values);
  const dir = path.join(config.dataDir, 'ca');
  if (hierarchyExists(dir)) throw new UsageError(`a CA already exists in ${dir}; attestca never overwrites CA keys: move that directory away first`);
  const passphrase = config.ca.passphrase;
  if (!passphrase) throw new UsageError('the CA keys are encrypted at rest: give a passphrase with --passphrase-file FILE or the ATTESTCA_CA_PASSPHRASE environment variable');
  if (passphrase.length < 12) throw new UsageError('the CA passphrase must be at least 12 characters');
  const now = new Date();

  const importing = [values['import-cert'], values['import-key'], values['import-chain']];
  if (importing.some(Boolean)) {
    if (!importing.every(Boolean)) throw new UsageError('importing needs all three of --import-cert, --import-key and --import-chain');
    importHierarchy({
      dir,
      certPem: read(values['import-cert']!, 'certificate'),
      keyPem: read(values['import-key']!, 'key'),
      keyPassphrase: values['import-key-passphrase-file'] ? read(values['import-key-passphrase-file'], 'passphrase file').replace(/\r?\n$/, '') : undefined,
      chainPem: read(values['import-chain']!, 'chain'),
      passphrase,
      now,
    });
    process.stdout.write(`imported the intermediate into ${dir}\nroots: ${caFiles(dir).roots}\n`);
    return 0;
  }

  const keyType = (values['key-type'] ?? 'ec-p256') as KeyType;
  if (!keyTypes.includes(keyType)) throw new UsageError(`--key-type must be one of ${keyTypes.join(', ')}, not "${keyType}"`);
  await createHierarchy({ dir, keyType, passphrase, organization: values.org ?? 'attestca', now });
  const f = caFiles(dir);
  process.stdout.write(
    `created a ${keyType} root and intermediate in ${dir}\n` +
      `root certificate: ${f.roots}  (distribute this to clients)\n` +
      `root key:         ${f.rootKey}  (encrypted; move it offline, serve does not need it)\n`,
  );
  return 0;
}
