// Authorizations (RFC 8555 §7.5), their deactivation (§7.5.2) and challenges (§7.5.1).
import type { Router } from 'express';
import { authzUpdatePayload, challengePayload } from '../acme/payloads.js';
import { renderAuthorization, renderChallenge } from '../acme/render.js';
import { paths } from '../acme/urls.js';
import { AcmeError, notFound } from '../errors.js';
import { deactivateAuthorization } from '../ra/authorizations.js';
import { answerChallenge } from '../ra/challenges.js';
import type { RaContext } from '../ra/context.js';
import { authorizationById, authorizationOfChallenge } from '../sa/orders.js';
import { acmePost, param, sendJson } from './http.js';
import { parsePayload } from './validate.js';

/**
 * How soon to poll a challenge or authorization whose validation is running: RFC 8555 §7.5.1
 * lets the server suggest a polling interval with Retry-After while validation is in progress.
 */
const RETRY_AFTER_SECONDS = '1';

export function mountAuthz(app: Router, ctx: RaContext): void {
  app.post(
    paths.authz,
    acmePost(ctx, 'authz', ['kid'], async (req, res, v) => {
      let authz;
      if (v.payload === null) {
        authz = await authorizationById(ctx.db, param(req, 'id'));
        if (!authz) throw notFound('authorization');
        if (authz.accountId !== v.account!.id) throw new AcmeError('unauthorized', 'this authorization belongs to another account');
      } else {
        parsePayload(authzUpdatePayload, v.payload, 'authorization update');
        authz = await deactivateAuthorization(ctx, v.account!, param(req, 'id'));
      }
      const processing = authz.challenges.some((c) => c.status === 'processing');
      sendJson(res, 200, renderAuthorization(authz, ctx.urls, ctx.clock.now()), processing ? { 'Retry-After': RETRY_AFTER_SECONDS } : {});
    }),
  );

  app.post(
    paths.challenge,
    acmePost(ctx, 'challenge', ['kid'], async (req, res, v) => {
      const id = param(req, 'id');
      let challenge;
      if (v.payload === null) {
        // POST-as-GET reads the challenge without triggering validation.
        const authz = await authorizationOfChallenge(ctx.db, id);
        challenge = authz?.challenges.find((c) => c.id === id);
        if (!authz || !challenge) throw notFound('challenge');
        if (authz.accountId !== v.account!.id) throw new AcmeError('unauthorized', 'this challenge belongs to another account');
      } else {
        const response = parsePayload(challengePayload, v.payload, 'challenge response');
        challenge = await answerChallenge(ctx, v.account!, id, response);
      }
      sendJson(res, 200, renderChallenge(challenge, ctx.urls), {
        Link: `<${ctx.urls.authz(challenge.authzId)}>;rel="up"`,
        ...(challenge.status === 'processing' ? { 'Retry-After': RETRY_AFTER_SECONDS } : {}),
      });
    }),
  );
}
