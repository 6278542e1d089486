#!/usr/bin/env node
// attestca's command line. One file per command under cli/.
import { readFileSync } from 'node:fs';
import { ConfigError, UsageError } from './cli/common.js';
import { deviceCerts, deviceCertsHelp } from './cli/device-certs.js';
import { deviceSim, deviceSimHelp } from './cli/device-sim.js';
import { eab, eabHelp } from './cli/eab.js';
import { init, initHelp } from './cli/init.js';
import { migrateCommand, migrateHelp } from './cli/migrate.js';
import { revokeCommand, revokeHelp } from './cli/revoke.js';
import { serve, serveHelp } from './cli/serve.js';
import { KeyError } from './ca/keys.js';

const commands: Record<string, { run: (args: string[]) => Promise<number>; help: string; summary: string }> = {
  serve: { run: serve, help: serveHelp, summary: 'run the ACME certificate authority' },
  init: { run: init, help: initHelp, summary: "create (or import) the CA's keys and certificates" },
  migrate: { run: migrateCommand, help: migrateHelp, summary: 'apply pending database migrations' },
  revoke: { run: revokeCommand, help: revokeHelp, summary: 'revoke a certificate by serial number (OCSP at once, CRL at the next check)' },
  'device-certs': { run: deviceCerts, help: deviceCertsHelp, summary: 'list the certificates issued to a device (by serial, UDID or identifier)' },
  eab: { run: eab, help: eabHelp, summary: 'external account binding keys: create, list, revoke' },
  'device-sim': { run: deviceSim, help: deviceSimHelp, summary: 'a simulated Apple device for testing device-attest-01 (init: make its test hierarchy)' },
};

const version = (): string => {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
};

const mainHelp = `attestca: an ACME certificate authority for device fleets

Usage: attestca <command> [flags]

Commands:
${Object.entries(commands)
  .map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`)
  .join('\n')}

Run "attestca <command> --help" for a command's flags. The README has the quick start.
`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? rest[0] : undefined;
    process.stdout.write(topic && commands[topic] ? commands[topic].help : mainHelp);
    return 0;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`attestca: unknown command "${name}"\n\n${mainHelp}`);
    return 2;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    if (err instanceof UsageError || err instanceof ConfigError || err instanceof KeyError) {
      process.stderr.write(`attestca ${name}: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`attestca: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
