import { isIP } from 'node:net';

/**
 * The canonical text of an IP address (RFC 5952 for IPv6, dotted quad for IPv4), or undefined
 * when the text is not an address. RFC 8738 §3 compares IP identifiers in this form.
 */
export function canonicalIp(text: string): string | undefined {
  // isIP accepts a zone index ("fe80::1%eth0", RFC 4007 §11), which names no address outside
  // one host and which URL cannot parse.
  if (text.includes('%')) return undefined;
  const kind = isIP(text);
  if (kind === 4) return text.split('.').map((p) => String(Number(p))).join('.');
  if (kind === 6) {
    // WHATWG URL serialisation of an IPv6 host is RFC 5952 compressed lowercase.
    const host = new URL(`http://[${text}]/`).hostname;
    return host.slice(1, -1);
  }
  return undefined;
}

/**
 * The octets of an address, network order: 4 for IPv4, 16 for IPv6 (RFC 4291 §2.2 text forms,
 * including "::" and an IPv4 tail); what an iPAddress GeneralName holds (RFC 5280 §4.2.1.6).
 */
export function ipOctets(ip: string): Buffer {
  const kind = isIP(ip);
  if (kind === 4) return Buffer.from(ip.split('.').map(Number));
  if (kind !== 6) throw new Error(`not an IP address: ${ip}`);
  const groups = (part: string): number[] => {
    if (!part) return [];
    const out: number[] = [];
    for (const g of part.split(':')) {
      if (g.includes('.')) {
        // An IPv4 tail (::ffff:192.0.2.1) is the last two groups (RFC 4291 §2.2).
        const [a, b, c, d] = g.split('.').map(Number) as [number, number, number, number];
        out.push((a << 8) | b, (c << 8) | d);
      } else out.push(parseInt(g, 16));
    }
    return out;
  };
  const [head = '', tail] = ip.split('::');
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const out = Buffer.alloc(16);
  [...h, ...Array<number>(8 - h.length - t.length).fill(0), ...t].forEach((g, i) => out.writeUInt16BE(g, 2 * i));
  return out;
}

/**
 * The reverse-mapping name of an address: a.b.c.d → d.c.b.a.in-addr.arpa (RFC 1035 §3.5),
 * IPv6 → 32 nibbles, least significant first, under ip6.arpa (RFC 3596 §2.5). RFC 8738 §6 sends
 * it as the SNI of a tls-alpn-01 handshake, because SNI cannot carry an address (RFC 6066 §3).
 */
export function reverseDnsName(ip: string): string {
  const octets = ipOctets(ip);
  if (octets.length === 4) return `${[...octets].reverse().join('.')}.in-addr.arpa`;
  return `${[...octets.toString('hex')].reverse().join('.')}.ip6.arpa`;
}
