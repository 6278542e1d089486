// The rate limits of config `limits` (RFC 8555 §6.6): an exceeded limit is a rateLimited
// problem (HTTP 429) with Retry-After, the seconds until the window frees a slot. Counted in the
// database (sa/rate-limits.ts), so they hold across instances sharing one Postgres.
import { AcmeError } from '../errors.js';
import type { PendingAuthorizations } from '../sa/authorizations.js';
import { purgeRateLimitWindows, RateLimitReached, takeRateLimitSlots, type RateLimitSlots } from '../sa/rate-limits.js';
import type { RaContext } from './context.js';

export type WindowedLimit = 'ordersPerAccount' | 'accountsPerIp' | 'certificatesPerName';

const DESCRIBE: Record<WindowedLimit, string> = {
  ordersPerAccount: 'new orders for this account',
  accountsPerIp: 'new accounts from this IP address',
  certificatesPerName: 'certificates for',
};

/** Seconds from `now` until `at`, at least 1 (RFC 9110 §10.2.3: delay-seconds). */
const secondsUntil = (at: number, now: number): number => Math.max(1, Math.ceil((at - now) / 1000));

/**
 * The slots `name` asks of `keys` now, one per key, all or none: for the SA statement that the
 * limit guards, which takes them along with its own write (undefined when the limit is off).
 * Fixed windows aligned to the epoch: a full window frees all of its slots at its end, which is
 * the Retry-After.
 */
export function limitSlots(ctx: RaContext, name: WindowedLimit, keys: string[]): RateLimitSlots | undefined {
  const { count, window } = ctx.config.limits[name];
  if (count === 0 || keys.length === 0) return undefined;
  const windowStart = Math.floor(ctx.clock.now().getTime() / window) * window;
  return { keys: keys.map((k) => `${name}:${k}`), windowStart: new Date(windowStart), limit: count };
}

/** Runs the SA call that takes `slots` of `name`; a full window becomes the rateLimited problem. */
export async function limited<T>(ctx: RaContext, name: WindowedLimit, slots: RateLimitSlots | undefined, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (!(err instanceof RateLimitReached) || !slots) throw err;
    const { count, window } = ctx.config.limits[name];
    const retryAfter = secondsUntil(slots.windowStart.getTime() + window, ctx.clock.now().getTime());
    const full = err.key;
    const what = name === 'certificatesPerName' ? `${DESCRIBE[name]} ${full.slice(name.length + 1)}` : DESCRIBE[name];
    ctx.log.info({ audit: 'rate-limited', limit: name, key: full, retryAfter }, 'rate limit reached');
    throw new AcmeError('rateLimited', `too many ${what}: the limit is ${count} per ${formatWindow(window)} (limits.${name}); retry after ${retryAfter} seconds`, {
      headers: { 'Retry-After': String(retryAfter) },
    });
  }
}

/** Takes one slot of the limit for each key (all or none) on its own, or throws rateLimited. */
export async function takeLimit(ctx: RaContext, name: WindowedLimit, keys: string[]): Promise<void> {
  const slots = limitSlots(ctx, name, keys);
  if (slots) await limited(ctx, name, slots, () => takeRateLimitSlots(ctx.db, slots));
}

/**
 * Drops counter rows of windows that have ended (sweeper, ra/recovery.ts). A window of the
 * longest limit that began more than that long ago has ended, and so has every shorter one.
 */
export async function purgeFinishedWindows(ctx: RaContext): Promise<void> {
  const longest = Math.max(...(Object.keys(DESCRIBE) as WindowedLimit[]).map((name) => ctx.config.limits[name].window));
  await purgeRateLimitWindows(ctx.db, new Date(ctx.clock.now().getTime() - longest));
}

/**
 * limits.pendingAuthorizationsPerAccount: an account may not hold more pending authorizations
 * than this, `adding` included (`pending` as read by ra/authz-reuse.ts authorizationsForOrder). Retry-After is when the first of them expires (sooner if the
 * client answers or deactivates some, RFC 8555 §7.5.2).
 */
export function checkPendingAuthorizations(ctx: RaContext, pending: PendingAuthorizations, adding: number): void {
  const cap = ctx.config.limits.pendingAuthorizationsPerAccount;
  if (cap === 0 || adding === 0) return;
  const now = ctx.clock.now();
  if (pending.count + adding <= cap) return;
  const retryAfter = secondsUntil(pending.firstExpiry?.getTime() ?? now.getTime(), now.getTime());
  throw new AcmeError(
    'rateLimited',
    `this account has ${pending.count} pending authorizations and may hold at most ${cap} (limits.pendingAuthorizationsPerAccount); complete or deactivate some (RFC 8555 §7.5.2), or retry after ${retryAfter} seconds`,
    { headers: { 'Retry-After': String(retryAfter) } },
  );
}

function formatWindow(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
