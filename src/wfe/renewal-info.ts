// ACME Renewal Information (RFC 9773 §4.1): GET {renewalInfo}/{certID}, unauthenticated.
import type { Router } from 'express';
import { paths } from '../acme/urls.js';
import type { RaContext } from '../ra/context.js';
import { renewalInfo } from '../ra/renewal-info.js';
import { locals, sendJson } from './http.js';

/**
 * RFC 9773 §4.3: the server SHOULD say with Retry-After when to ask again. Six hours, as Let's
 * Encrypt answers: a revocation reaches clients within that, and polling stays cheap.
 */
const RETRY_AFTER_SECONDS = String(6 * 60 * 60);

export function mountRenewalInfo(app: Router, ctx: RaContext): void {
  app.get(paths.renewalInfoCert, async (req, res, next) => {
    locals(res).resource = 'renewal-info';
    try {
      const info = await renewalInfo(ctx, String(req.params.certId));
      const { start, end } = info.suggestedWindow;
      sendJson(res, 200, { suggestedWindow: { start: start.toISOString(), end: end.toISOString() } }, { 'Retry-After': RETRY_AFTER_SECONDS });
    } catch (err) {
      next(err);
    }
  });
}
