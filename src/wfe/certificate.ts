// Certificate download (RFC 8555 §7.4.2): the leaf and its intermediates as PEM.
import type { Router } from 'express';
import { paths } from '../acme/urls.js';
import { AcmeError, notFound } from '../errors.js';
import type { RaContext } from '../ra/context.js';
import { certificateBySerial } from '../sa/issuance.js';
import { acmePost, param, requirePostAsGet } from './http.js';

export function mountCertificate(app: Router, ctx: RaContext): void {
  app.post(
    paths.certificate,
    acmePost(ctx, 'certificate', ['kid'], async (req, res, v) => {
      requirePostAsGet(v);
      const serial = param(req, 'serial');
      const cert = /^[0-9a-f]{1,64}$/.test(serial) ? await certificateBySerial(ctx.db, serial) : undefined;
      if (!cert) throw notFound('certificate');
      if (cert.accountId !== v.account!.id) throw new AcmeError('unauthorized', 'this certificate was issued to another account');
      res.status(200).type('application/pem-certificate-chain').send(cert.chainPem);
    }),
  );
}
