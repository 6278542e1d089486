// revokeCert (RFC 8555 §7.6): signed by an account (kid) or by the certificate's own key (jwk).
// Success is 200 with an empty body; every refusal is the problem type the RFC names.
import type { Router } from 'express';
import { revokeCertPayload } from '../acme/payloads.js';
import { paths } from '../acme/urls.js';
import { AcmeError } from '../errors.js';
import type { RaContext } from '../ra/context.js';
import { revokeByAccount, revokeByCertificateKey } from '../ra/revoke.js';
import { acmePost, requireObjectPayload } from './http.js';
import { parsePayload } from './validate.js';

export function mountRevoke(app: Router, ctx: RaContext): void {
  app.post(
    paths.revokeCert,
    acmePost(ctx, 'revoke-cert', ['kid', 'jwk'], async (_req, res, v) => {
      const p = parsePayload(revokeCertPayload, requireObjectPayload(v), 'revokeCert');
      if (!/^[A-Za-z0-9_-]+$/.test(p.certificate)) throw new AcmeError('malformed', 'certificate is not base64url without padding (RFC 8555 §7.6)');
      const request = { der: Buffer.from(p.certificate, 'base64url'), reason: p.reason };
      if (v.account) await revokeByAccount(ctx, v.account, request);
      else await revokeByCertificateKey(ctx, v.jwk, request);
      res.status(200).end();
    }),
  );
}
