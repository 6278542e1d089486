// The OCSP responder over HTTP (RFC 6960 Appendix A.1): POST with the DER request as body
// (application/ocsp-request), or GET with the URL-encoded base64 of it appended to the URL. The
// answer is always an OCSPResponse (application/ocsp-response) with status 200, errors included
// (malformedRequest, unauthorized, internalError): OCSP clients read the response status, not HTTP's.
import type { Response, Router } from 'express';
import { paths } from '../acme/urls.js';
import { ocspErrorResponse } from '../pki/ocsp.js';
import type { RaContext } from '../ra/context.js';
import { answerOcsp } from '../ra/ocsp.js';
import { locals } from './http.js';

export function mountOcsp(app: Router, ctx: RaContext): void {
  app.post(paths.ocsp, (req, res) => {
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    // RFC 6960 A.1: the request's Content-Type is application/ocsp-request; anything else is not one.
    return respond(ctx, res, type === 'application/ocsp-request' ? body : undefined);
  });
  // Mounted as a prefix, not a route parameter: base64 holds '/' (even '//'), and a bad
  // percent-encoding must still get an OCSP malformedRequest rather than a problem document.
  app.use(paths.ocsp, (req, res, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    return respond(ctx, res, fromGetPath(req.path));
  });
}

/** The request of a GET: everything after /ocsp/, URL-decoded, is base64 (slashes included). */
function fromGetPath(mountedPath: string): Buffer | undefined {
  const raw = mountedPath.slice(1);
  let text: string;
  try {
    text = decodeURIComponent(raw);
  } catch {
    return undefined;
  }
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) return undefined;
  return Buffer.from(text, 'base64');
}

async function respond(ctx: RaContext, res: Response, request: Buffer | undefined): Promise<void> {
  locals(res).resource = 'ocsp';
  let der: Buffer;
  try {
    const result = request ? await answerOcsp(ctx, request) : { der: ocspErrorResponse('malformedRequest'), outcome: 'malformedRequest' as const };
    der = result.der;
    if (result.outcome !== 'successful') locals(res).problem = result.outcome;
  } catch (err) {
    ctx.log.error({ err }, 'OCSP request failed');
    locals(res).problem = 'internalError';
    der = ocspErrorResponse('internalError');
  }
  // RFC 5019 §6: responses may be cached by HTTP caches until close to nextUpdate; a minute keeps
  // revocations visible quickly.
  res.setHeader('Cache-Control', 'public, max-age=60, no-transform');
  res.status(200).type('application/ocsp-response').send(der);
}
