// The embedded database's own thread (sa/db-pglite.ts starts it). PGlite is Postgres compiled to
// WebAssembly: every query it runs is computation on the thread that calls it. Run on the main
// thread, it took turns with the HTTP handling there and the server used one core; here it runs
// beside it. Messages: a request { id, op, sql?, params?, tx? } gets one reply { id, ok, … }.
import { mkdirSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite, types, type Transaction } from '@electric-sql/pglite';

export type Request =
  | { id: number; op: 'query'; sql: string; params?: unknown[]; tx?: number }
  | { id: number; op: 'exec'; sql: string; tx?: number }
  | { id: number; op: 'begin' }
  | { id: number; op: 'commit' | 'rollback'; tx: number }
  | { id: number; op: 'close' };

export type Reply = { id: number; ok: true; value?: unknown } | { id: number; ok: false; error: SerializedError };

/** A database error as plain data: message plus Postgres's fields (code, constraint, detail…). */
export type SerializedError = { message: string; name?: string } & Record<string, unknown>;

const port = parentPort!;
const { dir } = workerData as { dir: string | undefined };

// int8 (COUNT(*), sums) as a number, as the pg adapter returns it (sa/db-postgres.ts).
const parsers = { [types.INT8]: (v: string) => Number(v) };

/** An open transaction: its handle, and how to end it (commit: resolve; rollback: reject). */
interface OpenTransaction {
  t: Transaction;
  end: { resolve(): void; reject(err: unknown): void };
  ended: Promise<void>;
}

async function main(): Promise<void> {
  if (dir) mkdirSync(dir, { recursive: true });
  const pg = await PGlite.create(dir, { parsers });
  const open = new Map<number, OpenTransaction>();
  let nextTx = 1;

  const target = (tx: number | undefined) => {
    if (tx === undefined) return pg;
    const o = open.get(tx);
    if (!o) throw new Error(`transaction ${tx} is not open`);
    return o.t;
  };

  const handle = async (req: Request): Promise<unknown> => {
    switch (req.op) {
      case 'query': {
        const res = await target(req.tx).query(req.sql, req.params);
        // pg's rowCount is the count in the command tag: rows changed by INSERT/UPDATE/DELETE,
        // rows returned by SELECT. PGlite's affectedRows is 0 for a SELECT; its rowCount is the tag count.
        return { rows: res.rows, rowCount: res.rowCount ?? res.affectedRows ?? res.rows.length };
      }
      case 'exec':
        await target(req.tx).exec(req.sql);
        return undefined;
      case 'begin': {
        // PGlite's transaction() holds its one connection until fn settles; fn settles when the
        // main thread says commit or rollback. Queries outside it wait for PGlite's mutex.
        const tx = nextTx++;
        let ready!: () => void;
        const begun = new Promise<void>((r) => (ready = r));
        const ended = pg
          .transaction(async (t) => {
            await new Promise<void>((resolve, reject) => {
              open.set(tx, { t, end: { resolve, reject }, ended });
              ready();
            });
          })
          .then(() => undefined)
          .finally(() => open.delete(tx));
        // A failed BEGIN rejects `ended` before `begun` resolves.
        await Promise.race([begun, ended]);
        return tx;
      }
      case 'commit':
      case 'rollback': {
        const o = open.get(req.tx);
        if (!o) throw new Error(`transaction ${req.tx} is not open`);
        if (req.op === 'commit') o.end.resolve();
        else o.end.reject(new RollbackRequested());
        await o.ended.catch((err) => {
          if (!(err instanceof RollbackRequested)) throw err;
        });
        return undefined;
      }
      case 'close':
        await pg.close();
        return undefined;
    }
  };

  port.on('message', (req: Request) => {
    handle(req).then(
      (value) => port.postMessage({ id: req.id, ok: true, value } satisfies Reply),
      (err) => port.postMessage({ id: req.id, ok: false, error: serializeError(err) } satisfies Reply),
    );
  });
  port.postMessage({ id: 0, ok: true } satisfies Reply);
}

class RollbackRequested extends Error {}

function serializeError(err: unknown): SerializedError {
  if (!(err instanceof Error)) return { message: String(err) };
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(err)) if (v === null || ['string', 'number', 'boolean'].includes(typeof v)) fields[k] = v;
  return { ...fields, name: err.name, message: err.message };
}

main().catch((err) => port.postMessage({ id: 0, ok: false, error: serializeError(err) } satisfies Reply));
