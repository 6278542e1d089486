// newAuthz (RFC 8555 §7.4.1): pre-authorization of one identifier before any order. Answered
// with 201, the authorization's URL in Location and the pending authorization as body.
import type { Router } from 'express';
import { newAuthzPayload } from '../acme/payloads.js';
import { renderAuthorization } from '../acme/render.js';
import { paths } from '../acme/urls.js';
import { newAuthorization } from '../ra/authorizations.js';
import type { RaContext } from '../ra/context.js';
import { acmePost, requireObjectPayload, sendJson } from './http.js';
import { parsePayload } from './validate.js';

export function mountNewAuthz(app: Router, ctx: RaContext): void {
  app.post(
    paths.newAuthz,
    acmePost(ctx, 'new-authz', ['kid'], async (_req, res, v) => {
      const p = parsePayload(newAuthzPayload, requireObjectPayload(v), 'newAuthz');
      const authz = await newAuthorization(ctx, v.account!, p.identifier);
      sendJson(res, 201, renderAuthorization(authz, ctx.urls, ctx.clock.now()), { Location: ctx.urls.authz(authz.id) });
    }),
  );
}
