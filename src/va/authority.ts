// The validation authority: decides one challenge and says why; writes nothing (DESIGN.md).
// Each challenge type lives in its own file; this one only dispatches.
import type { ChallengeType, Identifier } from '../core.js';
import { AcmeError } from '../errors.js';
import { validateHttp01 } from './http01.js';
import type { DnsResolver } from './resolver.js';

export interface ValidationRequest {
  type: ChallengeType;
  identifier: Identifier;
  token: string;
  /** RFC 8555 §8.1: token || "." || base64url(JWK thumbprint of the account key). */
  keyAuthorization: string;
}

export interface VaOptions {
  resolver: DnsResolver;
  http01Port: number;
  tlsalpn01Port: number;
  http01TimeoutMs: number;
}

export class ValidationAuthority {
  constructor(private readonly o: VaOptions) {}

  /** Resolves when the challenge is met; throws the AcmeError that explains why not. */
  async validate(req: ValidationRequest): Promise<void> {
    switch (req.type) {
      case 'http-01':
        return validateHttp01(req.identifier, req.token, req.keyAuthorization, {
          resolver: this.o.resolver,
          port: this.o.http01Port,
          httpsPort: this.o.tlsalpn01Port,
          timeoutMs: this.o.http01TimeoutMs,
        });
      default:
        throw new AcmeError('malformed', `challenge type ${req.type} is not offered by this server`);
    }
  }
}
