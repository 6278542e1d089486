// Account public keys, imported once per instance: turning a JWK into a key object costs more
// than the signature check it serves, and an account signs every request it makes. Entries
// carry the key's thumbprint; the request path compares it with the account as stored, so a
// key rolled over on another instance is noticed on its next use (wfe/jws.ts). Bounded: the
// least recently used entry goes first.
import type { KeyObject } from 'node:crypto';

export interface CachedAccountKey {
  thumbprint: string;
  key: KeyObject;
}

export class AccountKeys {
  private readonly entries = new Map<string, CachedAccountKey>();

  constructor(private readonly capacity = 50_000) {}

  get(accountId: string): CachedAccountKey | undefined {
    const e = this.entries.get(accountId);
    if (e) {
      // Map keeps insertion order: re-inserting makes this the most recently used.
      this.entries.delete(accountId);
      this.entries.set(accountId, e);
    }
    return e;
  }

  put(accountId: string, thumbprint: string, key: KeyObject): CachedAccountKey {
    const e = { thumbprint, key };
    this.entries.delete(accountId);
    this.entries.set(accountId, e);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
    return e;
  }
}
