// keyChange (RFC 8555 §7.3.5): the outer JWS is an ordinary request signed by the account's
// current key (kid); its payload is an inner JWS, signed by the new key and carrying it as
// "jwk", with the same "url" and no nonce, whose payload is {account, oldKey}. Every defect of
// the inner JWS is malformed; an unacceptable new key is badPublicKey, as in newAccount.
import type { Router } from 'express';
import type { JWK } from 'jose';
import { renderAccount } from '../acme/render.js';
import { paths } from '../acme/urls.js';
import { AcmeError } from '../errors.js';
import type { RaContext } from '../ra/context.js';
import { changeKey } from '../ra/key-change.js';
import { bindingForAccount } from '../sa/eab.js';
import { acmePost, requireObjectPayload, sendJson } from './http.js';
import { ALLOWED_ALGORITHMS, importAccountKey, parseJwsObject, verifiedPayload } from './jws.js';

const INNER = 'keyChange inner JWS';

export function mountKeyChange(app: Router, ctx: RaContext): void {
  app.post(
    paths.keyChange,
    acmePost(ctx, 'key-change', ['kid'], async (_req, res, v) => {
      const { jws, header } = parseJwsObject(requireObjectPayload(v), INNER);
      const alg = header.alg;
      if (typeof alg !== 'string' || !(ALLOWED_ALGORITHMS as readonly string[]).includes(alg)) {
        throw new AcmeError('malformed', `${INNER} algorithm ${JSON.stringify(alg)} is not accepted; use one of ${ALLOWED_ALGORITHMS.join(', ')}`);
      }
      if (header.jwk === undefined) throw new AcmeError('malformed', `${INNER} must carry the new key as "jwk" (RFC 8555 §7.3.5)`);
      if (header.kid !== undefined) throw new AcmeError('malformed', `${INNER} must not have a "kid": it is signed by the new key, given as "jwk" (RFC 8555 §7.3.5)`);
      if (header.nonce !== undefined) throw new AcmeError('malformed', `${INNER} must not have a "nonce" (RFC 8555 §7.3.5)`);
      if (header.url !== v.protected.url) throw new AcmeError('malformed', `${INNER} "url" must equal the outer JWS's, ${v.protected.url} (RFC 8555 §7.3.5)`);
      const verified = verifiedPayload(jws, header, importAccountKey(header.jwk, alg), alg, INNER);
      let payload: unknown;
      try {
        payload = JSON.parse(verified.toString('utf8'));
      } catch {
        throw new AcmeError('malformed', `${INNER} payload is not JSON`);
      }
      const p = payload as { account?: unknown; oldKey?: unknown } | null;
      if (typeof p !== 'object' || p === null || Array.isArray(p)) throw new AcmeError('malformed', `${INNER} payload must be {"account": …, "oldKey": …}`);
      if (typeof p.account !== 'string') throw new AcmeError('malformed', `${INNER} payload has no "account" string (RFC 8555 §7.3.5)`);
      if (typeof p.oldKey !== 'object' || p.oldKey === null || Array.isArray(p.oldKey)) throw new AcmeError('malformed', `${INNER} payload has no "oldKey" JWK object (RFC 8555 §7.3.5)`);

      const account = await changeKey(ctx, v.account!, { account: p.account, oldKey: p.oldKey as JWK, newKey: header.jwk as JWK });
      const binding = await bindingForAccount(ctx.db, account.id);
      sendJson(res, 200, renderAccount(account, ctx.urls, binding), { Location: ctx.urls.account(account.id) });
    }),
  );
}
