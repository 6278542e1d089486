import { randomBytes } from 'node:crypto';

/** A random, unguessable resource id: 16 bytes of CSPRNG output, base64url (22 characters). */
export function newId(): string {
  return randomBytes(16).toString('base64url');
}
