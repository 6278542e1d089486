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
