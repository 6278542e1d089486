import { createHash } from 'node:crypto';
import pg from 'pg';
import type { Db, Queryable, QueryResult } from './db.js';

// int8 (COUNT(*), sums) arrives as a string from pg and as a number from PGlite; every int8 we
// read is a count far below 2^53, so both adapters return numbers.
const INT8_OID = 20;

export function openPostgres(connectionString: string, options: { max?: number } = {}): Db {
  const pool = new pg.Pool({
    connectionString,
    // Every statement is planned once per connection (named statements, below) and its plan
    // kept. Left to choose, Postgres re-plans a statement at every execution when its generic
    // plan looks costlier than a plan for the values at hand: unnest() over an array parameter
    // is estimated at 10 rows, the arrays here hold one to a few, so the statement that reads a
    // new order's reusable authorizations was planned afresh each time (0.34 ms of Postgres CPU
    // per order; pg_stat_statements: plans = calls). Its generic plan is the same plan. Every
    // statement of sa/ is a lookup by key, for which the generic plan is the plan.
    // A kept plan is as good as the statistics it was made with, though: a plan made while a
    // table is young (a new CA, its first minute before autovacuum analyzes it) scans the table
    // when its few pages look cheaper than an index, and the connection keeps scanning as the
    // table grows. Settling a validation's orders was planned that way: a seq scan of orders,
    // 0.2-0.3 ms of Postgres CPU per validation by a minute in (auto_explain). With
    // enable_seqscan off, Postgres takes an index wherever one serves the statement, as every
    // statement here is written to be served; a statement that has none still runs, as a scan.
    options: '-c plan_cache_mode=force_generic_plan -c enable_seqscan=off',
    max: options.max ?? 10,
    types: {
      getTypeParser: ((oid: number, format?: string) =>
        oid === INT8_OID ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
    },
  });
  // An idle client that loses its server emits 'error' on the pool; without a listener that
  // would crash the process. The next query gets a fresh connection.
  pool.on('error', () => {});

  // A short stable name per statement text (a hash: Postgres caps names at 63 bytes).
  const names = new Map<string, string>();
  const statementName = (sql: string): string => {
    let name = names.get(sql);
    if (!name) {
      name = `s${createHash('sha256').update(sql).digest('base64url').slice(0, 22)}`;
      names.set(sql, name);
    }
    return name;
  };
  const run = async <R>(client: pg.Pool | pg.PoolClient, sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> => {
    // A named statement is parsed and planned once per connection, then only bound and run:
    // without a name, Postgres parses and plans every execution, which on the short statements
    // of the ACME hot path costs more than running them. Every statement text here is a
    // constant of sa/, so the set of names per connection stays small.
    const res = await client.query({ name: statementName(sql), text: sql, values: params as unknown[] | undefined });
    return { rows: res.rows as R[], rowCount: res.rowCount ?? 0 };
  };

  return {
    kind: 'postgres',
    query: (sql, params) => run(pool, sql, params),
    exec: async (sql) => {
      await pool.query(sql);
    },
    async transaction(fn) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const tx: Queryable = {
          query: (sql, params) => run(client, sql, params),
          exec: async (sql) => {
            await client.query(sql);
          },
        };
        const out = await fn(tx);
        await client.query('COMMIT');
        return out;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw err;
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}
