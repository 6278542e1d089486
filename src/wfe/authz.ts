// Authorizations (RFC 8555 §7.5) and challenges (§7.5.1).
import type { Router } from 'express';
import { challengePayload } from '../acme/payloads.js';
import { renderAuthorization, renderChallenge } from '../acme/render.js';
import { paths } from '../acme/urls.js';
import { AcmeError, notFound } from '../errors.js';
import { answerChallenge } from '../ra/challenges.js';
import type { RaContext } from '../ra/context.js';
import { authorizationById, challengeById } from '../sa/orders.js';
import { acmePost, param, requirePostAsGet, sendJson } from './http.js';
import { parsePayload } from './validate.js';

export function mountAuthz(app: Router, ctx: RaContext): void {
  app.post(
    paths.authz,
    acmePost(ctx, 'authz', ['kid'], async (req, res, v) => {
      requirePostAsGet(v);
      const authz = await authorizationById(ctx.db, param(req, 'id'));
      if (!authz) throw notFound('authorization');
      if (authz.accountId !== v.account!.id) throw new AcmeError('unauthorized', 'this authorization belongs to another account');
      sendJson(res, 200, renderAuthorization(authz, ctx.urls, ctx.clock.now()));
    }),
  );

  app.post(
    paths.challenge,
    acmePost(ctx, 'challenge', ['kid'], async (req, res, v) => {
      const id = param(req, 'id');
      let challenge;
      if (v.payload === null) {
        // POST-as-GET reads the challenge without triggering validation.
        challenge = await challengeById(ctx.db, id);
        if (!challenge) throw notFound('challenge');
        const authz = await authorizationById(ctx.db, challenge.authzId);
        if (authz?.accountId !== v.account!.id) throw new AcmeError('unauthorized', 'this challenge belongs to another account');
      } else {
        const response = parsePayload(challengePayload, v.payload, 'challenge response');
        challenge = await answerChallenge(ctx, v.account!, id, response);
      }
      sendJson(res, 200, renderChallenge(challenge, ctx.urls), { Link: `<${ctx.urls.authz(challenge.authzId)}>;rel="up"` });
    }),
  );
}
