// The validation authority: decides one challenge and says why; writes nothing (DESIGN.md).
// Each challenge type lives in its own file; this one only dispatches.
import type { Config } from '../config.js';
import type { ChallengeType, Identifier } from '../core.js';
import { AcmeError } from '../errors.js';
import { formatVerifiers, validateDeviceAttest01, type DeviceEvidence, type FormatVerifier } from './device-attest01.js';
import { validateHttp01 } from './http01.js';
import type { DnsResolver } from './resolver.js';

export interface ValidationRequest {
  type: ChallengeType;
  identifier: Identifier;
  token: string;
  /** RFC 8555 §8.1: token || "." || base64url(JWK thumbprint of the account key). */
  keyAuthorization: string;
  /** What the client sent with its response (device-attest-01: the attObj), as stored. */
  payload: string | null;
  /** The time the validation runs at. */
  at: Date;
}

export interface VaOptions {
  resolver: DnsResolver;
  http01Port: number;
  tlsalpn01Port: number;
  http01TimeoutMs: number;
  deviceAttest: Config['deviceAttest'];
}

export class ValidationAuthority {
  private readonly verifiers: Map<string, FormatVerifier>;

  constructor(private readonly o: VaOptions) {
    this.verifiers = formatVerifiers(o.deviceAttest);
  }

  /**
   * Resolves when the challenge is met, with the evidence for device-attest-01; throws the
   * AcmeError that explains why not.
   */
  async validate(req: ValidationRequest): Promise<DeviceEvidence | undefined> {
    switch (req.type) {
      case 'device-attest-01':
        return validateDeviceAttest01(req, this.verifiers, this.o.deviceAttest);
      case 'http-01':
        await validateHttp01(req.identifier, req.token, req.keyAuthorization, {
          resolver: this.o.resolver,
          port: this.o.http01Port,
          httpsPort: this.o.tlsalpn01Port,
          timeoutMs: this.o.http01TimeoutMs,
        });
        return undefined;
      default:
        throw new AcmeError('malformed', `challenge type ${req.type} is not offered by this server`);
    }
  }
}
