// Rate-limit counters (RFC 8555 §6.6) in the shared database, so that every instance on one
// Postgres counts against the same limit. Fixed windows: a row per (key, window_start).
import type { Db, Queryable } from './db.js';

/** Thrown inside the transaction to roll back the slots already taken when a later key is full. */
class LimitReached extends Error {
  constructor(readonly key: string) {
    super(`rate limit reached for ${key}`);
  }
}

/**
 * Takes one slot of `limit` in the window starting at `windowStart` for every key, all or none.
 * Returns the first key whose window is full (nothing is taken then), or undefined when every
 * slot was taken. Each slot is one guarded upsert: the `WHERE count < limit` makes the check and
 * the increment one atomic step, so concurrent requests on any instance never overshoot.
 */
export async function takeRateLimitSlots(db: Db, keys: string[], windowStart: Date, limit: number): Promise<string | undefined> {
  // Sorted, so that two requests taking overlapping keys lock rows in one order (no deadlock).
  const sorted = [...new Set(keys)].sort();
  // One key (the usual case: one account, one name) is one statement, atomic on its own.
  if (sorted.length === 1) return (await takeSlot(db, sorted[0]!, windowStart, limit)) ? undefined : sorted[0];
  try {
    await db.transaction(async (tx) => {
      for (const key of sorted) if (!(await takeSlot(tx, key, windowStart, limit))) throw new LimitReached(key);
    });
  } catch (err) {
    if (err instanceof LimitReached) return err.key;
    throw err;
  }
  return undefined;
}

async function takeSlot(q: Queryable, key: string, windowStart: Date, limit: number): Promise<boolean> {
  const { rowCount } = await q.query(
    `INSERT INTO rate_limits (key, window_start, count) VALUES ($1, $2, 1)
     ON CONFLICT (key, window_start) DO UPDATE SET count = rate_limits.count + 1
     WHERE rate_limits.count < $3
     RETURNING count`,
    [key, windowStart, limit],
  );
  return rowCount === 1;
}

/** Drops windows that began before `before`: finished, they limit nothing (the sweeper calls this). */
export async function purgeRateLimitWindows(db: Db, before: Date): Promise<number> {
  const { rowCount } = await db.query('DELETE FROM rate_limits WHERE window_start < $1', [before]);
  return rowCount;
}

