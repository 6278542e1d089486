// device-attest-01 (draft-ietf-acme-device-attest-09 §5): the challenge response carries an
// attestation object; it is decoded once, handed to the verifier of its format with that
// format's own trust anchors, and the facts it yields are held against the order's identifier
// and this CA's device policy. Any failure is badAttestationStatement whose detail names the
// failed check; an identifier mismatch adds a rejectedIdentifier subproblem (draft §5, §6.7.1).
import { createHash } from 'node:crypto';
import { androidKeyVerifier } from '../attestation/android-key.js';
import { verifyApple } from '../attestation/apple.js';
import { decodeAttObj } from '../attestation/attobj.js';
import { appleEnterpriseAttestationRootPem } from '../attestation/roots/apple.js';
import { googleAttestationRoots } from '../attestation/roots/google.js';
import { yubicoIntermediatePems, yubicoPivRootPems } from '../attestation/roots/yubico.js';
import { stepVerifier } from '../attestation/step.js';
import { verifyTpm } from '../attestation/tpm.js';
import { AttestationError, type AttestationFacts, type AttestationVerifier } from '../attestation/verifier.js';
import type { AttestationFormat } from '../config-schema.js';
import type { Config } from '../config.js';
import type { Identifier } from '../core.js';
import { AcmeError } from '../errors.js';
import { fromPem } from '../pki/pem.js';

export interface FormatVerifier {
  verify: AttestationVerifier;
  anchors: Buffer[];
}

/** One verifier per enabled format, each with its own anchors: configured ones replace the built-in. */
export function formatVerifiers(policy: Config['deviceAttest']): Map<string, FormatVerifier> {
  const anchors = (format: AttestationFormat, builtIn: () => Buffer[]) => (policy.roots[format] ? fromPem(policy.roots[format]) : builtIn());
  const all: Record<AttestationFormat, () => FormatVerifier> = {
    apple: () => ({ verify: verifyApple, anchors: anchors('apple', () => fromPem(appleEnterpriseAttestationRootPem)) }),
    step: () => ({
      verify: stepVerifier({ extraIntermediates: yubicoIntermediatePems.flatMap((p) => fromPem(p)), allowF9WithoutBasicConstraints: policy.allowYubikeyF9WithoutBasicConstraints }),
      anchors: anchors('step', () => yubicoPivRootPems.flatMap((p) => fromPem(p))),
    }),
    // No public root certifies TPM attestation keys: without configured roots, tpm verifies nothing.
    tpm: () => ({ verify: verifyTpm, anchors: anchors('tpm', () => []) }),
    'android-key': () => ({ verify: androidKeyVerifier(), anchors: anchors('android-key', googleAttestationRoots) }),
  };
  return new Map(policy.formats.map((f) => [f, all[f]()]));
}

export interface DeviceAttestRequest {
  identifier: Identifier;
  token: string;
  keyAuthorization: string;
  /** The stored challenge response: JSON with attObj and/or error. */
  payload: string | null;
  at: Date;
}

export type DeviceEvidence = Pick<AttestationFacts, 'format' | 'attestedSpki' | 'claims' | 'chain'> & {
  attestedIdentifiers: string[];
  statementSha256: string | null;
};

const bad = (detail: string, identifier?: Identifier): AcmeError =>
  new AcmeError('badAttestationStatement', detail, identifier ? { subproblems: [{ type: 'rejectedIdentifier', detail, identifier }] } : {});

/** "17.4.1" ≥ "17.4"? Missing parts count as 0. */
export function versionAtLeast(version: string, minimum: string): boolean {
  const a = version.split('.').map(Number);
  const b = minimum.split('.').map(Number);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (Number.isNaN(x)) return false;
    if (x !== y) return x > y;
  }
  return true;
}

export function allowlisted(policy: Config['deviceAttest'], values: string[]): boolean {
  return policy.allowlist.length === 0 || values.some((v) => policy.allowlist.includes(v));
}

/** The identifier values an attestation vouches for, in the order's identifier type. */
function attestedValues(identifier: Identifier, facts: AttestationFacts): string[] {
  return identifier.type === 'hardware-module' ? facts.hardwareModules.map((h) => `${h.serial}/${h.type}`) : facts.permanentIdentifiers;
}

function describeAttested(facts: AttestationFacts): string {
  const serial = facts.claims.serialNumber;
  const udid = facts.claims.udid;
  if (serial !== undefined && udid !== undefined) return `attested serial ${serial} and UDID ${udid}`;
  if (serial !== undefined) return `attested serial ${serial}`;
  return `attested identifier${facts.permanentIdentifiers.length > 1 ? 's' : ''} ${[...facts.permanentIdentifiers, ...facts.hardwareModules.map((h) => `${h.serial}/${h.type}`)].join(', ')}`;
}

export async function validateDeviceAttest01(req: DeviceAttestRequest, verifiers: Map<string, FormatVerifier>, policy: Config['deviceAttest']): Promise<DeviceEvidence> {
  let response: { attObj?: unknown; error?: unknown };
  try {
    response = JSON.parse(req.payload ?? '{}') as typeof response;
  } catch {
    response = {};
  }
  if (typeof response.attObj !== 'string') {
    // An Apple device that could not attest sends {"error": "…"} (step-ca, iOS 16); one whose
    // payload lacks Attest=true or that cannot attest (T2 Macs) sends no attestation at all.
    const said = typeof response.error === 'string' ? `the device reported: "${response.error.slice(0, 300)}"` : 'the response has no attObj';
    if (policy.attestation === 'optional' && allowlisted(policy, [req.identifier.value])) {
      return { format: 'none', attestedSpki: Buffer.alloc(0), claims: { unattested: true }, chain: [], attestedIdentifiers: [req.identifier.value], statementSha256: null };
    }
    throw bad(
      `the device sent no attestation (${said}); this CA requires one: the MDM's ACME payload needs Attest=true and HardwareBound=true, on a device that supports Managed Device Attestation`,
    );
  }

  let facts: AttestationFacts;
  let statementSha256: string;
  try {
    const obj = decodeAttObj(response.attObj);
    statementSha256 = createHash('sha256').update(Buffer.from(response.attObj, 'base64url')).digest('hex');
    const verifier = verifiers.get(obj.fmt);
    if (!verifier) {
      const known = ['apple', 'step', 'tpm', 'android-key'].includes(obj.fmt);
      throw new AttestationError('format', known ? `attestation format "${obj.fmt}" is not enabled on this CA (enabled: ${[...verifiers.keys()].join(', ') || 'none'})` : `attestation format "${obj.fmt.slice(0, 40)}" is not supported`);
    }
    facts = verifier.verify({ attStmt: obj.attStmt, token: req.token, keyAuthorization: req.keyAuthorization, anchors: verifier.anchors, at: req.at });
  } catch (err) {
    if (err instanceof AttestationError) throw bad(err.detail);
    throw err;
  }

  const values = attestedValues(req.identifier, facts);
  if (!values.length) {
    // An Apple User Enrollment attestation carries neither serial nor UDID (Apple Platform
    // Security, "Managed device attestation"); a TPM AK certificate may name no device.
    throw bad(`the attestation names no device identifier, so it cannot vouch for ${req.identifier.type} ${req.identifier.value}`, req.identifier);
  }
  if (!values.includes(req.identifier.value)) {
    const plural = facts.claims.serialNumber !== undefined && facts.claims.udid !== undefined ? 'do' : 'does';
    throw bad(`${describeAttested(facts)} ${plural} not match identifier ${req.identifier.value}`, req.identifier);
  }
  if (!allowlisted(policy, [req.identifier.value, ...facts.permanentIdentifiers])) {
    throw bad(`device ${req.identifier.value} is not in this CA's device allowlist`, req.identifier);
  }
  const os = facts.claims.osVersion;
  if (policy.minimumOsVersion && (typeof os !== 'string' || !versionAtLeast(os, policy.minimumOsVersion))) {
    throw bad(`OS version ${os ?? '(not attested)'} is below the minimum ${policy.minimumOsVersion} this CA requires`);
  }
  return {
    format: facts.format,
    attestedSpki: facts.attestedSpki,
    claims: facts.claims,
    chain: facts.chain,
    attestedIdentifiers: [...new Set([...facts.permanentIdentifiers, ...facts.hardwareModules.map((h) => `${h.serial}/${h.type}`)])],
    statementSha256,
  };
}
