// Builders for the storage suite: accounts, orders and orders at each stage of their life, made
// through the sa functions themselves on a pinned clock, so a test states only what it is about.
import assert from 'node:assert/strict';
import type { Account, Order, ProblemDocument } from '../../src/core.js';
import { createAccount } from '../../src/sa/accounts.js';
import type { Db } from '../../src/sa/db.js';
import { newId } from '../../src/sa/ids.js';
import { beginIssuance } from '../../src/sa/issuance.js';
import { authorizationById, createOrder } from '../../src/sa/orders.js';
import { finishValidation, startValidation } from '../../src/sa/validations.js';

/** The pinned "now" of the suite; every time written to the database is relative to it. */
export const T0 = new Date('2025-06-01T12:00:00.000Z');
export const at = (seconds: number): Date => new Date(T0.getTime() + seconds * 1000);

export const DAY = 24 * 60 * 60;

export const problem = (detail: string): ProblemDocument => ({
  type: 'urn:ietf:params:acme:error:incorrectResponse',
  detail,
  status: 403,
});

export async function makeAccount(db: Db, keyThumbprint = newId()): Promise<Account> {
  const { account } = await createAccount(db, {
    id: newId(),
    keyThumbprint,
    jwk: { kty: 'EC', crv: 'P-256', x: newId(), y: newId() },
    contact: ['mailto:ops@attestca.test'],
    tosAgreed: true,
    createdAt: T0,
    createdIp: '192.0.2.1',
  });
  return account;
}

/** A pending order for `names` (dns identifiers), each authorization offering http-01 and dns-01. */
export async function makeOrder(db: Db, accountId: string, names: string[] = ['a.attestca.test'], options: { expiresAt?: Date; authzExpiresAt?: Date } = {}): Promise<Order> {
  return createOrder(db, {
    id: newId(),
    accountId,
    expiresAt: options.expiresAt ?? at(7 * DAY),
    identifiers: names.map((value) => ({ type: 'dns', value })),
    notBefore: null,
    notAfter: null,
    createdAt: T0,
    authorizations: names.map((value) => ({
      id: newId(),
      identifier: { type: 'dns', value },
      wildcard: false,
      expiresAt: options.authzExpiresAt ?? at(7 * DAY),
      challenges: [
        { id: newId(), type: 'http-01', token: newId() },
        { id: newId(), type: 'dns-01', token: newId() },
      ],
    })),
  });
}

/** The http-01 challenge id of each authorization of the order, in order. */
export async function http01Ids(db: Db, order: Order): Promise<string[]> {
  const ids: string[] = [];
  for (const authzId of order.authzIds) {
    const authz = await authorizationById(db, authzId);
    const ch = authz?.challenges.find((c) => c.type === 'http-01');
    assert.ok(ch, `authorization ${authzId} has an http-01 challenge`);
    ids.push(ch.id);
  }
  return ids;
}

/** An order whose every authorization was validated at T0: status ready. */
export async function makeReadyOrder(db: Db, accountId: string, names?: string[]): Promise<Order> {
  const order = await makeOrder(db, accountId, names);
  for (const id of await http01Ids(db, order)) {
    assert.equal(await claim(db, id, T0, at(60)), true);
    assert.equal(await finishValidation(db, id, { status: 'valid' }, T0), true);
  }
  return order;
}

/** A ready order taken into processing at T0 with a lease until `leaseUntil`. */
export async function makeProcessingOrder(db: Db, accountId: string, csr: Buffer, leaseUntil = at(60)): Promise<Order> {
  const order = await makeReadyOrder(db, accountId);
  assert.equal(await beginIssuance(db, order.id, accountId, csr, T0, leaseUntil, newSerial()), true);
  return order;
}

/** Lower-case hex serial, as the CA writes them (the serials table CHECKs the format). */
export const newSerial = (): string => Buffer.from(newId(), 'base64url').toString('hex');

/** startValidation as the challenge's own account would ask: true when this call moved it to processing. */
export async function claim(db: Db, challengeId: string, now: Date, leaseUntil: Date, deviceResponse: string | null = null): Promise<boolean> {
  const { rows } = await db.query<{ account_id: string }>('SELECT a.account_id FROM challenges c JOIN authorizations a ON a.id = c.authz_id WHERE c.id = $1', [challengeId]);
  return (await startValidation(db, challengeId, rows[0]?.account_id ?? '', now, leaseUntil, deviceResponse)).started;
}
