// A loopback DNS responder for benchmarks: every name under the given suffix answers A 127.0.0.1,
// everything else NXDOMAIN. Both attestca (--dns-server) and Pebble (-dnsserver) resolve through it.
import dgram from 'node:dgram';
import dnsPacket from 'dns-packet';

export async function startBenchDns(suffix: string, port = 0): Promise<{ server: string; close(): Promise<void> }> {
  const socket = dgram.createSocket('udp4');
  socket.on('message', (msg, rinfo) => {
    let query: dnsPacket.Packet;
    try {
      query = dnsPacket.decode(msg);
    } catch {
      return;
    }
    const q = query.questions?.[0];
    if (!q) return;
    const ours = q.name.toLowerCase().endsWith(suffix);
    const answers: dnsPacket.Answer[] = ours && q.type === 'A' ? [{ type: 'A', name: q.name, ttl: 60, data: '127.0.0.1' }] : [];
    socket.send(
      dnsPacket.encode({ id: query.id, type: 'response', flags: dnsPacket.AUTHORITATIVE_ANSWER | (ours ? 0 : 3), questions: query.questions, answers }),
      rinfo.port,
      rinfo.address,
    );
  });
  await new Promise<void>((resolve) => socket.bind(port, '127.0.0.1', resolve));
  return { server: `127.0.0.1:${socket.address().port}`, close: () => new Promise((r) => socket.close(() => r())) };
}
