// What every registration-authority function is handed (STYLE.md habit 6: nothing global).
import type { AccountKeys } from '../acme/account-keys.js';
import type { Nonces } from '../acme/nonce.js';
import type { AcmeUrls } from '../acme/urls.js';
import type { CertificateAuthority } from '../ca/authority.js';
import type { OcspResponder } from '../ca/ocsp.js';
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { Db } from '../sa/db.js';
import type { NonceRedeemer } from '../sa/nonces.js';
import type { ValidationAuthority } from '../va/authority.js';
import type { Background } from './background.js';

export interface RaContext {
  db: Db;
  ca: CertificateAuthority;
  /** Signs OCSP responses with the delegated responder certificate (ra/ocsp-signer.ts keeps it fresh). */
  ocsp: OcspResponder;
  va: ValidationAuthority;
  clock: Clock;
  config: Config;
  log: Logger;
  urls: AcmeUrls;
  background: Background;
  /** Mints and checks replay nonces (RFC 8555 §6.5). */
  nonces: Nonces;
  /** Redeems them, with the signer's account, many requests to a statement (sa/nonces.ts). */
  redeemer: NonceRedeemer;
  /** Account keys imported once per instance (wfe/jws.ts). */
  accountKeys: AccountKeys;
}

export const later = (ctx: Pick<RaContext, 'clock'>, ms: number): Date => new Date(ctx.clock.now().getTime() + ms);
