// Answering a challenge (RFC 8555 §7.5.1): the request moves the challenge to processing, the
// validation runs, and its result lands in one transaction with the authorization and the
// orders waiting on it. http-01, dns-01 and tls-alpn-01 run in the background (the response
// waits briefly for them); device-attest-01 is pure computation and is answered synchronously
// (draft §5), so the response already says valid or invalid.
import type { Account, Authorization, Challenge, Identifier } from '../core.js';
import { AcmeError, notFound, toAcmeError } from '../errors.js';
import { statementUsed, type Evidence } from '../sa/attestations.js';
import { isUniqueViolation } from '../sa/db.js';
import { newId } from '../sa/ids.js';
import { authorizationOfChallenge, challengeById } from '../sa/orders.js';
import { recordValidation, startValidation, validationInputs, type ValidationOutcome } from '../sa/validations.js';
import type { DeviceEvidence } from '../va/device-attest01.js';
import { validAuthzExpiry } from './authz-reuse.js';
import { later, type RaContext } from './context.js';

/** draft-ietf-acme-device-attest §5: {"attObj": base64url}, or Apple's {"error": …}. */
function deviceResponse(payload: Record<string, unknown>): string {
  const { attObj, error } = payload;
  return JSON.stringify({ ...(attObj !== undefined ? { attObj } : {}), ...(error !== undefined ? { error } : {}) });
}

export async function answerChallenge(ctx: RaContext, account: Account, challengeId: string, payload: Record<string, unknown>): Promise<Challenge> {
  // Claimed first, for this account only; the authorization comes back as it was before.
  const { started, authz } = await startValidation(ctx.db, challengeId, account.id, ctx.clock.now(), later(ctx, ctx.config.acme.validationLease), deviceResponse(payload));
  const challenge = authz?.challenges.find((c) => c.id === challengeId);
  if (!authz || !challenge) throw notFound('challenge');
  if (authz.accountId !== account.id) throw new AcmeError('unauthorized', 'this challenge belongs to another account');

  if (started) {
    const device = challenge.type === 'device-attest-01';
    // What the validation would read back, known here: the challenge now processing, its
    // authorization, the account's key and the response just stored.
    const claimed: ValidationJob = { authz, challenge, keyThumbprint: account.keyThumbprint, payload: device ? deviceResponse(payload) : null };
    const done = ctx.background.run(`validate ${challenge.id}`, () => runValidation(ctx, challenge.id, claimed));
    // Most network validations finish in milliseconds: wait briefly so the response already
    // carries the result and the client saves a round of polling. A slow one goes on in the
    // background. device-attest-01 always finishes here.
    const finished = await (device ? done : waitAtMost(done, ctx.config.acme.validationWait));
    if (finished) return finished;
    return (await challengeById(ctx.db, challengeId))!;
  }
  // A challenge already processing or finished is returned as it is: a response to it is not
  // validated again (RFC 8555 §7.5.1 leaves repeats to the server; Boulder and step-ca agree).
  // A pending one that could not start (its authorization expired, or a sibling was tried) is
  // read again: another request may have just moved it.
  return challenge.status === 'pending' ? (await challengeById(ctx.db, challengeId))! : challenge;
}

/** A claimed validation: the challenge, its authorization, the account key's thumbprint and the client's response. */
interface ValidationJob {
  authz: Authorization;
  challenge: Challenge;
  keyThumbprint: string;
  payload: string | null;
}

/** The validation of a processing challenge as stored (recovery resumes one after a crash). */
async function storedJob(ctx: RaContext, challengeId: string): Promise<ValidationJob | undefined> {
  const authz = await authorizationOfChallenge(ctx.db, challengeId);
  const challenge = authz?.challenges.find((c) => c.id === challengeId);
  if (!authz || !challenge || challenge.status !== 'processing') return undefined;
  const inputs = await validationInputs(ctx.db, challengeId);
  return inputs && { authz, challenge, ...inputs };
}

/**
 * Runs one claimed validation to its end and records the outcome. `claimed` is what the
 * caller that just claimed it already holds; without it (recovery) it is read back.
 */
export async function runValidation(ctx: RaContext, challengeId: string, claimed?: ValidationJob): Promise<Challenge | undefined> {
  const job = claimed ?? (await storedJob(ctx, challengeId));
  if (!job) return undefined;
  const { authz, challenge, keyThumbprint, payload } = job;
  const started = Date.now();

  let outcome: ValidationOutcome;
  let evidence: DeviceEvidence | undefined;
  try {
    evidence = await ctx.va.validate({
      type: challenge.type,
      identifier: authz.identifier,
      wildcard: authz.wildcard,
      accountUri: ctx.urls.account(authz.accountId),
      token: challenge.token,
      keyAuthorization: `${challenge.token}.${keyThumbprint}`,
      payload,
      at: ctx.clock.now(),
    });
    // One attestation serves one validation (issue policy; the freshness and key-authorization
    // checks already tie a statement to its challenge, this also stops a resubmission).
    if (evidence?.statementSha256 && (await statementUsed(ctx.db, evidence.statementSha256))) {
      throw new AcmeError('badAttestationStatement', 'this attestation statement was already used for another validation');
    }
    outcome = { status: 'valid', authzExpiresAt: validAuthzExpiry(ctx, authz.identifier, ctx.clock.now()) };
  } catch (err) {
    const problem = toAcmeError(err);
    if (problem.type === 'serverInternal') ctx.log.error({ err, challenge: challengeId }, 'validation crashed');
    outcome = { status: 'invalid', error: problem.toProblem() };
    evidence = undefined;
  }

  let recorded: Challenge | undefined;
  try {
    recorded = await recordValidation(ctx.db, challengeId, outcome, ctx.clock.now(), evidence && toStored(evidence, authz.identifier));
  } catch (err) {
    if (!evidence || !isUniqueViolation(err)) throw err;
    // The same statement won a race with this one in another validation.
    outcome = { status: 'invalid', error: new AcmeError('badAttestationStatement', 'this attestation statement was already used for another validation').toProblem() };
    recorded = await recordValidation(ctx.db, challengeId, outcome, ctx.clock.now());
  }
  ctx.log.info(
    {
      audit: 'validation',
      account: authz.accountId,
      authz: authz.id,
      challenge: challengeId,
      type: challenge.type,
      identifier: authz.identifier,
      wildcard: authz.wildcard || undefined,
      result: outcome.status,
      problem: outcome.status === 'invalid' ? outcome.error.type : undefined,
      detail: outcome.status === 'invalid' ? outcome.error.detail : undefined,
      attestation: evidence ? { format: evidence.format, claims: evidence.claims } : undefined,
      ms: Date.now() - started,
      recorded: recorded !== undefined,
    },
    'validation finished',
  );
  return recorded;
}

function toStored(e: DeviceEvidence, identifier: Identifier): Evidence {
  return {
    id: newId(),
    format: e.format,
    identifier,
    attestedIdentifiers: e.attestedIdentifiers,
    attestedSpki: e.attestedSpki.length ? e.attestedSpki : null,
    claims: e.claims,
    chain: e.chain,
    statementSha256: e.statementSha256,
  };
}

/** p's result if it settles within ms, else undefined (p goes on). */
function waitAtMost<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  if (ms <= 0) return Promise.resolve(undefined);
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)))]).finally(() => clearTimeout(timer));
}
