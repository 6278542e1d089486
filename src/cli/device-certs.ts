import { createLogger } from '../log.js';
import { openDatabase } from '../main.js';
import { certificatesForDevice } from '../sa/attestations.js';
import { migrate } from '../sa/migrate.js';
import { configFromFlags, parseFlags, stateOptions, UsageError } from './common.js';

export const deviceCertsHelp = `attestca device-certs: which certificates belong to a device

Usage: attestca device-certs --identifier VALUE [--json] [--database-url URL | --data-dir DIR]

Lists the certificates issued on device-attest-01 attestations that name VALUE: the order's
permanent-identifier or hardware-module value, or any identifier the attestation proved
(for Apple devices both the serial number and the UDID), newest first, with the attestation
format and the device claims recorded at validation (OS version, firmware…).

With the embedded database, stop the server first: PGlite is opened by one process at a time.

Flags:
  --identifier VALUE   serial number, UDID or identifier value
  --json               one JSON object per certificate instead of a table
  --database-url URL   the Postgres server (or DATABASE_URL)
  --data-dir DIR       the data directory of an embedded-database CA (default ./data)
  --config FILE        config file
`;

export async function deviceCerts(args: string[]): Promise<number> {
  const { values } = parseFlags(args, { ...stateOptions, identifier: { type: 'string' }, json: { type: 'boolean' } });
  if (values.help) {
    process.stdout.write(deviceCertsHelp);
    return 0;
  }
  if (!values.identifier) throw new UsageError('give the device with --identifier VALUE (a serial number, UDID or identifier value)');
  const config = configFromFlags({ ...values, 'log-level': values['log-level'] ?? 'warn' });
  const db = await openDatabase(config, createLogger(config.logLevel));
  try {
    await migrate(db);
    const certs = await certificatesForDevice(db, values.identifier);
    if (values.json) {
      for (const c of certs) process.stdout.write(`${JSON.stringify(c)}\n`);
    } else if (!certs.length) {
      process.stdout.write(`no certificates for device ${values.identifier}\n`);
    } else {
      process.stdout.write('serial                            status   not after             format  identifier  os\n');
      for (const c of certs) {
        const os = c.claims.osVersion ?? c.claims.firmwareVersion ?? '';
        process.stdout.write(`${c.serial.padEnd(33)} ${c.status.padEnd(8)} ${c.notAfter.toISOString().slice(0, 19)}Z  ${c.format.padEnd(7)} ${c.identifier.value}  ${os}\n`);
      }
    }
  } finally {
    await db.close();
  }
  return 0;
}
