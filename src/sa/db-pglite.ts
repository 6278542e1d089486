import { mkdirSync } from 'node:fs';
import { PGlite, types } from '@electric-sql/pglite';
import type { Db, Queryable, QueryResult } from './db.js';

// PGlite hands bytea back as Uint8Array; pg hands back Buffer. Normalise to Buffer so callers
// never care which database they run on.
function normalise<R>(rows: unknown[]): R[] {
  for (const row of rows as Record<string, unknown>[]) {
    for (const [k, v] of Object.entries(row)) {
      if (v instanceof Uint8Array && !Buffer.isBuffer(v)) row[k] = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    }
  }
  return rows as R[];
}

const parsers = { [types.INT8]: (v: string) => Number(v) };

/** Opens the embedded database persisted in `dir`, or an in-memory one when dir is undefined. */
export async function openPglite(dir: string | undefined): Promise<Db> {
  if (dir) mkdirSync(dir, { recursive: true });
  const pg = await PGlite.create(dir, { parsers });

  const run = async <R>(q: Pick<PGlite, 'query'>, sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> => {
    const res = await q.query(sql, params as unknown[] | undefined);
    // pg's rowCount is the count in the command tag: rows changed by INSERT/UPDATE/DELETE, rows
    // returned by SELECT. PGlite's affectedRows is 0 for a SELECT; its rowCount is the tag count.
    return { rows: normalise<R>(res.rows), rowCount: res.rowCount ?? res.affectedRows ?? res.rows.length };
  };

  return {
    kind: 'pglite',
    query: (sql, params) => run(pg, sql, params),
    exec: async (sql) => {
      await pg.exec(sql);
    },
    // PGlite has one connection; its transaction() holds a mutex so other queries wait.
    transaction: (fn) =>
      pg.transaction((t) =>
        fn({
          query: (sql, params) => run(t, sql, params),
          exec: async (sql) => {
            await t.exec(sql);
          },
        } satisfies Queryable),
      ),
    close: () => pg.close(),
  };
}
