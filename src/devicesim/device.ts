// One simulated Apple device obtaining its certificate the way a device does when MDM installs a
// com.apple.security.acme payload with HardwareBound=true and Attest=true (Apple Device
// Management, "ACMECertificate"; /work/shared/notes/mdm-and-scep.md §1.3):
//   1. generate the hardware-bound key (KeyType ECSECPrimeRandom, KeySize 256 or 384);
//   2. newAccount, then newOrder for [{type: "permanent-identifier", value: ClientIdentifier}];
//   3. answer the device-attest-01 challenge with {"attObj": …} whose freshness code is
//      SHA-256(token) (draft-ietf-acme-device-attest-09 §5; Apple Developer Forums 783599);
//   4. finalize with a CSR for the attested key, subject CN = ClientIdentifier;
//   5. poll the order, download the chain.
// The attestation comes from the simulator's own hierarchy (hierarchy.ts), so a server accepts it
// only when it trusts that root for the "apple" format.
import { createPublicKey, generateKeyPairSync, webcrypto, type KeyObject } from 'node:crypto';
import https from 'node:https';
import type { Clock } from '../clock.js';
import { x509 } from '../pki/x509.js';
import { AcmeClient, AcmeProblemError, type Problem } from './acme-client.js';
import {
  buildAttestation,
  DEFAULT_OS_VERSION,
  DEFAULT_SOFTWARE_UPDATE_DEVICE_ID,
  ecSigner,
  type BreakMode,
  type DeviceFacts,
} from './attestation.js';
import { issuerOf, type SimHierarchy } from './hierarchy.js';

export type DeviceKeyType = 'p256' | 'p384';
export const deviceKeyTypes: readonly DeviceKeyType[] = ['p256', 'p384'];

export interface DeviceSimOptions {
  directoryUrl: string;
  /** The simulator's hierarchy, from loadSimHierarchy(). */
  hierarchy: SimHierarchy;
  serial: string;
  udid?: string;
  /** The payload's ClientIdentifier, sent as the permanent-identifier value; default: the serial. */
  clientIdentifier?: string;
  keyType?: DeviceKeyType;
  osVersion?: string;
  softwareUpdateDeviceId?: string;
  /** PEM roots to trust for the server's HTTPS instead of Node's default trust store. */
  caPem?: string;
  /** Skip TLS verification (never for anything but a throw-away test server). */
  insecure?: boolean;
  contact?: string[];
  break?: BreakMode;
  /** How long to wait for a challenge or the order to settle; default 30 s. */
  pollTimeoutMs?: number;
  clock?: Clock;
  /** Progress lines ("account …", "order …"); the CLI writes them to stderr. */
  progress?: (line: string) => void;
}

export interface DeviceSimResult {
  /** The downloaded certificate chain, PEM, as the server sent it (leaf first). */
  chainPem: string;
  /** The device key the certificate was requested for (with break "key", not the attested one). */
  certKey: KeyObject;
  /** The attested ("Secure Enclave") key. */
  deviceKey: KeyObject;
  accountUrl: string;
  orderUrl: string;
}

export interface DeviceKeys {
  /** The key the attestation certifies. */
  deviceKey: KeyObject;
  /** The key the CSR carries: the same one, except with break "key". */
  csrKey: KeyObject;
}

export function deviceKeys(keyType: DeviceKeyType = 'p256', breakMode?: BreakMode): DeviceKeys {
  const make = () => generateKeyPairSync('ec', { namedCurve: keyType === 'p384' ? 'P-384' : 'P-256' }).privateKey;
  const deviceKey = make();
  return { deviceKey, csrKey: breakMode === 'key' ? make() : deviceKey };
}

export function deviceFacts(o: Pick<DeviceSimOptions, 'serial' | 'udid' | 'osVersion' | 'softwareUpdateDeviceId'>): DeviceFacts {
  const os = o.osVersion ?? DEFAULT_OS_VERSION;
  // Real Mac leaves carry the same string for OS, sepOS and LLB (test/fixtures/apple/README.md).
  return { serial: o.serial, udid: o.udid, osVersion: os, sepOsVersion: os, llbVersion: os, softwareUpdateDeviceId: o.softwareUpdateDeviceId ?? DEFAULT_SOFTWARE_UPDATE_DEVICE_ID };
}

/**
 * The finalize CSR (PKCS #10) for `key`, subject CN = the ClientIdentifier and no SANs: the draft
 * lets the client omit permanent-identifier from the CSR (draft-09 §3, privacy), and step-ca and
 * Fleet compare the CN with the identifier.
 */
export async function deviceCsr(key: KeyObject, clientIdentifier: string): Promise<Buffer> {
  const { cryptoKey, algorithm } = await ecSigner(key);
  const publicKey = await webcrypto.subtle.importKey('spki', createPublicKey(key).export({ type: 'spki', format: 'der' }), { name: 'ECDSA', namedCurve: key.asymmetricKeyDetails?.namedCurve === 'secp384r1' ? 'P-384' : 'P-256' }, true, ['verify']);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: [{ CN: [clientIdentifier] }],
    keys: { privateKey: cryptoKey, publicKey },
    signingAlgorithm: algorithm,
  });
  return Buffer.from(csr.rawData);
}

const failed = (step: string, resource: { error?: Problem } | undefined, fallback: string): AcmeProblemError =>
  new AcmeProblemError(step, resource?.error ?? { type: 'about:blank', detail: fallback });

export async function runDeviceSim(o: DeviceSimOptions): Promise<DeviceSimResult> {
  const say = o.progress ?? (() => {});
  const now = () => (o.clock ? o.clock.now() : new Date());
  const timeout = o.pollTimeoutMs ?? 30_000;
  const clientIdentifier = o.clientIdentifier ?? o.serial;
  if (!o.serial) throw new Error('a device needs a serial number');
  if (!clientIdentifier) throw new Error('the ClientIdentifier must not be empty');

  const { deviceKey, csrKey } = deviceKeys(o.keyType, o.break);
  const agent = new https.Agent({ ca: o.caPem, rejectUnauthorized: !o.insecure, keepAlive: true });
  try {
    const client = await AcmeClient.connect({ directoryUrl: o.directoryUrl, agent });
    const account = await client.newAccount({ termsOfServiceAgreed: true, ...(o.contact?.length ? { contact: o.contact } : {}) });
    say(`account ${account.url}`);

    const created = await client.post('newOrder', client.directory.newOrder, { identifiers: [{ type: 'permanent-identifier', value: clientIdentifier }] });
    const orderUrl = created.location;
    if (!orderUrl) throw new AcmeProblemError('newOrder', { type: 'about:blank', detail: `HTTP ${created.status} without a Location header` });
    say(`order ${orderUrl} for permanent-identifier "${clientIdentifier}"`);

    for (const authzUrl of (created.json?.authorizations ?? []) as string[]) {
      const authz = (await client.post('authorization', authzUrl)).json;
      if (authz?.status === 'valid') {
        say(`authorization ${authzUrl} is already valid`);
        continue;
      }
      const challenge = (authz?.challenges ?? []).find((c: { type?: string }) => c.type === 'device-attest-01');
      if (!challenge) {
        // Apple: "For compatibility, the ACME server needs to respond with a challenge type of device-attest-01".
        const offered = (authz?.challenges ?? []).map((c: { type?: string }) => c.type).join(', ') || 'none';
        throw new AcmeProblemError('authorization', { type: 'about:blank', detail: `the server offers no device-attest-01 challenge for "${clientIdentifier}" (offered: ${offered})` });
      }
      const built = await buildAttestation({
        devicePublicKey: createPublicKey(deviceKey),
        token: challenge.token,
        device: deviceFacts(o),
        issuer: issuerOf(o.hierarchy),
        now: now(),
        break: o.break,
      });
      say(`attesting serial "${o.serial}"${o.udid ? `, UDID "${o.udid}"` : ''} for challenge ${challenge.url}${o.break ? ` (deliberately broken: ${o.break})` : ''}`);
      const answered = (await client.post('challenge', challenge.url, { attObj: built.attObjText })).json;
      const settled = answered?.status === 'valid' || answered?.status === 'invalid' ? answered : await client.poll('challenge', challenge.url, (c) => c?.status === 'valid' || c?.status === 'invalid', timeout);
      if (settled.status !== 'valid') throw failed('challenge', settled, `challenge ${challenge.url} is ${settled.status}`);
      say('challenge valid');
    }

    let order = await client.poll('order', orderUrl, (r) => r?.status !== 'pending', timeout);
    if (order.status !== 'ready') throw failed('order', order, `order is ${order.status}, not ready`);
    const csr = await deviceCsr(csrKey, clientIdentifier);
    order = (await client.post('finalize', order.finalize, { csr: csr.toString('base64url') })).json;
    if (order?.status !== 'valid' && order?.status !== 'invalid') order = await client.poll('order', orderUrl, (r) => r?.status === 'valid' || r?.status === 'invalid', timeout);
    if (order.status !== 'valid' || typeof order.certificate !== 'string') throw failed('finalize', order, `order is ${order.status} after finalize`);
    say(`order valid; certificate ${order.certificate}`);

    const cert = await client.post('certificate', order.certificate, undefined, 'application/pem-certificate-chain');
    if (!cert.text.includes('-----BEGIN CERTIFICATE-----')) throw new AcmeProblemError('certificate', { type: 'about:blank', detail: `the certificate URL returned no PEM (content-type ${cert.headers['content-type']})` });
    return { chainPem: cert.text, certKey: csrKey, deviceKey, accountUrl: account.url, orderUrl };
  } finally {
    agent.destroy();
  }
}
