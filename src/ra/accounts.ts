// Account rules (RFC 8555 §7.3): creation, lookup by key, contact and terms-of-service checks.
import type { JWK } from 'jose';
import { jwkThumbprint } from '../acme/thumbprint.js';
import type { Account } from '../core.js';
import { AcmeError } from '../errors.js';
import * as sa from '../sa/accounts.js';
import { newId } from '../sa/ids.js';
import type { RaContext } from './context.js';
import { bindAccount } from './eab.js';
import { takeLimit } from './rate-limits.js';

const MAX_CONTACTS = 10;
// An addr-spec of RFC 5322 §3.4.1 reduced to what mail systems actually accept, ASCII only.
const EMAIL = /^[A-Za-z0-9.!#$%&'*+/=^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;

/** RFC 8555 §7.3: contacts are mailto: URLs; anything else is unsupportedContact. */
export function checkContacts(contact: string[] | undefined): string[] {
  const list = contact ?? [];
  if (list.length > MAX_CONTACTS) throw new AcmeError('invalidContact', `at most ${MAX_CONTACTS} contacts are accepted, got ${list.length}`);
  for (const c of list) {
    if (!c.startsWith('mailto:')) throw new AcmeError('unsupportedContact', `contact "${c.slice(0, 100)}" is not a mailto: URL; only mailto: contacts are supported`);
    const address = c.slice('mailto:'.length);
    if (address.includes('?') || address.includes('#')) throw new AcmeError('invalidContact', `contact "${c}" has header fields or a fragment; give a plain mailto:address`);
    if (!EMAIL.test(address) || address.length > 254) throw new AcmeError('invalidContact', `contact "${c}" is not a valid email address`);
  }
  return list;
}

export interface NewAccountRequest {
  jwk: JWK;
  contact: string[] | undefined;
  termsOfServiceAgreed: boolean | undefined;
  onlyReturnExisting: boolean | undefined;
  ip: string | undefined;
  /** A binding whose MAC and key the wfe has verified (wfe/eab.ts), if the request had one. */
  externalAccountBinding?: { keyId: string; jws: unknown } | undefined;
}

/** RFC 8555 §7.3 and §7.3.1. `created` is false when the key already had an account. */
export async function newAccount(ctx: RaContext, req: NewAccountRequest): Promise<{ account: Account; created: boolean }> {
  const keyThumbprint = jwkThumbprint(req.jwk);
  const existing = await sa.accountByThumbprint(ctx.db, keyThumbprint);
  // RFC 8555 §7.3.6: no request authorized by a deactivated account's key is accepted, this
  // one included, and the refusal is a 401.
  if (existing && existing.status !== 'valid') {
    throw new AcmeError('unauthorized', `the account of this key is ${existing.status}; create an account with another key`, { status: 401 });
  }
  if (existing) return { account: existing, created: false };
  if (req.onlyReturnExisting) throw new AcmeError('accountDoesNotExist', 'no account exists with this key');

  const tos = ctx.config.acme.termsOfService;
  if (tos && req.termsOfServiceAgreed !== true) {
    throw new AcmeError('userActionRequired', `agree to the terms of service at ${tos} (termsOfServiceAgreed: true) to create an account`, {
      headers: { Link: `<${tos}>;rel="terms-of-service"` },
    });
  }
  const contact = checkContacts(req.contact);
  const binding = req.externalAccountBinding;
  if (!binding && ctx.config.acme.externalAccountBinding === 'required') {
    throw new AcmeError('externalAccountRequired', 'this CA requires an external account binding to create an account (RFC 8555 §7.3.4): ask the CA operator for a key id and HMAC key');
  }
  // Counted only when an account is about to be created: looking one up (§7.3.1) takes no slot.
  await takeLimit(ctx, 'accountsPerIp', [req.ip ?? 'unknown']);
  const account = {
    id: newId(),
    keyThumbprint,
    jwk: publicJwk(req.jwk),
    contact,
    tosAgreed: req.termsOfServiceAgreed === true,
    createdAt: ctx.clock.now(),
    createdIp: req.ip,
  };
  const result = binding ? await bindAccount(ctx.db, account, binding) : await sa.createAccount(ctx.db, account);
  if (result.created) ctx.log.info({ audit: 'account-created', account: result.account.id, contact: contact.length, eabKey: binding?.keyId }, 'account created');
  return result;
}

/** RFC 8555 §7.3.2 (contact update) and §7.3.6 (deactivation). */
export async function updateAccount(ctx: RaContext, account: Account, update: { contact?: string[] | undefined; status?: string | undefined }): Promise<Account> {
  let current = account;
  if (update.contact !== undefined) {
    const contact = checkContacts(update.contact);
    current = (await sa.updateAccountContact(ctx.db, account.id, contact)) ?? current;
  }
  if (update.status !== undefined) {
    if (update.status !== 'deactivated') throw new AcmeError('malformed', `an account's status can only be changed to "deactivated", not "${update.status}"`);
    const done = await sa.deactivateAccount(ctx.db, account.id, new AcmeError('unauthorized', 'the account was deactivated (RFC 8555 §7.3.6)').toProblem());
    if (!done) throw new AcmeError('unauthorized', 'account is not valid');
    ctx.log.info({ audit: 'account-deactivated', account: account.id }, 'account deactivated');
    current = done;
  }
  return current;
}

/** Only the public members of a JWK are stored (a client that sends "d" gets malformed earlier). */
export function publicJwk(jwk: JWK): JWK {
  const { kty, crv, x, y, n, e } = jwk;
  return Object.fromEntries(Object.entries({ kty, crv, x, y, n, e }).filter(([, v]) => v !== undefined)) as JWK;
}
