// The embedded database: PGlite (Postgres compiled to WebAssembly) under the data directory, or
// in memory. It runs on a thread of its own (sa/pglite-thread.ts), so its queries use the second
// core while the main thread serves HTTP; this adapter turns the Db interface into messages.
import { Worker } from 'node:worker_threads';
import type { Db, Queryable, QueryResult } from './db.js';
import type { Reply, Request, SerializedError } from './pglite-thread.js';

/**
 * The thread, started from dist/sa/pglite-thread.js. Under tsx (the tests and the benchmark
 * harness run the TypeScript sources) the thread's module is .ts, and a worker thread does not
 * inherit tsx's loader: it registers it before importing.
 */
function startThread(dir: string | undefined): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./pglite-thread.js', import.meta.url), { workerData: { dir } });
  const source = new URL('./pglite-thread.ts', import.meta.url).href;
  return new Worker(`import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(source)}); });`, { eval: true, workerData: { dir } });
}

// Rows cross the thread boundary by structured clone, which makes a Buffer a plain Uint8Array;
// pg hands back Buffer for bytea. Normalise to Buffer so callers never care which database they
// run on.
function normalise<R>(rows: unknown[]): R[] {
  for (const row of rows as Record<string, unknown>[]) {
    for (const [k, v] of Object.entries(row)) {
      if (v instanceof Uint8Array && !Buffer.isBuffer(v)) row[k] = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    }
  }
  return rows as R[];
}

/** A database error from the thread, with the fields callers look at (code, constraint…). */
function revive(e: SerializedError): Error {
  const { message, name: _name, ...fields } = e;
  return Object.assign(new Error(message), fields);
}

/** A request without its id (the adapter numbers them): Omit applied to each member of the union. */
type WithoutId<R> = R extends unknown ? Omit<R, 'id'> : never;
type Body = WithoutId<Request>;

/**
 * Opens the embedded database persisted in `dir`, or an in-memory one when dir is undefined.
 * `onThread` hands the thread to a test that needs to stop it.
 */
export async function openPglite(dir: string | undefined, options: { onThread?: (thread: Worker) => void } = {}): Promise<Db> {
  const worker = startThread(dir);
  options.onThread?.(worker);
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  let nextId = 1;
  let failure: Error | undefined;
  let closing = false;
  let markLost: (err: Error) => void = () => {};
  const lost = new Promise<Error>((resolve) => (markLost = resolve));

  // The thread keeps the process alive only while a request waits on it: a CLI command that
  // forgets nothing still exits when its work is done, and one waiting on a query does not.
  const settle = (id: number, outcome: (p: { resolve(v: unknown): void; reject(e: Error): void }) => void) => {
    const p = pending.get(id);
    if (!p) return;
    pending.delete(id);
    if (pending.size === 0) worker.unref();
    outcome(p);
  };
  const failAll = (err: Error) => {
    failure ??= err;
    if (!closing) markLost(failure);
    for (const id of [...pending.keys()]) settle(id, (p) => p.reject(err));
  };
  const started = new Promise<void>((resolve, reject) => pending.set(0, { resolve: () => resolve(), reject }));
  worker.on('message', (reply: Reply) => settle(reply.id, (p) => (reply.ok ? p.resolve(reply.value) : p.reject(revive(reply.error)))));
  worker.on('error', (err) => failAll(err));
  worker.on('exit', (code) => failAll(new Error(`the embedded database's thread exited (code ${code})`)));

  const call = <T>(body: Body): Promise<T> => {
    if (failure) return Promise.reject(failure);
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      if (pending.size === 0) worker.ref();
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      try {
        worker.postMessage({ ...body, id } as Request);
      } catch (err) {
        // A parameter that cannot be cloned (a function, say): nothing was sent.
        settle(id, (p) => p.reject(err as Error));
      }
    });
  };

  const on = (tx: number | undefined): Queryable => ({
    query: async <R>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> => {
      const res = await call<{ rows: unknown[]; rowCount: number }>({ op: 'query', sql, params: params as unknown[] | undefined, tx });
      return { rows: normalise<R>(res.rows), rowCount: res.rowCount };
    },
    exec: async (sql) => {
      await call({ op: 'exec', sql, tx });
    },
  });

  await started;
  const outside = on(undefined);
  return {
    kind: 'pglite',
    ...outside,
    // PGlite has one connection; a transaction holds it, and other queries wait until it ends.
    async transaction(fn) {
      const tx = await call<number>({ op: 'begin' });
      let out;
      try {
        out = await fn(on(tx));
      } catch (err) {
        await call({ op: 'rollback', tx }).catch(() => {});
        throw err;
      }
      await call({ op: 'commit', tx });
      return out;
    },
    lost,
    async close() {
      if (failure) return;
      closing = true;
      await call({ op: 'close' });
      await worker.terminate();
    },
  };
}
