// The storage backends every storage test runs on: PGlite (embedded) and the real Postgres
// server of this machine, with a fresh database per test run.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Db } from '../../src/sa/db.js';
import { openPglite } from '../../src/sa/db-pglite.js';
import { openPostgres } from '../../src/sa/db-postgres.js';
import { migrate } from '../../src/sa/migrate.js';

/** The server the Postgres half of the suite uses; `.ci/run` makes sure it is up. */
export const ADMIN_URL = process.env.ATTESTCA_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  db: Db;
  /** For a second pool (another "instance") on the same Postgres database; undefined on PGlite. */
  url: string | undefined;
  drop(): Promise<void>;
}

/** Creates an empty database on the Postgres server and returns its URL. */
export async function createPostgresDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `attestca_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  try {
    await admin.connect();
  } catch (err) {
    throw new Error(`the test suite needs the Postgres server at ${ADMIN_URL} (set ATTESTCA_TEST_DATABASE_URL to another): ${(err as Error).message}`);
  }
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

export const backends = ['pglite', 'postgres'] as const;
export type Backend = (typeof backends)[number];

export async function openTestDatabase(kind: Backend, options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  let t: TestDatabase;
  if (kind === 'pglite') {
    const db = await openPglite(undefined);
    t = { db, url: undefined, drop: () => db.close() };
  } else {
    const created = await createPostgresDatabase();
    const db = openPostgres(created.url, { max: 20 });
    t = {
      db,
      url: created.url,
      drop: async () => {
        await db.close();
        await created.drop();
      },
    };
  }
  if (options.migrate !== false) await migrate(t.db);
  return t;
}
