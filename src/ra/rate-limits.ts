// The rate limits of config `limits` (RFC 8555 §6.6): an exceeded limit is a rateLimited
// problem (HTTP 429) with Retry-After, the seconds until the window frees a slot. Counted in the
// database (sa/rate-limits.ts), so they hold across instances sharing one Postgres.
import { AcmeError } from '../errors.js';
import type { PendingAuthorizations } from '../sa/authorizations.js';
import { purgeRateLimitWindows, takeRateLimitSlots } from '../sa/rate-limits.js';
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
 * Takes one slot of the limit for each key (all or none), or throws rateLimited. Fixed windows
 * aligned to the epoch: a full window frees all of its slots at its end, which is the Retry-After.
 */
export async function takeLimit(ctx: RaContext, name: WindowedLimit, keys: string[]): Promise<void> {
  const { count, window } = ctx.config.limits[name];
  if (count === 0 || keys.length === 0) return;
  const now = ctx.clock.now().getTime();
  const windowStart = Math.floor(now / window) * window;
  const full = await takeRateLimitSlots(ctx.db, keys.map((k) => `${name}:${k}`), new Date(windowStart), count);
  if (full === undefined) return;
  const retryAfter = secondsUntil(windowStart + window, now);
  const what = name === 'certificatesPerName' ? `${DESCRIBE[name]} ${full.slice(name.length + 1)}` : DESCRIBE[name];
  ctx.log.info({ audit: 'rate-limited', limit: name, key: full, retryAfter }, 'rate limit reached');
  throw new AcmeError('rateLimited', `too many ${what}: the limit is ${count} per ${formatWindow(window)} (limits.${name}); retry after ${retryAfter} seconds`, {
    headers: { 'Retry-After': String(retryAfter) },
  });
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
