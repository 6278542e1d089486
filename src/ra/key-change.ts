// Account key rollover (RFC 8555 §7.3.5): once the wfe has verified both JWSs (the outer one
// with the account's current key, the inner one with the new key), the inner payload must name
// this account and its current key, and the new key must belong to no account.
import type { JWK } from 'jose';
import type { Account } from '../core.js';
import { AcmeError } from '../errors.js';
import * as sa from '../sa/accounts.js';
import { jwkThumbprint } from '../acme/thumbprint.js';
import { publicJwk } from './accounts.js';
import type { RaContext } from './context.js';

export interface KeyChangeRequest {
  /** The inner payload's "account": must be the outer JWS's kid. */
  account: string;
  /** The inner payload's "oldKey": must be the account's current key. */
  oldKey: JWK;
  /** The inner JWS's "jwk", verified to have signed it. */
  newKey: JWK;
}

export async function changeKey(ctx: RaContext, account: Account, req: KeyChangeRequest): Promise<Account> {
  const url = ctx.urls.account(account.id);
  if (req.account !== url) throw new AcmeError('malformed', `keyChange inner payload "account" is "${req.account.slice(0, 200)}", not the account that signed the request, ${url} (RFC 8555 §7.3.5)`);
  let oldThumbprint: string;
  try {
    oldThumbprint = jwkThumbprint(req.oldKey);
  } catch (err) {
    throw new AcmeError('malformed', `keyChange inner payload "oldKey" is not a JWK: ${(err as Error).message}`);
  }
  if (oldThumbprint !== account.keyThumbprint) throw new AcmeError('malformed', 'keyChange inner payload "oldKey" is not the account\'s current key (RFC 8555 §7.3.5)');
  const newThumbprint = jwkThumbprint(req.newKey);
  if (newThumbprint === account.keyThumbprint) throw new AcmeError('malformed', 'keyChange: the new key is the account\'s current key; sign the inner JWS with a new key');

  const conflict = (holder: string) =>
    new AcmeError('conflict', `the new key already belongs to the account ${ctx.urls.account(holder)} (RFC 8555 §7.3.5)`, { headers: { Location: ctx.urls.account(holder) } });
  const holder = await sa.accountByThumbprint(ctx.db, newThumbprint);
  if (holder) throw conflict(holder.id);

  const result = await sa.changeAccountKey(ctx.db, account.id, account.keyThumbprint, newThumbprint, publicJwk(req.newKey));
  if (result.status === 'conflict') throw conflict(result.accountId);
  if (result.status === 'stale') throw new AcmeError('unauthorized', 'the account key changed (or the account was deactivated) while this request was on its way; sign again with the current key');
  ctx.log.info({ audit: 'account-key-changed', account: account.id, oldKey: oldThumbprint, newKey: newThumbprint }, 'account key changed');
  return result.account;
}
