// Name resolution for validation. Uses the resolver given by --dns-server (HOST:PORT) or the
// system's; never the hosts file, so that what validates is what the DNS says. CNAMEs are
// followed by the recursive resolver; with a stub or authoritative server (tests, a split-horizon
// internal DNS) we take what it answers for the name asked.
import { Resolver } from 'node:dns/promises';
import { AcmeError } from '../errors.js';

/** One CAA resource record (RFC 8659 §4.1): flags, a property tag, its value. */
export interface CaaRecord {
  flags: number;
  /** Lower-cased: tags match case-insensitively (RFC 8659 §4.1). */
  tag: string;
  value: string;
}

export interface DnsResolver {
  /** A and AAAA addresses of a name: IPv6 first, as Boulder tries them (RFC 8555 §8.3 is silent). */
  addresses(name: string): Promise<string[]>;
  /**
   * The TXT records at a name, each record's character-strings joined (RFC 7208 §3.3 does the
   * same for SPF; RFC 8555 §8.4 does not split the digest). Empty when the name has no TXT
   * records; an AcmeError `dns` when the name does not exist or the lookup fails.
   */
  txt(name: string): Promise<string[]>;
  /**
   * The CAA RRset at exactly this name (RFC 8659 §3 climbs the tree; caa.ts does that). Empty
   * when the name does not exist or has no CAA records; an AcmeError `dns` when the lookup fails,
   * since a CA must not read a failed lookup as permission.
   */
  caa(name: string): Promise<CaaRecord[]>;
}

/** c-ares codes for "the name exists but has no such records" and "the name does not exist". */
const NO_DATA = 'ENODATA';
const NX_DOMAIN = new Set(['ENOTFOUND', 'NXDOMAIN']);

export function createResolver(server: string | undefined, timeoutMs = 5000): DnsResolver {
  const r = new Resolver({ timeout: timeoutMs, tries: 2 });
  if (server) r.setServers([server]);

  const failure = (kind: string, name: string, err: unknown): AcmeError => {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    return new AcmeError('dns', `DNS problem: looking up ${kind} for ${name}: ${code || (err as Error).message}`, { cause: err });
  };
  const codeOf = (err: unknown): string => (err as NodeJS.ErrnoException).code ?? '';

  const query = async (name: string, kind: 'A' | 'AAAA'): Promise<string[]> => {
    try {
      return kind === 'A' ? await r.resolve4(name) : await r.resolve6(name);
    } catch (err) {
      const code = codeOf(err);
      if (code === NO_DATA || NX_DOMAIN.has(code)) return [];
      throw failure(kind, name, err);
    }
  };

  return {
    async addresses(name) {
      const [v6, v4] = await Promise.all([query(name, 'AAAA'), query(name, 'A')]);
      const all = [...v6, ...v4];
      if (!all.length) throw new AcmeError('dns', `DNS problem: no A or AAAA records found for ${name}`);
      return all;
    },

    async txt(name) {
      try {
        return (await r.resolveTxt(name)).map((chunks) => chunks.join(''));
      } catch (err) {
        const code = codeOf(err);
        if (code === NO_DATA) return [];
        if (NX_DOMAIN.has(code)) throw new AcmeError('dns', `DNS problem: NXDOMAIN looking up TXT for ${name}: the name does not exist`, { cause: err });
        throw failure('TXT', name, err);
      }
    },

    async caa(name) {
      let answers: Awaited<ReturnType<Resolver['resolveCaa']>>;
      try {
        answers = await r.resolveCaa(name);
      } catch (err) {
        const code = codeOf(err);
        if (code === NO_DATA || NX_DOMAIN.has(code)) return [];
        throw failure('CAA', name, err);
      }
      // Node gives each record as { critical: <flags octet>, <tag>: <value> }.
      return answers.map((a) => {
        const { critical, ...rest } = a as unknown as Record<string, unknown> & { critical: number };
        const [tag, value] = Object.entries(rest)[0] ?? ['', ''];
        return { flags: critical, tag: tag.toLowerCase(), value: String(value) };
      });
    },
  };
}
