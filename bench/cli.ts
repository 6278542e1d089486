// `npm run bench -- --directory URL [flags]`: the load driver against any ACME directory. It
// answers http-01 itself on --http01-port and resolves *.bench.test to 127.0.0.1 on --dns-port;
// configure the server under test to use them (attestca: --http01-port N --dns-server 127.0.0.1:M).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadSimHierarchy } from '../src/devicesim/hierarchy.js';
import { startBenchDns } from './dns.js';
import { runDriver, startHttp01Responder, summarise, type Flow } from './driver.js';

const { values } = parseArgs({
  options: {
    directory: { type: 'string' },
    concurrency: { type: 'string', default: '32' },
    duration: { type: 'string', default: '20' },
    flow: { type: 'string', default: 'http-01' },
    'ca-file': { type: 'string' },
    'http01-port': { type: 'string', default: '5002' },
    'dns-port': { type: 'string', default: '8053' },
    'sim-dir': { type: 'string', default: './device-sim' },
    'serialize-order-authz': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h' },
  },
});

if (values.help || !values.directory) {
  process.stdout.write(`Usage: npm run bench -- --directory URL [--concurrency 32] [--duration 20] [--flow http-01|device-attest]
       [--ca-file roots.pem] [--http01-port 5002] [--dns-port 8053] [--sim-dir ./device-sim] [--serialize-order-authz]
Runs C workers doing whole ACME flows for D seconds and prints certs/s, latency percentiles per
flow and per request type, and errors by problem type. --serialize-order-authz is for Pebble 2.4
only (it deadlocks when newOrder overlaps an authorization fetch). bench/README.md has the A/B
harness that also measures server CPU and memory.
`);
  process.exit(values.help ? 0 : 2);
}

const dns = await startBenchDns('bench.test', Number(values['dns-port']));
const responder = await startHttp01Responder(Number(values['http01-port']));
process.stderr.write(`http-01 responder on 127.0.0.1:${responder.port}, DNS on ${dns.server} (*.bench.test → 127.0.0.1)\n`);
try {
  const result = await runDriver({
    directory: values.directory,
    concurrency: Number(values.concurrency),
    durationMs: Number(values.duration) * 1000,
    flow: values.flow as Flow,
    ca: values['ca-file'] ? readFileSync(values['ca-file'], 'utf8') : undefined,
    nameSuffix: 'bench.test',
    responder,
    serializeOrderAndAuthz: values['serialize-order-authz'] ?? false,
    sim: values.flow === 'device-attest' ? loadSimHierarchy(values['sim-dir']!) : undefined,
  });
  process.stdout.write(JSON.stringify(summarise(result), null, 1) + '\n');
} finally {
  await responder.close();
  await dns.close();
}
