import assert from 'node:assert/strict';
import { AcmeError } from '../../src/errors.js';

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
