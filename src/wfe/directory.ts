// The directory (RFC 8555 §7.1.1), fresh nonces (§7.2) and the CA certificates for tooling.
import type { Router } from 'express';
import { paths } from '../acme/urls.js';
import type { RaContext } from '../ra/context.js';
import { locals, sendJson } from './http.js';

export function mountDirectory(app: Router, ctx: RaContext): void {
  const { acme } = ctx.config;
  const directory = {
    newNonce: ctx.urls.newNonce,
    newAccount: ctx.urls.newAccount,
    newOrder: ctx.urls.newOrder,
    revokeCert: ctx.urls.revokeCert,
    // RFC 8555 §7.4.1: pre-authorization is offered only while valid authorizations are reused.
    ...(acme.authzReuse > 0 ? { newAuthz: ctx.urls.newAuthz } : {}),
    keyChange: ctx.urls.keyChange,
    // RFC 9773 §4: clients append "/" and a certID.
    renewalInfo: ctx.urls.renewalInfo,
    meta: {
      ...(acme.termsOfService ? { termsOfService: acme.termsOfService } : {}),
      ...(acme.website ? { website: acme.website } : {}),
      caaIdentities: acme.caaIdentities,
      externalAccountRequired: acme.externalAccountBinding === 'required',
      // draft-ietf-acme-profiles §3: profile name → description; absent when none are configured.
      ...(Object.keys(acme.profiles).length ? { profiles: Object.fromEntries(Object.entries(acme.profiles).map(([name, p]) => [name, p.description])) } : {}),
    },
  };
  app.get(paths.directory, (_req, res) => {
    locals(res).resource = 'directory';
    sendJson(res, 200, directory);
  });

  // RFC 8555 §7.2: HEAD answers 200, GET 204; the nonce itself rides in Replay-Nonce.
  app.head(paths.newNonce, (_req, res) => {
    locals(res).resource = 'new-nonce';
    res.setHeader('Cache-Control', 'no-store');
    res.status(200).end();
  });
  app.get(paths.newNonce, (_req, res) => {
    locals(res).resource = 'new-nonce';
    res.setHeader('Cache-Control', 'no-store');
    res.status(204).end();
  });

  app.get(paths.roots, (_req, res) => {
    locals(res).resource = 'roots';
    res.type('application/pem-certificate-chain').send(ctx.ca.rootsPem);
  });
  app.get(paths.intermediates, (_req, res) => {
    locals(res).resource = 'intermediates';
    res.type('application/pem-certificate-chain').send(ctx.ca.intermediatesPem);
  });
}
