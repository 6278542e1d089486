import { createLogger } from '../log.js';
import { openDatabase } from '../main.js';
import { migrate } from '../sa/migrate.js';
import { configFromFlags, parseFlags, stateOptions } from './common.js';

export const migrateHelp = `attestca migrate: apply pending database migrations and exit

Usage: attestca migrate [--database-url URL | --data-dir DIR] [--config FILE]

serve migrates on start as well; this command lets a deployment migrate before rolling out
new instances. Two instances migrating at once are serialised by an advisory lock.
`;

export async function migrateCommand(args: string[]): Promise<number> {
  const { values } = parseFlags(args, stateOptions);
  if (values.help) {
    process.stdout.write(migrateHelp);
    return 0;
  }
  const config = configFromFlags(values);
  const log = createLogger(config.logLevel);
  const db = await openDatabase(config, log);
  try {
    const applied = await migrate(db);
    process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'the database is up to date\n');
  } finally {
    await db.close();
  }
  return 0;
}
