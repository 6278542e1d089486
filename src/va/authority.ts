// The validation authority: decides one challenge and says why; writes nothing (DESIGN.md).
// Each challenge type lives in its own file; this one dispatches, then checks CAA when enabled.
import type { Config } from '../config.js';
import type { ChallengeType, Identifier } from '../core.js';
import { AcmeError } from '../errors.js';
import { checkCaa } from './caa.js';
import { formatVerifiers, validateDeviceAttest01, type DeviceEvidence, type FormatVerifier } from './device-attest01.js';
import { validateDns01 } from './dns01.js';
import { validateHttp01 } from './http01.js';
import type { DnsResolver } from './resolver.js';
import { validateTlsAlpn01 } from './tlsalpn01.js';

export interface ValidationRequest {
  type: ChallengeType;
  /** The authorization's identifier: for a wildcard, the base name without "*." (RFC 8555 §7.1.3). */
  identifier: Identifier;
  /** The authorization is for the wildcard of `identifier` (RFC 8555 §7.1.4). */
  wildcard: boolean;
  /** The account URL, for CAA accounturi (RFC 8657 §3). */
  accountUri: string;
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
  tlsalpn01TimeoutMs: number;
  /** CAA checking (RFC 8659): off, or on with the issuer domain names this CA answers to. */
  caa: { enabled: boolean; identities: string[] };
  deviceAttest: Config['deviceAttest'];
}

export class ValidationAuthority {
  private readonly verifiers: Map<string, FormatVerifier>;

  constructor(private readonly o: VaOptions) {
    this.verifiers = formatVerifiers(o.deviceAttest);
  }

  /**
   * Resolves when the challenge is met (and CAA, when enabled, allows issuance), with the
   * evidence for device-attest-01; throws the AcmeError that explains why not.
   */
  async validate(req: ValidationRequest): Promise<DeviceEvidence | undefined> {
    if (req.wildcard && req.type !== 'dns-01') {
      // Only control of the DNS zone shows control of every name under the base (ra/orders.ts
      // offers nothing else for a wildcard); fail closed all the same.
      throw new AcmeError('unauthorized', `a wildcard authorization can only be validated by dns-01, not ${req.type}`);
    }
    const evidence = await this.challenge(req);
    // RFC 8659 applies to domain names; ip identifiers (RFC 8738) and devices have no CAA.
    if (this.o.caa.enabled && req.identifier.type === 'dns') {
      await checkCaa(
        { name: req.identifier.value, wildcard: req.wildcard, accountUri: req.accountUri, method: req.type },
        { resolver: this.o.resolver, identities: this.o.caa.identities },
      );
    }
    return evidence;
  }

  private async challenge(req: ValidationRequest): Promise<DeviceEvidence | undefined> {
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
      case 'dns-01':
        await validateDns01(req.identifier, req.keyAuthorization, { resolver: this.o.resolver });
        return undefined;
      case 'tls-alpn-01':
        await validateTlsAlpn01(req.identifier, req.keyAuthorization, {
          resolver: this.o.resolver,
          port: this.o.tlsalpn01Port,
          timeoutMs: this.o.tlsalpn01TimeoutMs,
        });
        return undefined;
      default:
        throw new AcmeError('malformed', `challenge type ${req.type} is not offered by this server`);
    }
  }
}
