import { systemClock } from '../clock.js';
import { revocationReasonName, revocationReasons, type RevocationReasonName } from '../core.js';
import { AcmeError } from '../errors.js';
import { createLogger } from '../log.js';
import { openDatabase } from '../main.js';
import { OPERATOR_REASONS, revokeByOperator } from '../ra/revoke.js';
import { migrate } from '../sa/migrate.js';
import { configFromFlags, parseFlags, stateOptions, UsageError } from './common.js';

export const revokeHelp = `attestca revoke: revoke a certificate by its serial number

Usage: attestca revoke --serial HEX [--reason N|NAME] [--database-url URL | --data-dir DIR]

Records the revocation in the database (the certificate's status, time and reason, in one
guarded update). OCSP answers "revoked" at once, on every instance, since each response is read
from the database. The CRL is re-signed by the running server(s) within crl.checkInterval
(10 s by default): this command never needs the CA's keys. With the embedded database, stop the
server first (PGlite is opened by one process at a time); it signs the new CRL when it starts.

Reasons (RFC 5280 §5.3.1): 0 unspecified (default), 1 keyCompromise, 2 cACompromise,
3 affiliationChanged, 4 superseded, 5 cessationOfOperation, 6 certificateHold,
9 privilegeWithdrawn, 10 aACompromise. 7 is unassigned; 8 (removeFromCRL) is only meaningful
in delta CRLs, which this CA does not sign. There is no way to undo a revocation.

Flags:
  --serial HEX         the certificate's serial number, hex (colons allowed, as openssl prints it)
  --reason N|NAME      reason code or name (default 0, unspecified)
  --database-url URL   the Postgres server (or DATABASE_URL)
  --data-dir DIR       the data directory of an embedded-database CA (default ./data)
  --config FILE        config file
`;

export async function revokeCommand(args: string[]): Promise<number> {
  const { values } = parseFlags(args, { ...stateOptions, serial: { type: 'string' }, reason: { type: 'string' } });
  if (values.help) {
    process.stdout.write(revokeHelp);
    return 0;
  }
  if (!values.serial) throw new UsageError('give the certificate with --serial HEX (its serial number, as `openssl x509 -noout -serial` prints it)');
  const serial = parseSerial(values.serial);
  const reason = parseReason(values.reason ?? '0');
  const config = configFromFlags({ ...values, 'log-level': values['log-level'] ?? 'info' });
  // The audit line goes to stderr, as JSON like the server's; stdout says what happened.
  const log = createLogger(config.logLevel, process.stderr);
  const db = await openDatabase(config, log);
  try {
    await migrate(db);
    await revokeByOperator({ db, clock: systemClock, log }, serial, reason);
    process.stdout.write(`revoked ${serial} (${revocationReasonName(reason)}); OCSP says so now, the CRL within ${config.crl.checkInterval / 1000} s of a running server\n`);
    return 0;
  } catch (err) {
    if (!(err instanceof AcmeError)) throw err;
    process.stderr.write(`attestca revoke: ${err.detail}\n`);
    return 1;
  } finally {
    await db.close();
  }
}

function parseSerial(text: string): string {
  const hex = text.replace(/[:\s]/g, '').replace(/^0x/i, '').toLowerCase();
  if (!/^[0-9a-f]{1,64}$/.test(hex)) throw new UsageError(`--serial: "${text}" is not a hex serial number`);
  // Stored serials are whole octets without leading zero octets (pki/der.ts integerHex).
  return (hex.length % 2 ? `0${hex}` : hex).replace(/^(00)+(?=..)/, '');
}

function parseReason(text: string): number {
  const code = /^\d+$/.test(text) ? Number(text) : revocationReasons[text as RevocationReasonName];
  if (code === undefined || !OPERATOR_REASONS.has(code)) {
    const allowed = [...OPERATOR_REASONS].sort((a, b) => a - b).map((r) => `${r} (${revocationReasonName(r)})`);
    throw new UsageError(`--reason: "${text}" cannot be used; give one of ${allowed.join(', ')}`);
  }
  return code;
}
