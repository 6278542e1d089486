// The storage interface every other part of sa is written against. Two adapters implement it:
// a pg Pool (a real Postgres server, DATABASE_URL) and PGlite (Postgres compiled to WASM,
// embedded under the data directory). One SQL dialect runs on both (DESIGN.md).

export interface QueryResult<R> {
  rows: R[];
  rowCount: number;
}

export interface Queryable {
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

export interface Db extends Queryable {
  readonly kind: 'postgres' | 'pglite';
  /** Runs fn inside BEGIN … COMMIT; inside it use only `tx` (STYLE.md habit 5). */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
  /**
   * Settles, with the cause, when the database has gone for good while open: the embedded
   * database's thread died, and every query from then on fails. A pool of connections to a
   * Postgres server has no such state (a lost connection is replaced), so it leaves this out.
   */
  readonly lost?: Promise<Error>;
}

/** Postgres error codes the storage layer reacts to (Appendix A of the PostgreSQL manual). */
export const PG_UNIQUE_VIOLATION = '23505';

export function isUniqueViolation(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === PG_UNIQUE_VIOLATION;
}
