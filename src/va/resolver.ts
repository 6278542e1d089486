// Name resolution for validation. Uses the resolver given by --dns-server (HOST:PORT) or the
// system's; never the hosts file, so that what validates is what the DNS says.
import { Resolver } from 'node:dns/promises';
import { AcmeError } from '../errors.js';

export interface DnsResolver {
  /** A and AAAA addresses of a name: IPv6 first, as Boulder tries them (RFC 8555 §8.3 is silent). */
  addresses(name: string): Promise<string[]>;
}

const NO_DATA = new Set(['ENODATA', 'ENOTFOUND', 'NXDOMAIN']);

export function createResolver(server: string | undefined, timeoutMs = 5000): DnsResolver {
  const r = new Resolver({ timeout: timeoutMs, tries: 2 });
  if (server) r.setServers([server]);

  const query = async (name: string, kind: 'A' | 'AAAA'): Promise<string[]> => {
    try {
      return kind === 'A' ? await r.resolve4(name) : await r.resolve6(name);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      if (NO_DATA.has(code)) return [];
      throw new AcmeError('dns', `DNS problem: looking up ${kind} for ${name}: ${code || (err as Error).message}`, { cause: err });
    }
  };

  return {
    async addresses(name) {
      const [v6, v4] = await Promise.all([query(name, 'AAAA'), query(name, 'A')]);
      const all = [...v6, ...v4];
      if (!all.length) throw new AcmeError('dns', `DNS problem: no A or AAAA records found for ${name}`);
      return all;
    },
  };
}
