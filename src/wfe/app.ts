// The web front end: the only code that knows Express and HTTP (DESIGN.md). Every ACME
// response carries a fresh Replay-Nonce (RFC 8555 §6.5) and a Link to the directory (§7.1);
// every error leaves as one RFC 7807 problem document (STYLE.md habit 2).
import express, { type ErrorRequestHandler, type Express, type RequestHandler } from 'express';
import { paths } from '../acme/urls.js';
import { AcmeError, toAcmeError } from '../errors.js';
import type { RaContext } from '../ra/context.js';
import { mountAccount } from './account.js';
import { mountAuthz } from './authz.js';
import { mountCertificate } from './certificate.js';
import { mountCrl } from './crl.js';
import { mountDirectory } from './directory.js';
import { locals } from './http.js';
import { mountOcsp } from './ocsp.js';
import { mountKeyChange } from './key-change.js';
import { mountNewAuthz } from './new-authz.js';
import { mountOrder } from './order.js';
import { mountRenewalInfo } from './renewal-info.js';
import { mountRevoke } from './revoke.js';

export function createApp(ctx: RaContext): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  const base = new URL(ctx.urls.base).pathname.replace(/\/$/, '');
  const router = express.Router({ strict: true });

  router.use(requestLog(ctx));
  router.use(acmeHeaders(ctx));
  // The raw body is needed: the JWS signature covers the bytes as sent.
  router.use(express.raw({ type: () => true, limit: ctx.config.acme.maxBodyBytes }));

  mountDirectory(router, ctx);
  mountAccount(router, ctx);
  mountKeyChange(router, ctx);
  mountNewAuthz(router, ctx);
  mountOrder(router, ctx);
  mountAuthz(router, ctx);
  mountCertificate(router, ctx);
  mountRevoke(router, ctx);
  mountCrl(router, ctx);
  mountOcsp(router, ctx);
  mountRenewalInfo(router, ctx);

  router.use(methodOrNotFound);
  router.use(problemHandler(ctx));
  app.use(base || '/', router);
  app.use(methodOrNotFound);
  app.use(problemHandler(ctx));
  return app;
}

/**
 * Replay-Nonce on every ACME response and the directory link (RFC 8555 §6.5, §7.1). Any POST
 * gets one too, even to a wrong path: its client speaks ACME and needs a nonce for its next try.
 */
function acmeHeaders(ctx: RaContext): RequestHandler {
  return (req, res, next) => {
    res.setHeader('Link', `<${ctx.urls.directory}>;rel="index"`);
    res.setHeader('Cache-Control', 'no-store');
    // OCSP clients speak RFC 6960, not ACME: no nonce for them.
    const ocsp = req.path === paths.ocsp || req.path.startsWith(`${paths.ocsp}/`);
    if (req.path.startsWith('/acme/') || (req.method === 'POST' && !ocsp)) res.setHeader('Replay-Nonce', ctx.nonces.mint(ctx.clock.now()));
    next();
  };
}

const GET_PATHS = new Set<string>([paths.directory, paths.newNonce, paths.roots, paths.intermediates, paths.issuerCert]);

/** RFC 8555 §6.3: resources other than the directory and newNonce are read with POST-as-GET. */
const methodOrNotFound: RequestHandler = (req, _res, next) => {
  const acmePath = req.path.startsWith('/acme/');
  // RFC 9773 §4.1: renewal information is read with a plain GET.
  if (req.path.startsWith(`${paths.renewalInfo}/`) && req.method !== 'GET' && req.method !== 'HEAD') {
    next(new AcmeError('malformed', `${req.method} is not allowed here: renewal information is read with GET (RFC 9773 §4.1)`, { status: 405, headers: { Allow: 'GET, HEAD' } }));
    return;
  }
  if (acmePath && !GET_PATHS.has(req.path) && (req.method === 'GET' || req.method === 'HEAD')) {
    next(new AcmeError('malformed', `${req.method} is not allowed here: ACME resources are read with POST-as-GET (RFC 8555 §6.3)`, { status: 405, headers: { Allow: 'POST' } }));
    return;
  }
  if (GET_PATHS.has(req.path) && req.method !== 'GET' && req.method !== 'HEAD') {
    next(new AcmeError('malformed', `${req.method} is not allowed on ${req.path}`, { status: 405, headers: { Allow: 'GET, HEAD' } }));
    return;
  }
  next(new AcmeError('malformed', `no resource at ${req.path.slice(0, 200)}`, { status: 404 }));
};

function problemHandler(ctx: RaContext): ErrorRequestHandler {
  return (err: unknown, _req, res, _next) => {
    const problem = plumbingProblem(err) ?? toAcmeError(err);
    if (problem.type === 'serverInternal') ctx.log.error({ err }, 'internal error');
    locals(res).problem = problem.type;
    if (res.headersSent) {
      res.end();
      return;
    }
    for (const [k, v] of Object.entries(problem.headers)) res.setHeader(k, v);
    res.status(problem.status).type('application/problem+json').send(JSON.stringify(problem.toProblem()));
  };
}

/**
 * Client errors raised by Express before any handler runs, marked with a 4xx `status`: express.raw
 * (body too large, aborted, a Content-Encoding whose bytes do not inflate, which carries no
 * `type`) and the router (a path parameter that is not valid percent-encoding, a URIError).
 */
function plumbingProblem(err: unknown): AcmeError | undefined {
  if (err instanceof AcmeError) return undefined;
  const e = err as { type?: string; status?: number; limit?: number; message?: string };
  if (typeof e?.status !== 'number' || e.status < 400 || e.status >= 500) return undefined;
  if (e.type === 'entity.too.large') return new AcmeError('malformed', `request body is larger than ${e.limit} bytes`, { status: 413 });
  const what = typeof e.type === 'string' ? e.type : String(e.message).slice(0, 100);
  return new AcmeError('malformed', `request cannot be read (${what})`, { status: e.status, cause: err });
}

function requestLog(ctx: RaContext): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const l = locals(res);
      ctx.log.info(
        {
          method: req.method,
          path: req.originalUrl.slice(0, 200),
          status: res.statusCode,
          resource: l.resource,
          account: l.account,
          problem: l.problem,
          ms: Number(process.hrtime.bigint() - started) / 1e6,
          ip: req.socket.remoteAddress,
        },
        'request',
      );
    });
    next();
  };
}
