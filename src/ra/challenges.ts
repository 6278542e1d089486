// Answering a challenge (RFC 8555 §7.5.1): the request moves the challenge to processing and
// returns at once; the validation runs in the background and its result lands in one
// transaction with the authorization and the orders waiting on it.
import type { Account, Challenge } from '../core.js';
import { AcmeError, notFound, toAcmeError } from '../errors.js';
import { accountById } from '../sa/accounts.js';
import { authorizationById, challengeById } from '../sa/orders.js';
import { finishValidation, startValidation, type ValidationOutcome } from '../sa/validations.js';
import { later, type RaContext } from './context.js';

export async function answerChallenge(ctx: RaContext, account: Account, challengeId: string): Promise<Challenge> {
  const challenge = await challengeById(ctx.db, challengeId);
  if (!challenge) throw notFound('challenge');
  const authz = await authorizationById(ctx.db, challenge.authzId);
  if (!authz || authz.accountId !== account.id) throw new AcmeError('unauthorized', 'this challenge belongs to another account');

  // A challenge already processing or finished is returned as it is (RFC 8555 §7.5.1 leaves
  // repeated requests to the server; Boulder does the same).
  if (challenge.status === 'pending') {
    const started = await startValidation(ctx.db, challenge.id, ctx.clock.now(), later(ctx, ctx.config.acme.validationLease));
    if (started) {
      const done = ctx.background.run(`validate ${challenge.id}`, () => runValidation(ctx, challenge.id));
      // Most validations finish in milliseconds: wait briefly so the response already carries
      // the result and the client saves a round of polling. A slow one goes on in the background.
      await waitAtMost(done, ctx.config.acme.validationWait);
    }
  }
  return (await challengeById(ctx.db, challengeId))!;
}

/** Runs one claimed validation to its end and records the outcome. */
export async function runValidation(ctx: RaContext, challengeId: string): Promise<void> {
  const challenge = await challengeById(ctx.db, challengeId);
  if (!challenge || challenge.status !== 'processing') return;
  const authz = (await authorizationById(ctx.db, challenge.authzId))!;
  const account = (await accountById(ctx.db, authz.accountId))!;
  const started = Date.now();

  let outcome: ValidationOutcome;
  try {
    await ctx.va.validate({
      type: challenge.type,
      identifier: authz.identifier,
      token: challenge.token,
      keyAuthorization: `${challenge.token}.${account.keyThumbprint}`,
    });
    outcome = { status: 'valid' };
  } catch (err) {
    const problem = toAcmeError(err);
    if (problem.type === 'serverInternal') ctx.log.error({ err, challenge: challengeId }, 'validation crashed');
    outcome = { status: 'invalid', error: problem.toProblem() };
  }
  const recorded = await finishValidation(ctx.db, challengeId, outcome, ctx.clock.now());
  ctx.log.info(
    {
      audit: 'validation',
      account: account.id,
      authz: authz.id,
      challenge: challengeId,
      type: challenge.type,
      identifier: authz.identifier,
      result: outcome.status,
      problem: outcome.status === 'invalid' ? outcome.error.type : undefined,
      detail: outcome.status === 'invalid' ? outcome.error.detail : undefined,
      ms: Date.now() - started,
      recorded,
    },
    'validation finished',
  );
}

function waitAtMost(p: Promise<unknown>, ms: number): Promise<unknown> {
  if (ms <= 0) return Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]).finally(() => clearTimeout(timer));
}
