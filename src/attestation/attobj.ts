// Decoding the attestation object of a device-attest-01 response (draft-ietf-acme-device-attest
// §5: base64url of a CBOR map with "fmt" and "attStmt", as in WebAuthn §6.5.4). Decoded once,
// strictly: bounded size and depth, no trailing bytes, text keys, the right member types.
import { Decoder } from 'cbor-x';
import { AttestationError } from './verifier.js';

/** Real statements are 1.5–6 KiB; anything near this is not an attestation. */
export const MAX_ATTOBJ_BYTES = 32 * 1024;
const MAX_DEPTH = 8;

const decoder = new Decoder({ mapsAsObjects: false, useRecords: false, int64AsType: 'number' } as ConstructorParameters<typeof Decoder>[0]);

export interface AttestationObject {
  fmt: string;
  attStmt: Map<string, unknown>;
}

function depth(v: unknown, level: number): void {
  if (level > MAX_DEPTH) throw new AttestationError('cbor', `attObj nests deeper than ${MAX_DEPTH} levels`);
  if (Array.isArray(v)) for (const x of v) depth(x, level + 1);
  else if (v instanceof Map) for (const [k, x] of v) {
    depth(k, level + 1);
    depth(x, level + 1);
  }
}

/** From the base64url text of the challenge payload to the decoded object, or AttestationError. */
export function decodeAttObj(text: string): AttestationObject {
  if (text.length === 0) throw new AttestationError('attObj', 'attObj is empty');
  if (!/^[A-Za-z0-9_-]+$/.test(text)) throw new AttestationError('attObj', 'attObj is not base64url without padding');
  if (text.length > Math.ceil((MAX_ATTOBJ_BYTES * 4) / 3)) throw new AttestationError('attObj', `attObj is larger than ${MAX_ATTOBJ_BYTES} bytes`);
  const bytes = Buffer.from(text, 'base64url');
  let value: unknown;
  try {
    value = decoder.decode(bytes);
  } catch (err) {
    throw new AttestationError('cbor', `attObj is not well-formed CBOR: ${(err as Error).message}`);
  }
  depth(value, 0);
  if (!(value instanceof Map)) throw new AttestationError('cbor', 'attObj is not a CBOR map');
  const fmt = value.get('fmt');
  const attStmt = value.get('attStmt');
  if (typeof fmt !== 'string' || fmt.length === 0) throw new AttestationError('cbor', 'attObj has no "fmt" text string');
  if (!(attStmt instanceof Map)) throw new AttestationError('cbor', 'attObj has no "attStmt" map');
  for (const k of attStmt.keys()) if (typeof k !== 'string') throw new AttestationError('cbor', 'attStmt has a key that is not a text string');
  return { fmt, attStmt: attStmt as Map<string, unknown> };
}
