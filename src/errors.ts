// One error type for the whole server (STYLE.md habit 2). Thrown anywhere, rendered once by
// the wfe as an RFC 7807 problem document. Types are RFC 8555 §6.7, plus the ones added by
// RFC 9773 (alreadyReplaced), draft-ietf-acme-profiles (invalidProfile) and
// draft-ietf-acme-device-attest (badAttestationStatement).

export const problemTypes = {
  accountDoesNotExist: 400,
  alreadyReplaced: 409,
  alreadyRevoked: 400,
  badAttestationStatement: 400,
  badCSR: 400,
  badNonce: 400,
  badPublicKey: 400,
  badRevocationReason: 400,
  badSignatureAlgorithm: 400,
  caa: 403,
  compound: 400,
  conflict: 409,
  connection: 400,
  dns: 400,
  externalAccountRequired: 400,
  incorrectResponse: 403,
  invalidContact: 400,
  invalidProfile: 400,
  malformed: 400,
  orderNotReady: 403,
  rateLimited: 429,
  rejectedIdentifier: 400,
  serverInternal: 500,
  tls: 400,
  unauthorized: 403,
  unsupportedContact: 400,
  unsupportedIdentifier: 400,
  userActionRequired: 403,
} as const;

export type ProblemType = keyof typeof problemTypes;

export const ACME_ERROR_PREFIX = 'urn:ietf:params:acme:error:';

export interface Identifier {
  type: string;
  value: string;
}

export interface Subproblem {
  type: ProblemType;
  detail: string;
  identifier?: Identifier;
}

/** The JSON body of a problem, as stored with a challenge or order and as sent to clients. */
export interface ProblemDocument {
  type: string;
  detail: string;
  status: number;
  subproblems?: { type: string; detail: string; identifier?: Identifier }[];
  algorithms?: string[];
}

export interface AcmeErrorOptions {
  subproblems?: Subproblem[];
  cause?: unknown;
  /** HTTP status when it differs from the type's usual one (404 for an unknown resource). */
  status?: number;
  /** Extra response headers (Link, Retry-After). */
  headers?: Record<string, string>;
  /** RFC 8555 §6.2: badSignatureAlgorithm lists the algorithms the server accepts. */
  algorithms?: string[];
}

export class AcmeError extends Error {
  readonly type: ProblemType;
  readonly detail: string;
  readonly status: number;
  readonly subproblems: Subproblem[] | undefined;
  readonly headers: Record<string, string>;
  readonly algorithms: string[] | undefined;

  constructor(type: ProblemType, detail: string, options: AcmeErrorOptions = {}) {
    super(detail, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AcmeError';
    this.type = type;
    this.detail = detail;
    this.status = options.status ?? problemTypes[type];
    this.subproblems = options.subproblems;
    this.headers = options.headers ?? {};
    this.algorithms = options.algorithms;
  }

  toProblem(): ProblemDocument {
    const doc: ProblemDocument = { type: ACME_ERROR_PREFIX + this.type, detail: this.detail, status: this.status };
    if (this.subproblems?.length) {
      doc.subproblems = this.subproblems.map((s) => ({
        type: ACME_ERROR_PREFIX + s.type,
        detail: s.detail,
        ...(s.identifier ? { identifier: s.identifier } : {}),
      }));
    }
    if (this.algorithms) doc.algorithms = this.algorithms;
    return doc;
  }
}

/** Anything that is not an AcmeError is a serverInternal whose detail the client never sees. */
export function toAcmeError(err: unknown): AcmeError {
  if (err instanceof AcmeError) return err;
  return new AcmeError('serverInternal', 'the server hit an internal error; it has been logged', { cause: err });
}

export const notFound = (what: string): AcmeError => new AcmeError('malformed', `${what} not found`, { status: 404 });
