// Shared HTTP plumbing of the web front end: sending JSON, authenticating ACME POSTs, naming
// the resource for the request log.
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { AcmeError } from '../errors.js';
import type { RaContext } from '../ra/context.js';
import { verifyRequest, type KeyMode, type VerifiedRequest } from './jws.js';

export interface RequestLocals {
  resource?: string;
  account?: string;
  problem?: string;
}

export const locals = (res: Response): RequestLocals => res.locals as RequestLocals;

export function sendJson(res: Response, status: number, body: unknown, headers: Record<string, string> = {}): void {
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.status(status).type('application/json').send(JSON.stringify(body));
}

/** The full URL the client addressed, as it must appear in the JWS "url" (RFC 8555 §6.4). */
export function requestUrl(ctx: RaContext, req: Request): string {
  return new URL(ctx.urls.base).origin + req.originalUrl;
}

export type AcmePostHandler = (req: Request, res: Response, v: VerifiedRequest) => Promise<void>;

/** A POST route signed per RFC 8555 §6.2, named `resource` in the request log. */
export function acmePost(ctx: RaContext, resource: string, modes: readonly KeyMode[], handler: AcmePostHandler): RequestHandler {
  return async (req: Request, res: Response, next: NextFunction) => {
    locals(res).resource = resource;
    try {
      const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (type !== 'application/jose+json') {
        throw new AcmeError('malformed', `Content-Type must be application/jose+json, not "${type.slice(0, 100)}" (RFC 8555 §6.2)`, { status: 415 });
      }
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      if (body.length === 0) throw new AcmeError('malformed', 'request body is empty; send a JWS');
      const verified = await verifyRequest(ctx, body, requestUrl(ctx, req), modes);
      if (verified.account) locals(res).account = verified.account.id;
      await handler(req, res, verified);
    } catch (err) {
      next(err);
    }
  };
}

/** RFC 8555 §6.3: a POST-as-GET has an empty payload; anything else on a read-only resource is malformed. */
export function requirePostAsGet(v: VerifiedRequest): void {
  if (v.payload !== null) throw new AcmeError('malformed', 'this resource is read with POST-as-GET: send an empty payload');
}

/** An object payload; POST-as-GET (empty) where an object is expected is malformed. */
export function requireObjectPayload(v: VerifiedRequest): Record<string, unknown> {
  if (typeof v.payload !== 'object' || v.payload === null || Array.isArray(v.payload)) throw new AcmeError('malformed', 'payload must be a JSON object');
  return v.payload as Record<string, unknown>;
}

/**
 * Resource ids are base64url (sa/ids.ts) and serials hex; any other text names no resource and
 * is not sent to the database (Postgres text cannot hold NUL, so "%00" would fail the query).
 */
export const isResourceId = (v: unknown): v is string => typeof v === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(v);

/** A path parameter that is a resource id, or '' (which names nothing) when it is not one. */
export const param = (req: Request, name: string): string => {
  const v = req.params[name];
  return isResourceId(v) ? v : '';
};
