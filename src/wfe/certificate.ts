// Certificate download (RFC 8555 §7.4.2): the leaf and its intermediates as PEM. With alternate
// chains configured (ca.alternateChains), the default chain links each alternate with
// Link: <url>;rel="alternate", served at the certificate URL + "/1", "/2", …: the same leaf followed
// by that chain, linking in turn the default and the other alternates (as Boulder does), so a
// client that prefers a chain (certbot --preferred-chain, acme-client preferredChain) finds it
// from any of them.
import type { Request, Response, Router } from 'express';
import { paths } from '../acme/urls.js';
import type { VerifiedRequest } from './jws.js';
import { AcmeError, notFound } from '../errors.js';
import type { RaContext } from '../ra/context.js';
import { toPem } from '../pki/pem.js';
import { certificateBySerial } from '../sa/issuance.js';
import { acmePost, param, requirePostAsGet } from './http.js';

export function mountCertificate(app: Router, ctx: RaContext): void {
  const alternates = ctx.ca.alternateChainsPem;

  /** The certificate the request names, if it is the requesting account's. */
  const certificateFor = async (req: Request, v: VerifiedRequest) => {
    requirePostAsGet(v);
    const serial = param(req, 'serial');
    const cert = /^[0-9a-f]{1,64}$/.test(serial) ? await certificateBySerial(ctx.db, serial) : undefined;
    if (!cert) throw notFound('certificate');
    if (cert.accountId !== v.account!.id) throw new AcmeError('unauthorized', 'this certificate was issued to another account');
    return cert;
  };

  /** Links to every chain of `serial` but the one served (0: the default chain). */
  const linkOthers = (res: Response, serial: string, served: number): void => {
    const urls = [ctx.urls.certificate(serial), ...alternates.map((_, i) => ctx.urls.certificateChain(serial, i + 1))];
    for (const [i, url] of urls.entries()) if (i !== served) res.append('Link', `<${url}>;rel="alternate"`);
  };

  app.post(
    paths.certificate,
    acmePost(ctx, 'certificate', ['kid'], async (req, res, v) => {
      const cert = await certificateFor(req, v);
      if (alternates.length) linkOthers(res, cert.serial, 0);
      res.status(200).type('application/pem-certificate-chain').send(cert.chainPem);
    }),
  );

  app.post(
    paths.certificateChain,
    acmePost(ctx, 'certificate', ['kid'], async (req, res, v) => {
      const cert = await certificateFor(req, v);
      const text = String(req.params.chain);
      const n = /^[1-9]\d{0,3}$/.test(text) ? Number(text) : 0;
      if (n < 1 || n > alternates.length) {
        const has = alternates.length ? `alternate chains 1 to ${alternates.length}, linked rel="alternate" from the certificate URL` : 'no alternate chains';
        throw new AcmeError('malformed', `certificate chain "${text.slice(0, 16)}" not found: this CA serves ${has}`, { status: 404 });
      }
      linkOthers(res, cert.serial, n);
      res.status(200).type('application/pem-certificate-chain').send(toPem(cert.der) + alternates[n - 1]);
    }),
  );
}
