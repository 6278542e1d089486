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
 * The reverse-mapping name of an address: a.b.c.d → d.c.b.a.in-addr.arpa (RFC 1035 §3.5),
 * IPv6 → 32 nibbles, least significant first, under ip6.arpa (RFC 3596 §2.5). RFC 8738 §6 sends
 * it as the SNI of a tls-alpn-01 handshake, because SNI cannot carry an address (RFC 6066 §3).
 */
export function reverseDnsName(ip: string): string {
  const kind = isIP(ip);
  if (kind === 4) return `${ip.split('.').reverse().map((p) => String(Number(p))).join('.')}.in-addr.arpa`;
  if (kind !== 6) throw new Error(`not an IP address: ${ip}`);
  const groups = (part: string): string[] => {
    if (!part) return [];
    const out: string[] = [];
    for (const g of part.split(':')) {
      if (g.includes('.')) {
        // An IPv4 tail (::ffff:192.0.2.1) is the last two groups (RFC 4291 §2.2).
        const [a, b, c, d] = g.split('.').map(Number) as [number, number, number, number];
        out.push(((a << 8) | b).toString(16), ((c << 8) | d).toString(16));
      } else out.push(g);
    }
    return out;
  };
  const [head = '', tail] = ip.split('::');
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const all = [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const nibbles = all.map((g) => g.padStart(4, '0').toLowerCase()).join('');
  return `${[...nibbles].reverse().join('.')}.ip6.arpa`;
}
