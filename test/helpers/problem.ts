// Asserting RFC 7807 problem documents with their ACME error types (RFC 8555 §6.7).
import assert from 'node:assert/strict';
import { AcmeError } from '../../src/errors.js';
import type { HttpResult } from './acme.js';

export const ACME_ERROR = 'urn:ietf:params:acme:error:';

export interface Problem {
  type: string;
  status: number;
  detail: string;
  subproblems?: { type: string; detail: string; identifier?: { type: string; value: string } }[];
}

/** The response is one problem document of `type` (short name) and HTTP `status`, with a fresh nonce. */
export function assertProblem(r: HttpResult, type: string, status: number): Problem {
  assert.equal(r.status, status, `HTTP status; body: ${r.text}`);
  assert.match(String(r.headers['content-type']), /^application\/problem\+json(;|$)/, `Content-Type; body: ${r.text}`);
  const p = r.json as Problem;
  assert.equal(p?.type, ACME_ERROR + type, `problem type; body: ${r.text}`);
  assert.equal(p.status, status, 'problem status member (RFC 7807 §3.1)');
  assert.equal(typeof p.detail, 'string');
  assert.match(String(r.headers['replay-nonce']), /^[A-Za-z0-9_-]{16,}$/, 'every error response carries a Replay-Nonce (RFC 8555 §6.5)');
  return p;
}

/** The AcmeError a promise rejects with; fails the test when it resolves or throws anything else. */
export async function problem(p: Promise<unknown>): Promise<AcmeError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof AcmeError, `an AcmeError, not ${String(err)}`);
    return err;
  }
  assert.fail('validation should have failed');
}
