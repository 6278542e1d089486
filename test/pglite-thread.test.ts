// The embedded database's thread (sa/pglite-thread.ts): when it dies while the database is open,
// the adapter says so once through `lost` (the serve command exits on it, for a supervisor to
// start the CA again), and every query fails with the cause instead of waiting forever.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Worker } from 'node:worker_threads';
import { openPglite } from '../src/sa/db-pglite.js';

const within = <T>(p: Promise<T>, ms: number): Promise<T | 'still pending'> =>
  Promise.race([p, new Promise<'still pending'>((r) => setTimeout(() => r('still pending'), ms))]);

test('a thread that dies settles lost, and queries fail with the cause', async () => {
  let thread: Worker | undefined;
  const db = await openPglite(undefined, { onThread: (w) => (thread = w) });
  assert.deepEqual((await db.query<{ n: number }>('SELECT 1 AS n')).rows, [{ n: 1 }]);
  assert.equal(await within(db.lost!, 50), 'still pending');
  const inFlight = db.query('SELECT pg_sleep(0.2)');
  await thread!.terminate();
  const cause = await within(db.lost!, 2000);
  assert.ok(cause instanceof Error && /embedded database's thread exited/.test(cause.message), String(cause));
  await assert.rejects(inFlight, /thread exited/);
  await assert.rejects(db.query('SELECT 1'), /thread exited/);
});

test('closing the database is not losing it', async () => {
  const db = await openPglite(undefined);
  await db.query('SELECT 1');
  await db.close();
  assert.equal(await within(db.lost!, 200), 'still pending');
});
