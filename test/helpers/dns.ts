// A tiny authoritative DNS responder on loopback for validation tests, over UDP and TCP (the
// resolver retries over TCP when a UDP answer is truncated, RFC 7766). Every name given to
// startTestDns answers A 127.0.0.1 (or what is given); TXT and CAA records, and failures
// (SERVFAIL, REFUSED), are set per name; any other name is NXDOMAIN. The server under test reaches
// it through --dns-server. An HTTP control endpoint adds and removes TXT records, for certbot's
// manual hooks: POST/DELETE <control>/txt?name=…&value=…
import dgram from 'node:dgram';
import http from 'node:http';
import net from 'node:net';
import dnsPacket from 'dns-packet';

/** A CAA record (RFC 8659 §4.1); flags 128 is the issuer-critical flag. */
export interface TestCaa {
  flags?: number;
  tag: string;
  value: string;
}

export interface TestDns {
  /** HOST:PORT for --dns-server. */
  server: string;
  /** Base URL of the HTTP control endpoint. */
  control: string;
  /** The A record of a name; undefined keeps the name but without an address. */
  set(name: string, ipv4: string | undefined): void;
  /** Replaces the TXT records of a name (undefined removes them); an array is one record of several strings. */
  setTxt(name: string, values: (string | string[])[] | undefined): void;
  addTxt(name: string, value: string): void;
  /** Replaces the CAA RRset of a name (undefined removes it). */
  setCaa(name: string, records: TestCaa[] | undefined): void;
  /** Makes every query for a name fail with this response code, or stops that. */
  fail(name: string, rcode: 'SERVFAIL' | 'REFUSED' | undefined): void;
  /** Forgets a name entirely: it becomes NXDOMAIN. */
  remove(name: string): void;
  /** Names queried so far, as "TYPE name", for tests that check what was looked up. */
  queries: string[];
  close(): Promise<void>;
}

interface Entry {
  a?: string | undefined;
  txt?: (string | string[])[] | undefined;
  caa?: TestCaa[] | undefined;
  rcode?: 'SERVFAIL' | 'REFUSED' | undefined;
}

const RCODE = { NOERROR: 0, SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 } as const;
/** RFC 1035 §4.2.1: a UDP answer over 512 octets, without EDNS, is truncated. */
const UDP_LIMIT = 512;

export async function startTestDns(initial: Record<string, string> = {}): Promise<TestDns> {
  const zone = new Map<string, Entry>(Object.entries(initial).map(([k, v]) => [k.toLowerCase(), { a: v }]));
  const queries: string[] = [];
  const entry = (name: string): Entry => {
    const key = name.toLowerCase();
    let e = zone.get(key);
    if (!e) zone.set(key, (e = {}));
    return e;
  };

  const answer = (query: dnsPacket.Packet, udp: boolean): Buffer | undefined => {
    const q = query.questions?.[0];
    if (!q) return undefined;
    queries.push(`${q.type} ${q.name}`);
    const e = zone.get(q.name.toLowerCase());
    const answers: dnsPacket.Answer[] = [];
    if (e && !e.rcode) {
      if (q.type === 'A' && e.a) answers.push({ type: 'A', name: q.name, ttl: 0, data: e.a });
      if (q.type === 'TXT') for (const t of e.txt ?? []) answers.push({ type: 'TXT', name: q.name, ttl: 0, data: t });
      // dns-packet's types list only issue, issuewild and iodef; any tag encodes the same way.
      if (q.type === 'CAA') for (const c of e.caa ?? []) answers.push({ type: 'CAA', name: q.name, ttl: 0, data: { flags: c.flags ?? 0, tag: c.tag as 'issue', value: c.value } });
    }
    const rcode = !e ? RCODE.NXDOMAIN : e.rcode ? RCODE[e.rcode] : RCODE.NOERROR;
    const reply = (list: dnsPacket.Answer[], truncated: boolean) =>
      dnsPacket.encode({
        id: query.id,
        type: 'response',
        flags: dnsPacket.AUTHORITATIVE_ANSWER | (truncated ? dnsPacket.TRUNCATED_RESPONSE : 0) | rcode,
        questions: query.questions,
        answers: list,
      });
    const full = reply(answers, false);
    if (!udp) return full;
    const opt = query.additionals?.find((a) => a.type === 'OPT') as { udpPayloadSize?: number } | undefined;
    const limit = Math.max(UDP_LIMIT, opt?.udpPayloadSize ?? 0);
    return full.length <= limit ? full : reply([], true);
  };

  const udp = dgram.createSocket('udp4');
  udp.on('message', (msg, rinfo) => {
    let query: dnsPacket.Packet;
    try {
      query = dnsPacket.decode(msg);
    } catch {
      return;
    }
    const reply = answer(query, true);
    if (reply) udp.send(reply, rinfo.port, rinfo.address);
  });

  // DNS over TCP (RFC 1035 §4.2.2): each message behind a two-octet length.
  const sockets = new Set<net.Socket>();
  const tcp = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
        const len = buffered.readUInt16BE(0);
        const msg = buffered.subarray(2, 2 + len);
        buffered = buffered.subarray(2 + len);
        let reply: Buffer | undefined;
        try {
          reply = answer(dnsPacket.decode(msg), false);
        } catch {
          socket.destroy();
          return;
        }
        if (reply) {
          const prefix = Buffer.alloc(2);
          prefix.writeUInt16BE(reply.length);
          socket.write(Buffer.concat([prefix, reply]));
        }
      }
    });
    socket.on('error', () => {});
  });

  // TCP first on a port the kernel picks, then UDP on the same number (the resolver uses both).
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = tcp.address() as net.AddressInfo;
  await new Promise<void>((resolve, reject) => {
    udp.once('error', reject);
    udp.bind(port, '127.0.0.1', () => resolve());
  });

  const api = {
    set: (name: string, ip: string | undefined) => void (entry(name).a = ip),
    setTxt: (name: string, values: (string | string[])[] | undefined) => void (entry(name).txt = values),
    addTxt: (name: string, value: string) => void (entry(name).txt = [...(entry(name).txt ?? []), value]),
    setCaa: (name: string, records: TestCaa[] | undefined) => void (entry(name).caa = records),
    fail: (name: string, rcode: 'SERVFAIL' | 'REFUSED' | undefined) => void (entry(name).rcode = rcode),
    remove: (name: string) => void zone.delete(name.toLowerCase()),
  };

  const control = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://control');
    const name = url.searchParams.get('name');
    const value = url.searchParams.get('value');
    if (url.pathname !== '/txt' || !name) {
      res.writeHead(404).end();
      return;
    }
    if (req.method === 'POST' && value !== null) api.addTxt(name, value);
    else if (req.method === 'DELETE') api.setTxt(name, value === null ? undefined : (zone.get(name.toLowerCase())?.txt ?? []).filter((t) => t !== value));
    else {
      res.writeHead(405).end();
      return;
    }
    res.writeHead(204).end();
  });
  await new Promise<void>((resolve) => control.listen(0, '127.0.0.1', resolve));

  return {
    server: `127.0.0.1:${port}`,
    control: `http://127.0.0.1:${(control.address() as net.AddressInfo).port}`,
    ...api,
    queries,
    close: async () => {
      control.closeAllConnections();
      for (const s of sockets) s.destroy();
      await Promise.all([
        new Promise<void>((resolve) => udp.close(() => resolve())),
        new Promise((resolve) => tcp.close(resolve)),
        new Promise((resolve) => control.close(resolve)),
      ]);
    },
  };
}
