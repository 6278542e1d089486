// When a CRL is signed (RFC 5280 §5): right after every revocation made through this server, and
// on a schedule on every instance, which signs a new one when the stored CRL is stale (a revocation
// recorded elsewhere, e.g. by `attestca revoke`) or older than crl.refresh. The database decides
// which instance signs (sa/crls.ts), so instances agree on one CRL number sequence.
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { CertificateAuthority } from '../ca/authority.js';
import { wholeSeconds } from '../ca/crl.js';
import type { Db } from '../sa/db.js';
import { crlDue, latestCrl, publishCrl, type StoredCrl } from '../sa/crls.js';

export interface CrlContext {
  db: Db;
  ca: CertificateAuthority;
  clock: Clock;
  config: Pick<Config, 'crl'>;
  log: Logger;
}

/** Signs the next CRL if one is due (always, with `force`); undefined when the stored one is fresh. */
export async function refreshCrl(ctx: CrlContext, force = false): Promise<StoredCrl | undefined> {
  const now = ctx.clock.now();
  const crl = await publishCrl(ctx.db, ctx.ca.issuerId, { now, refreshMs: ctx.config.crl.refresh, force }, async (number, entries) => {
    const thisUpdate = wholeSeconds(now);
    const nextUpdate = wholeSeconds(new Date(now.getTime() + ctx.config.crl.validity));
    const der = await ctx.ca.signCrl({ number, thisUpdate, nextUpdate, entries });
    ctx.log.info({ audit: 'crl', issuer: ctx.ca.issuerId, number, entries: entries.length, thisUpdate, nextUpdate }, 'CRL signed');
    return { der, thisUpdate, nextUpdate };
  });
  return crl;
}

/**
 * The CRL to serve: the stored one, or a new one first when there is none yet, it has run out, or
 * a revocation was recorded since (by `attestca revoke`, before the scheduled check saw it).
 */
export async function currentCrl(ctx: CrlContext): Promise<StoredCrl> {
  const stored = await latestCrl(ctx.db, ctx.ca.issuerId);
  if (stored && !stored.stale && stored.nextUpdate > ctx.clock.now()) return stored;
  return (await refreshCrl(ctx)) ?? (await latestCrl(ctx.db, ctx.ca.issuerId))!;
}

/** Checks every `checkInterval` whether a CRL is due, until the returned stop function is awaited. */
export function startCrlSchedule(ctx: CrlContext): () => Promise<void> {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const tick = async () => {
    try {
      if (await crlDue(ctx.db, ctx.ca.issuerId, ctx.clock.now(), ctx.config.crl.refresh)) await refreshCrl(ctx);
    } catch (err) {
      ctx.log.error({ err }, 'signing the CRL failed; trying again at the next check');
    }
    if (!stopped) timer = setTimeout(() => (running = tick()), ctx.config.crl.checkInterval).unref();
  };
  running = tick();
  return async () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    await running;
  };
}
