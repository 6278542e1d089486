// After a crash, work in the database says 'processing' with a lease that will run out. Any
// instance sweeps for such work on start and every few seconds and finishes it, so nothing
// stays processing (DESIGN.md: crash-safe issuance).
import { AcmeError } from '../errors.js';
import { claimStaleIssuances } from '../sa/issuance.js';
import { purgeExpiredNonces } from '../sa/nonces.js';
import { claimStaleValidations, finishValidation } from '../sa/validations.js';
import { runValidation } from './challenges.js';
import { later, type RaContext } from './context.js';
import { purgeFinishedWindows } from './rate-limits.js';
import { issue } from './finalize.js';

/** A validation interrupted this many times is given up as invalid rather than retried forever. */
const MAX_VALIDATION_ATTEMPTS = 3;
const BATCH = 50;

export async function recoverInterrupted(ctx: RaContext): Promise<{ validations: number; issuances: number }> {
  const now = ctx.clock.now();
  const lease = later(ctx, ctx.config.acme.validationLease);
  const validations = await claimStaleValidations(ctx.db, now, lease, BATCH);
  for (const v of validations) {
    ctx.log.warn({ challenge: v.id, attempts: v.attempts }, 'resuming an interrupted validation');
    if (v.attempts > MAX_VALIDATION_ATTEMPTS) {
      const error = new AcmeError('serverInternal', `validation was interrupted ${v.attempts - 1} times; giving up`).toProblem();
      await finishValidation(ctx.db, v.id, { status: 'invalid', error }, now);
    } else {
      ctx.background.run(`resume validation ${v.id}`, () => runValidation(ctx, v.id));
    }
  }
  const orders = await claimStaleIssuances(ctx.db, now, lease, BATCH);
  for (const id of orders) {
    ctx.log.warn({ order: id }, 'resuming an interrupted issuance');
    ctx.background.run(`resume issuance ${id}`, () => issue(ctx, id));
  }
  await purgeExpiredNonces(ctx.db, now);
  await purgeFinishedWindows(ctx);
  return { validations: validations.length, issuances: orders.length };
}

/** Sweeps now and then every `everyMs`, until the returned stop function is called and awaited. */
export function startRecovery(ctx: RaContext, everyMs: number): () => Promise<void> {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const tick = async () => {
    try {
      await recoverInterrupted(ctx);
    } catch (err) {
      ctx.log.error({ err }, 'recovery sweep failed; trying again later');
    }
    if (!stopped) timer = setTimeout(() => (running = tick()), everyMs).unref();
  };
  running = tick();
  // Stopping waits for a sweep in progress, so the database is not closed under it.
  return async () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    await running;
  };
}
