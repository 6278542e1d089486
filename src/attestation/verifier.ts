// The contract every attestation format verifier follows (one format per file, STYLE.md habit 4).
// A verifier is pure: the decoded statement, the values it must match, its own trust anchors and
// the time come in; facts come out, or an AttestationError naming the failed check. Policy (which
// formats, which identifiers, OS versions) is decided by va/ra, never here.

export interface AttestationInput {
  /** attStmt of the attestation object, decoded (CBOR map with text keys). */
  attStmt: Map<string, unknown>;
  /** The challenge token (Apple's freshness code is SHA-256 of it). */
  token: string;
  /** RFC 8555 §8.1 key authorization: token "." base64url(JWK thumbprint of the account key). */
  keyAuthorization: string;
  /** DER trust anchors for this format only (draft-ietf-acme-device-attest §5: per-format trust). */
  anchors: Uint8Array[];
  /** Verification time. */
  at: Date;
}

export interface HardwareModule {
  /** hwType OID (RFC 4108 §5). */
  type: string;
  /** hwSerialNum, as the text that goes into the identifier value. */
  serial: string;
}

export interface AttestationFacts {
  format: string;
  /** Values a permanent-identifier order may name (Apple: serial and UDID; YubiKey: serial). */
  permanentIdentifiers: string[];
  hardwareModules: HardwareModule[];
  /** DER SubjectPublicKeyInfo of the attested key; the CSR key must equal it at finalize. */
  attestedSpki: Buffer;
  /** Device claims for policy and the record (OS version, firmware, security level…). */
  claims: Record<string, string | number | boolean>;
  /** The verified chain, leaf first, DER. */
  chain: Buffer[];
}

/** A failed check. `check` is a short stable name for logs and tests; `detail` is for people. */
export class AttestationError extends Error {
  override name = 'AttestationError';
  constructor(
    readonly check: string,
    readonly detail: string,
  ) {
    super(detail);
  }
}

export type AttestationVerifier = (input: AttestationInput) => AttestationFacts;

/** The attStmt member `key`, which must be present and of the given kind. */
export function member<T>(attStmt: Map<string, unknown>, key: string, kind: 'bytes' | 'array' | 'string' | 'number', check: string): T {
  const v = attStmt.get(key);
  if (v === undefined) throw new AttestationError(check, `attStmt has no "${key}"`);
  const ok = kind === 'bytes' ? v instanceof Uint8Array : kind === 'array' ? Array.isArray(v) : typeof v === kind;
  if (!ok) throw new AttestationError(check, `attStmt "${key}" is not ${kind === 'array' ? 'an array' : kind === 'bytes' ? 'a byte string' : `a ${kind}`}`);
  return v as T;
}

/** attStmt.x5c: a non-empty array of DER certificates, leaf first (WebAuthn §8). */
export function x5c(attStmt: Map<string, unknown>): Buffer[] {
  const list = member<unknown[]>(attStmt, 'x5c', 'array', 'x5c');
  if (!list.length) throw new AttestationError('x5c', 'attStmt "x5c" is empty');
  return list.map((c, i) => {
    if (!(c instanceof Uint8Array)) throw new AttestationError('x5c', `x5c[${i}] is not a byte string`);
    return Buffer.from(c);
  });
}
