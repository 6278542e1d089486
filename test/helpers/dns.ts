// A tiny authoritative DNS responder on loopback for validation tests: every name in `names`
// answers A 127.0.0.1 (or what is given); everything else is NXDOMAIN. The server under test
// reaches it through --dns-server.
import dgram from 'node:dgram';
import dnsPacket from 'dns-packet';

export interface TestDns {
  server: string;
  set(name: string, ipv4: string | undefined): void;
  close(): Promise<void>;
}

export async function startTestDns(initial: Record<string, string> = {}): Promise<TestDns> {
  const records = new Map<string, string | undefined>(Object.entries(initial).map(([k, v]) => [k.toLowerCase(), v]));
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
    const name = q.name.toLowerCase();
    const known = records.has(name);
    const address = records.get(name);
    const answers: dnsPacket.Answer[] = known && q.type === 'A' && address ? [{ type: 'A', name: q.name, ttl: 1, data: address }] : [];
    const reply = dnsPacket.encode({
      id: query.id,
      type: 'response',
      flags: dnsPacket.AUTHORITATIVE_ANSWER | (known ? 0 : 3), // rcode 3 = NXDOMAIN
      questions: query.questions,
      answers,
    });
    socket.send(reply, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  return {
    server: `127.0.0.1:${port}`,
    set: (name, ip) => records.set(name.toLowerCase(), ip),
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}
