import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { AcmeProblemError, AcmeTransportError, shortType } from '../devicesim/acme-client.js';
import { breakModes, DEFAULT_OS_VERSION, DEFAULT_SOFTWARE_UPDATE_DEVICE_ID, type BreakMode } from '../devicesim/attestation.js';
import { deviceKeyTypes, runDeviceSim, type DeviceKeyType } from '../devicesim/device.js';
import { initSimHierarchy, loadSimHierarchy, SimHierarchyError } from '../devicesim/hierarchy.js';
import { parseFlags, UsageError } from './common.js';

export const deviceSimHelp = `attestca device-sim: a simulated Apple device for testing device-attest-01

Usage: attestca device-sim init [--dir DIR]
       attestca device-sim --directory URL --serial SERIAL [--udid UDID] [flags]

Behaves like an Apple device that MDM configured with a com.apple.security.acme payload with
HardwareBound=true and Attest=true, so that an ACME server and an MDM setup can be tested
without devices. The attestation is signed by the simulator's own TEST hierarchy, not by Apple:
a server accepts it only when started with
  attestca serve --attestation-root apple=DIR/root.pem

init writes that hierarchy to DIR (default ./device-sim): root.pem ("attestca Device Simulator
Root"), sub.pem ("attestca Device Simulator Attestation Sub CA"), ECDSA P-384 like Apple's, and
their keys root.key.pem and sub.key.pem.
  WARNING: the keys are UNENCRYPTED test material. Whoever holds sub.key.pem can forge an
  attestation for any device. Never let a production CA trust this root.
init never overwrites an existing hierarchy.

Without init, the device: creates its key (the Secure Enclave key of a real device); creates an
ACME account; orders a certificate for {"type":"permanent-identifier","value":CLIENT_ID};
answers the device-attest-01 challenge with an Apple-format attestation (leaf for its key with
serial, UDID, OS versions and freshness code SHA-256(token), issued by the simulator's Sub CA);
finalizes with a CSR for the same key (subject CN=CLIENT_ID); waits up to 30 s for the order;
and prints the certificate chain (PEM) on stdout, or writes it to --out. Progress goes to stderr.
Exit status: 0 issued; 1 the server refused (its problem is printed) or could not be reached;
2 bad flags or no hierarchy.

Flags:
  --dir DIR                     (init) where to write the hierarchy (default ./device-sim)
  --directory URL               the ACME directory URL (the payload's DirectoryURL; https only)
  --serial SERIAL               the device serial number (attested in 1.2.840.113635.100.8.9.1)
  --udid UDID                   the device UDID (attested in 1.2.840.113635.100.8.9.2; default: none)
  --client-identifier VALUE     the payload's ClientIdentifier, sent as the permanent-identifier
                                (default: the serial)
  --key-type p256|p384          the device key, the payload's KeySize 256 or 384 (default p256)
  --os-version VERSION          OS, sepOS and LLB version attested (default ${DEFAULT_OS_VERSION})
  --software-update-device-id ID  board ID attested in 1.2.840.113635.100.8.9.4 (default ${DEFAULT_SOFTWARE_UPDATE_DEVICE_ID})
  --sim-dir DIR                 the hierarchy made by init (default ./device-sim)
  --ca-file FILE                PEM roots to trust for the server's HTTPS instead of the system's
                                (an attestca server serves its own at <base-url>/ca/roots.pem)
  --insecure                    do not verify the server's HTTPS certificate (throw-away tests only)
  --contact mailto:ADDRESS      account contact (repeatable; default: none)
  --break freshness|serial|key|chain|no-freshness|user-enrollment
                                send a deliberately wrong attestation, for negative tests:
                                freshness  the freshness code is SHA-256 of another token
                                serial     the attested serial (and UDID) belong to another device
                                key        finalize with a different key than the attested one
                                chain      x5c without the Sub CA (leaf only)
                                no-freshness     the leaf has no freshness code at all
                                user-enrollment  the leaf has neither serial nor UDID, as
                                                 with User Enrollment
  --out FILE                    write the certificate chain to FILE instead of stdout
  -h, --help                    this text

Example:
  attestca device-sim init
  attestca serve --attestation-root apple=./device-sim/root.pem     # in another shell
  curl -sk https://localhost:8443/ca/roots.pem > roots.pem
  attestca device-sim --directory https://localhost:8443/directory --ca-file roots.pem \\
    --serial C02SIM000001 --udid 00008103-000A1B2C3D4E001E --out device.pem
`;

const initOptions = {
  dir: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const runOptions = {
  directory: { type: 'string' },
  serial: { type: 'string' },
  udid: { type: 'string' },
  'client-identifier': { type: 'string' },
  'key-type': { type: 'string' },
  'os-version': { type: 'string' },
  'software-update-device-id': { type: 'string' },
  'sim-dir': { type: 'string' },
  'ca-file': { type: 'string' },
  insecure: { type: 'boolean' },
  contact: { type: 'string', multiple: true },
  break: { type: 'string' },
  out: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const DEFAULT_DIR = './device-sim';
const progress = (line: string) => process.stderr.write(`device-sim: ${line}\n`);

async function initCommand(args: string[]): Promise<number> {
  const { values } = parseFlags(args, initOptions);
  if (values.help) {
    process.stdout.write(deviceSimHelp);
    return 0;
  }
  const dir = path.resolve(values.dir ?? DEFAULT_DIR);
  let files: Awaited<ReturnType<typeof initSimHierarchy>>;
  try {
    files = await initSimHierarchy(dir, new Date());
  } catch (err) {
    if (err instanceof SimHierarchyError) throw new UsageError(err.message);
    throw err;
  }
  process.stdout.write(
    `created a TEST device attestation hierarchy (ECDSA P-384) in ${dir}\n` +
      `  root:          ${files.root}  (attestca Device Simulator Root)\n` +
      `  intermediate:  ${files.sub}  (attestca Device Simulator Attestation Sub CA)\n` +
      `  keys:          ${files.rootKey}, ${files.subKey}\n` +
      `\n` +
      `WARNING: these keys are UNENCRYPTED TEST MATERIAL. Anyone who has sub.key.pem can forge a\n` +
      `device attestation that a server trusting root.pem accepts. Never trust this root in production.\n` +
      `\n` +
      `To make a test server accept the simulator's attestations:\n` +
      `  attestca serve --attestation-root apple=${files.root}\n`,
  );
  return 0;
}

const nonEmpty = (v: string | undefined, flag: string): string | undefined => {
  if (v !== undefined && v.length === 0) throw new UsageError(`${flag} must not be empty`);
  return v;
};

export async function deviceSim(args: string[]): Promise<number> {
  if (args[0] === 'init') return initCommand(args.slice(1));
  const { values } = parseFlags(args, runOptions);
  if (values.help) {
    process.stdout.write(deviceSimHelp);
    return 0;
  }
  if (!values.directory) throw new UsageError('--directory URL is required (the ACME directory, e.g. https://localhost:8443/directory)');
  if (!values.serial) throw new UsageError('--serial SERIAL is required');
  let directory: URL;
  try {
    directory = new URL(values.directory);
  } catch {
    throw new UsageError(`--directory is not a URL: "${values.directory}"`);
  }
  if (directory.protocol !== 'https:') throw new UsageError('--directory must be an https URL: Apple devices refuse a DirectoryURL that is not https');
  const keyType = (values['key-type'] ?? 'p256') as DeviceKeyType;
  if (!deviceKeyTypes.includes(keyType)) throw new UsageError(`--key-type must be one of ${deviceKeyTypes.join(', ')}, not "${keyType}"`);
  const breakMode = values.break as BreakMode | undefined;
  if (breakMode !== undefined && !breakModes.includes(breakMode)) throw new UsageError(`--break must be one of ${breakModes.join(', ')}, not "${breakMode}"`);
  for (const c of values.contact ?? []) if (!c.startsWith('mailto:')) throw new UsageError(`--contact must be a mailto: URL, not "${c}"`);
  if (values['ca-file'] && values.insecure) throw new UsageError('--ca-file and --insecure contradict each other; choose one');

  let caPem: string | undefined;
  if (values['ca-file']) {
    try {
      caPem = readFileSync(values['ca-file'], 'utf8');
    } catch (err) {
      throw new UsageError(`--ca-file ${values['ca-file']} cannot be read (${(err as NodeJS.ErrnoException).code})`);
    }
    if (!caPem.includes('-----BEGIN CERTIFICATE-----')) throw new UsageError(`--ca-file ${values['ca-file']} holds no PEM certificate`);
  }
  let hierarchy: ReturnType<typeof loadSimHierarchy>;
  try {
    hierarchy = loadSimHierarchy(path.resolve(values['sim-dir'] ?? DEFAULT_DIR));
  } catch (err) {
    if (err instanceof SimHierarchyError) throw new UsageError(err.message);
    throw err;
  }
  if (values.insecure) {
    process.stderr.write('device-sim: WARNING: --insecure: the server\'s HTTPS certificate is NOT verified; anyone on the path can impersonate it\n');
  }

  try {
    const result = await runDeviceSim({
      directoryUrl: directory.href,
      hierarchy,
      serial: values.serial,
      udid: nonEmpty(values.udid, '--udid'),
      clientIdentifier: nonEmpty(values['client-identifier'], '--client-identifier'),
      keyType,
      osVersion: nonEmpty(values['os-version'], '--os-version'),
      softwareUpdateDeviceId: nonEmpty(values['software-update-device-id'], '--software-update-device-id'),
      caPem,
      insecure: values.insecure,
      contact: values.contact,
      break: breakMode,
      progress,
    });
    if (values.out) {
      writeFileSync(values.out, result.chainPem);
      progress(`certificate chain written to ${values.out}`);
    } else {
      process.stdout.write(result.chainPem.endsWith('\n') ? result.chainPem : `${result.chainPem}\n`);
    }
    return 0;
  } catch (err) {
    if (err instanceof AcmeProblemError) {
      process.stderr.write(`attestca device-sim: the server refused at ${err.step}: ${shortType(err.problem.type)}: ${err.problem.detail ?? '(no detail)'}\n`);
      for (const s of err.problem.subproblems ?? []) {
        process.stderr.write(`  ${s.identifier ? `${s.identifier.type} "${s.identifier.value}": ` : ''}${shortType(s.type)}: ${s.detail ?? ''}\n`);
      }
      return 1;
    }
    if (err instanceof AcmeTransportError) {
      process.stderr.write(`attestca device-sim: ${err.message}\n`);
      if (err.code && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ALTNAME/.test(err.code)) {
        process.stderr.write(`  the server's HTTPS certificate is not trusted: give its root with --ca-file (attestca serves it at <base-url>/ca/roots.pem)\n`);
      }
      return 1;
    }
    throw err;
  }
}
