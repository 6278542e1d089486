import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

// Structured logs (STYLE.md habit 8). Anything that could carry a secret is redacted by path,
// so a careless `log.info({ config })` cannot leak a passphrase or a key.
const redact = [
  'passphrase',
  '*.passphrase',
  'config.ca.passphrase',
  'key',
  '*.privateKey',
  'req.headers.authorization',
  'databaseUrl',
  '*.databaseUrl',
];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino({ level, redact: { paths: redact, censor: '[redacted]' }, base: { service: 'attestca', pid: process.pid } }, destination);
}

/**
 * Standard output written asynchronously, for the server: a synchronous write per request line
 * was a measurable share of the CPU per issued certificate, and so was an asynchronous write per
 * line (about 10 lines per certificate; sonic-boom's write and release were 8% of the server's
 * CPU in a profile). Lines are gathered up to 4 KB, and what has gathered is written at least
 * every 250 ms, so a quiet server's last line still shows at once. pino flushes the rest when
 * the process exits (normally or on an uncaught error); what a kill -9 could lose is the lines
 * not yet written, while every fact they record (validations, issuances, revocations) is in
 * the database.
 */
export function asyncStdout(): DestinationStream {
  return pino.destination({ dest: 1, sync: false, minLength: 4096, periodicFlush: 250 });
}

/** Hides the password part of a database URL for log lines and error messages. */
export function safeDatabaseUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable database URL)';
  }
}
