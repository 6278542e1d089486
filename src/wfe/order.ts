// newOrder (RFC 8555 §7.4), the order resource (§7.1.3) and finalize (§7.4).
import type { Router } from 'express';
import { effectiveOrderStatus } from '../core.js';
import { finalizePayload, newOrderPayload } from '../acme/payloads.js';
import { renderOrder } from '../acme/render.js';
import { paths } from '../acme/urls.js';
import { AcmeError, notFound } from '../errors.js';
import type { RaContext } from '../ra/context.js';
import { finalizeOrder } from '../ra/finalize.js';
import { newOrder } from '../ra/orders.js';
import { orderById } from '../sa/orders.js';
import { acmePost, param, requireObjectPayload, requirePostAsGet, sendJson } from './http.js';
import { parsePayload } from './validate.js';

/** How soon a client should poll a processing order again (RFC 8555 §7.4). */
const RETRY_AFTER_SECONDS = '1';

export function mountOrder(app: Router, ctx: RaContext): void {
  const headersFor = (status: string, id: string): Record<string, string> => ({
    Location: ctx.urls.order(id),
    ...(status === 'processing' ? { 'Retry-After': RETRY_AFTER_SECONDS } : {}),
  });

  app.post(
    paths.newOrder,
    acmePost(ctx, 'new-order', ['kid'], async (_req, res, v) => {
      const p = parsePayload(newOrderPayload, requireObjectPayload(v), 'newOrder');
      const order = await newOrder(ctx, v.account!, p);
      sendJson(res, 201, renderOrder(order, ctx.urls, ctx.clock.now()), { Location: ctx.urls.order(order.id) });
    }),
  );

  app.post(
    paths.order,
    acmePost(ctx, 'order', ['kid'], async (req, res, v) => {
      requirePostAsGet(v);
      const order = await orderById(ctx.db, param(req, 'id'));
      if (!order) throw notFound('order');
      if (order.accountId !== v.account!.id) throw new AcmeError('unauthorized', 'this order belongs to another account');
      const now = ctx.clock.now();
      sendJson(res, 200, renderOrder(order, ctx.urls, now), headersFor(effectiveOrderStatus(order, now), order.id));
    }),
  );

  app.post(
    paths.finalize,
    acmePost(ctx, 'finalize', ['kid'], async (req, res, v) => {
      const p = parsePayload(finalizePayload, requireObjectPayload(v), 'finalize');
      const order = await finalizeOrder(ctx, v.account!, param(req, 'id'), p.csr);
      const now = ctx.clock.now();
      sendJson(res, 200, renderOrder(order, ctx.urls, now), headersFor(effectiveOrderStatus(order, now), order.id));
    }),
  );
}
