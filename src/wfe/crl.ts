// The CRL (RFC 5280 §5) and the issuer certificate, for relying parties: plain unauthenticated GETs
// at the URLs written into every certificate (CRL Distribution Points; AIA caIssuers). Media types
// are RFC 2585 §4: application/pkix-crl and application/pkix-cert, DER.
import type { Router } from 'express';
import { paths } from '../acme/urls.js';
import { AcmeError } from '../errors.js';
import type { RaContext } from '../ra/context.js';
import { currentCrl } from '../ra/crl.js';
import { locals } from './http.js';

/** Relying parties and caches may keep a CRL a minute; a revocation shows in the next one at once. */
const CACHE = 'public, max-age=60';

export function mountCrl(app: Router, ctx: RaContext): void {
  app.get(paths.crl, async (req, res, next) => {
    locals(res).resource = 'crl';
    try {
      if (req.params.issuer !== ctx.ca.issuerId) throw new AcmeError('malformed', `no CRL for issuer ${String(req.params.issuer).slice(0, 64)}; this CA's is ${ctx.urls.crl(ctx.ca.issuerId)}`, { status: 404 });
      const crl = await currentCrl(ctx);
      res.setHeader('Cache-Control', CACHE);
      res.setHeader('Last-Modified', crl.thisUpdate.toUTCString());
      res.setHeader('Expires', crl.nextUpdate.toUTCString());
      res.status(200).type('application/pkix-crl').send(crl.der);
    } catch (err) {
      next(err);
    }
  });

  app.get(paths.issuerCert, (_req, res) => {
    locals(res).resource = 'issuer-cert';
    res.setHeader('Cache-Control', 'public, max-age=86400');
    res.status(200).type('application/pkix-cert').send(ctx.ca.issuerDer);
  });
}
