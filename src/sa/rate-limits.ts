// Rate-limit counters (RFC 8555 §6.6) in the shared database, so that every instance on one
// Postgres counts against the same limit. Fixed windows: a row per (key, window_start).
// Slots are taken by take_rate_limit_slots (migrations/0012_rate_limit_slots.sql), inside the
// statement a limit guards where there is one (sa/orders.ts createOrder, sa/issuance.ts
// beginIssuance): the count and the write it allows commit together, in one round trip.
import type { Db, Queryable } from './db.js';

/** One slot of `limit` per key in the window starting at `windowStart`, all or none. */
export interface RateLimitSlots {
  keys: string[];
  windowStart: Date;
  limit: number;
}

/** A key's window was full: the statement that asked wrote nothing, and took no slot. */
export class RateLimitReached extends Error {
  constructor(readonly key: string) {
    super(`rate limit reached for ${key}`);
  }
}

/**
 * The three parameters of take_rate_limit_slots for `slots`; without slots, no keys, and the
 * function takes nothing. Keys are sorted, so that two statements taking overlapping keys lock
 * their rows in one order (no deadlock).
 */
export function slotParameters(slots: RateLimitSlots | undefined): [string[], Date, number] {
  if (!slots) return [[], new Date(0), 0];
  return [[...new Set(slots.keys)].sort(), slots.windowStart, slots.limit];
}

/** Runs a statement that takes slots; a full window comes out as RateLimitReached. */
export async function withSlots<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    const e = err as { code?: unknown; message?: unknown; detail?: unknown };
    // raise_exception with the function's message; its detail is the full key.
    if (e?.code === 'P0001' && e.message === 'rate limit reached' && typeof e.detail === 'string') throw new RateLimitReached(e.detail);
    throw err;
  }
}

/** Takes the slots on their own, for a limit that guards no statement of its own (new accounts). */
export async function takeRateLimitSlots(q: Queryable, slots: RateLimitSlots): Promise<void> {
  await withSlots(() => q.query('SELECT take_rate_limit_slots($1::text[], $2::timestamptz, $3::integer)', slotParameters(slots)));
}

/** Drops windows that began before `before`: finished, they limit nothing (the sweeper calls this). */
export async function purgeRateLimitWindows(db: Db, before: Date): Promise<number> {
  const { rowCount } = await db.query('DELETE FROM rate_limits WHERE window_start < $1', [before]);
  return rowCount;
}
