import { lookup as dnsLookup } from 'node:dns/promises';
import { isIPv6, type LookupFunction } from 'node:net';
import { AionError } from '@aion/errors';
import { canonicalIp, cidrMatcher, METADATA_ADDRESSES, specialRange } from './address-ranges';

type Rule =
  | { kind: 'any' }
  | { kind: 'host'; host: string; wildcard: boolean; port?: number }
  | {
      kind: 'address';
      text: string;
      matches: (ip: string) => boolean;
      exact?: string;
      port?: number;
    };

const ENV = 'AION_PIPELINE_EGRESS_ALLOW';

/**
 * The error of a refused destination: the platform's egress policy forbids it (403, as a
 * residency refusal is), the request itself is well formed; retrying cannot help.
 */
export const egressRefused = (message: string, field = 'source') =>
  new AionError('auth.forbidden', message, {
    details: [{ field, reason: 'egress_refused', message }],
  });

function parseRule(entry: string): Rule {
  if (entry === '*') return { kind: 'any' };
  if (entry.includes('/')) {
    const matches = cidrMatcher(entry);
    if (!matches) throw new Error(`${ENV}: ${JSON.stringify(entry)} is not a CIDR`);
    return { kind: 'address', text: entry, matches };
  }
  // host, host:port, [v6]:port, v6 — through the URL parser, the same one requests go through.
  const bareV6 = isIPv6(entry);
  let url: URL;
  try {
    url = new URL(`http://${bareV6 ? `[${entry}]` : entry}/`);
  } catch {
    throw new Error(`${ENV}: ${JSON.stringify(entry)} is not a host[:port] or CIDR`);
  }
  const port = url.port ? Number(url.port) : undefined;
  const ip = canonicalIp(url.hostname);
  if (ip)
    return {
      kind: 'address',
      text: entry,
      matches: (c) => c === ip,
      exact: ip,
      ...(port ? { port } : {}),
    };
  const wildcard = url.hostname.startsWith('*.');
  return {
    kind: 'host',
    host: wildcard ? url.hostname.slice(1) : url.hostname,
    wildcard,
    ...(port ? { port } : {}),
  };
}

const defaultPort = (url: URL) => Number(url.port || (url.protocol === 'https:' ? 443 : 80));

/**
 * Where outbound connectors may connect (AION_PIPELINE_EGRESS_ALLOW): a comma list of `*` (any
 * public address), `host`, `*.domain`, `host:port`, an IP or a CIDR. A name entry admits only
 * public addresses; loopback, private, link-local and other special ranges need an address or CIDR
 * entry covering them, and a cloud metadata address an entry naming exactly it. Checks run on the
 * resolved addresses, and the socket connects to the address checked (see lookupFor), so a name
 * that resolves differently the second time (DNS rebinding) reaches nothing unchecked.
 */
export class EgressPolicy {
  private constructor(private readonly rules: Rule[]) {}

  static parse(spec: string | undefined): EgressPolicy {
    const entries = (spec ?? '')
      .split(/[\s,]+/)
      .map((e) => e.trim().toLowerCase())
      .filter(Boolean);
    return new EgressPolicy(entries.map(parseRule));
  }

  /** Refuses a URL whose scheme, literal address or host no entry admits (before any lookup). */
  checkUrl(url: URL, field = 'source.url'): void {
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw egressRefused(`${url.protocol} URLs are not allowed (http or https)`, field);
    if (url.username || url.password)
      throw egressRefused('credentials in the URL are not allowed (use a secret reference)', field);
    this.checkHost(url.hostname, defaultPort(url), field);
  }

  /** Refuses a host (name or IP literal) and port no entry admits, before any lookup. */
  checkHost(host: string, port: number, field = 'source.url'): void {
    const ip = canonicalIp(host);
    if (ip) return this.checkAddress(host, ip, port, field);
    if (!this.rules.some((r) => r.kind !== 'host' || this.hostMatches(r, host, port)))
      throw egressRefused(`${host}:${port} is not in the egress allowlist (${ENV})`, field);
  }

  private hostMatches(rule: Extract<Rule, { kind: 'host' }>, host: string, port: number) {
    if (rule.port !== undefined && rule.port !== port) return false;
    return rule.wildcard
      ? host.endsWith(rule.host) && host.length > rule.host.length
      : host === rule.host;
  }

  /** Whether `host` (as named) may connect to `ip` (resolved, canonical) on `port`. */
  checkAddress(host: string, ip: string, port: number, field = 'source.url'): void {
    const explicit = this.rules.some(
      (r) =>
        r.kind === 'address' &&
        (r.port === undefined || r.port === port) &&
        (METADATA_ADDRESSES.has(ip) ? r.exact === ip : r.matches(ip)),
    );
    if (explicit) return;
    const special = specialRange(ip);
    if (special)
      throw egressRefused(
        `${host} resolves to ${ip}, a ${special} address; only an explicit ${ENV} entry admits it`,
        field,
      );
    const named = this.rules.some(
      (r) => r.kind === 'any' || (r.kind === 'host' && this.hostMatches(r, host, port)),
    );
    if (!named && canonicalIp(host) === undefined)
      throw egressRefused(`${host}:${port} is not in the egress allowlist (${ENV})`, field);
    if (!named) throw egressRefused(`${ip}:${port} is not in the egress allowlist (${ENV})`, field);
  }

  /** Resolves `host` and checks every address it has; one refused address refuses the name. */
  async resolve(
    host: string,
    port: number,
    field = 'source.url',
  ): Promise<{ address: string; family: number }[]> {
    const ip = canonicalIp(host);
    if (ip) {
      this.checkAddress(host, ip, port, field);
      return [{ address: ip, family: ip.includes(':') ? 6 : 4 }];
    }
    const found = await dnsLookup(host, { all: true, verbatim: true }).catch((err: Error) => {
      throw egressRefused(`${host} does not resolve: ${err.message}`, field);
    });
    if (found.length === 0) throw egressRefused(`${host} has no address`, field);
    return found.map(({ address }) => {
      // An address the parser cannot read (an IPv6 zone id) is refused, not guessed at.
      const canonical = canonicalIp(address);
      if (!canonical) throw egressRefused(`${host} resolves to ${address}, not checkable`, field);
      this.checkAddress(host, canonical, port, field);
      return { address: canonical, family: canonical.includes(':') ? 6 : 4 };
    });
  }

  /**
   * A `lookup` for net/tls/http connections to `port`: the socket connects only to addresses this
   * policy checked, in the same call (no second resolution between the check and the connect).
   */
  lookupFor(port: number): LookupFunction {
    return (hostname, options, callback) => {
      this.resolve(hostname, port).then(
        (addresses) => {
          if (options.all) callback(null, addresses);
          else callback(null, addresses[0]!.address, addresses[0]!.family);
        },
        (err: NodeJS.ErrnoException) => callback(err, ''),
      );
    };
  }
}
