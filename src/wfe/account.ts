// newAccount (RFC 8555 §7.3, with external account binding §7.3.4), the account resource
// (§7.3.2, §7.3.6) and its orders list (§7.1.2.1).
import type { Router } from 'express';
import { accountUpdatePayload, newAccountPayload } from '../acme/payloads.js';
import { renderAccount } from '../acme/render.js';
import { paths } from '../acme/urls.js';
import { AcmeError } from '../errors.js';
import { newAccount, updateAccount } from '../ra/accounts.js';
import type { RaContext } from '../ra/context.js';
import { bindingForAccount } from '../sa/eab.js';
import { orderIdsByAccount } from '../sa/orders.js';
import { verifyExternalAccountBinding } from './eab.js';
import { acmePost, isResourceId, locals, param, requirePostAsGet, sendJson } from './http.js';
import { parsePayload } from './validate.js';

const ORDERS_PER_PAGE = 50;

export function mountAccount(app: Router, ctx: RaContext): void {
  app.post(
    paths.newAccount,
    acmePost(ctx, 'new-account', ['jwk'], async (req, res, v) => {
      const p = parsePayload(newAccountPayload, v.payload ?? {}, 'newAccount');
      // RFC 8555 §7.3.4: a binding is checked whenever one is sent (fail closed), whether or not
      // the policy requires one; onlyReturnExisting creates nothing and needs none.
      const binding =
        p.externalAccountBinding !== undefined && p.onlyReturnExisting !== true
          ? await verifyExternalAccountBinding(ctx, p.externalAccountBinding, { jwk: v.jwk, url: v.protected.url! })
          : undefined;
      const { account, created } = await newAccount(ctx, {
        jwk: v.jwk,
        contact: p.contact,
        termsOfServiceAgreed: p.termsOfServiceAgreed,
        onlyReturnExisting: p.onlyReturnExisting,
        ip: req.socket.remoteAddress,
        externalAccountBinding: binding,
      });
      locals(res).account = account.id;
      // RFC 8555 §7.3.1: an existing account is returned with 200 and its URL.
      sendJson(res, created ? 201 : 200, renderAccount(account, ctx.urls, await bindingForAccount(ctx.db, account.id)), { Location: ctx.urls.account(account.id) });
    }),
  );

  app.post(
    paths.account,
    acmePost(ctx, 'account', ['kid'], async (req, res, v) => {
      const account = v.account!;
      if (param(req, 'id') !== account.id) throw new AcmeError('unauthorized', 'the request is signed by another account than the one addressed');
      let current = account;
      if (v.payload !== null) {
        const p = parsePayload(accountUpdatePayload, v.payload, 'account update');
        current = await updateAccount(ctx, account, { contact: p.contact, status: p.status });
      }
      sendJson(res, 200, renderAccount(current, ctx.urls, await bindingForAccount(ctx.db, account.id)), { Location: ctx.urls.account(account.id) });
    }),
  );

  app.post(
    paths.accountOrders,
    acmePost(ctx, 'account-orders', ['kid'], async (req, res, v) => {
      requirePostAsGet(v);
      const account = v.account!;
      if (param(req, 'id') !== account.id) throw new AcmeError('unauthorized', "another account's orders cannot be listed");
      const cursor = req.query.cursor;
      if (cursor !== undefined && !isResourceId(cursor)) throw new AcmeError('malformed', 'cursor is not an order id; follow the rel="next" Link');
      const ids = await orderIdsByAccount(ctx.db, account.id, cursor, ORDERS_PER_PAGE + 1, ctx.clock.now());
      const page = ids.slice(0, ORDERS_PER_PAGE);
      const headers: Record<string, string> = {};
      if (ids.length > ORDERS_PER_PAGE) {
        // RFC 8555 §7.1.2.1: further pages are linked with rel="next".
        headers.Link = `<${ctx.urls.accountOrders(account.id)}?cursor=${encodeURIComponent(page.at(-1)!)}>;rel="next"`;
      }
      sendJson(res, 200, { orders: page.map(ctx.urls.order) }, headers);
    }),
  );
}
