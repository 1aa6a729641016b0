import net from 'node:net';

/**
 * Canonical text of an IP literal (any spelling a URL accepts: decimal `2130706433`, octal
 * `0177.0.0.1`, hex `0x7f.1`, short `127.1`, bracketed or expanded IPv6), with IPv4-mapped IPv6
 * (`::ffff:7f00:1`) turned back into the IPv4 it reaches; undefined when `host` is not an IP.
 */
export function canonicalIp(host: string): string | undefined {
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  let text: string;
  try {
    text = new URL(`http://${net.isIPv6(bare) ? `[${bare}]` : bare}/`).hostname;
  } catch {
    return undefined;
  }
  text = text.replace(/^\[(.*)\]$/, '$1');
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(text);
  if (mapped) {
    const hi = parseInt(mapped[1]!, 16);
    const lo = parseInt(mapped[2]!, 16);
    return [hi >> 8, hi & 255, lo >> 8, lo & 255].join('.');
  }
  return net.isIP(text) ? text : undefined;
}

/** Addresses of cloud metadata and host-agent services: never reached through a range rule. */
export const METADATA_ADDRESSES = new Set([
  '169.254.169.254', // AWS, GCP, Azure, OpenStack, DigitalOcean
  '169.254.170.2', // AWS ECS task credentials
  '168.63.129.16', // Azure wire server (a public-looking address)
  '100.100.100.200', // Alibaba Cloud
  'fd00:ec2::254', // AWS IMDS over IPv6
  'fd00:ec2::23', // AWS time sync / DNS
]);

/** Ranges that are not the public internet, each with the name an error reports. */
const SPECIAL: [string, number, 'ipv4' | 'ipv6', string][] = [
  ['0.0.0.0', 8, 'ipv4', 'unspecified ("this host")'],
  ['10.0.0.0', 8, 'ipv4', 'private'],
  ['100.64.0.0', 10, 'ipv4', 'carrier-grade NAT'],
  ['127.0.0.0', 8, 'ipv4', 'loopback'],
  ['169.254.0.0', 16, 'ipv4', 'link-local'],
  ['172.16.0.0', 12, 'ipv4', 'private'],
  ['192.0.0.0', 24, 'ipv4', 'IETF protocol assignments'],
  ['192.0.2.0', 24, 'ipv4', 'documentation'],
  ['192.168.0.0', 16, 'ipv4', 'private'],
  ['198.18.0.0', 15, 'ipv4', 'benchmarking'],
  ['198.51.100.0', 24, 'ipv4', 'documentation'],
  ['203.0.113.0', 24, 'ipv4', 'documentation'],
  ['224.0.0.0', 4, 'ipv4', 'multicast'],
  ['240.0.0.0', 4, 'ipv4', 'reserved'],
  ['::', 128, 'ipv6', 'unspecified'],
  ['::1', 128, 'ipv6', 'loopback'],
  ['::', 96, 'ipv6', 'IPv4-compatible (deprecated)'],
  ['64:ff9b::', 96, 'ipv6', 'NAT64 (reaches an embedded IPv4)'],
  ['64:ff9b:1::', 48, 'ipv6', 'NAT64 (reaches an embedded IPv4)'],
  ['100::', 64, 'ipv6', 'discard'],
  ['2001::', 32, 'ipv6', 'Teredo tunnel'],
  ['2001:db8::', 32, 'ipv6', 'documentation'],
  ['2002::', 16, 'ipv6', '6to4 tunnel (reaches an embedded IPv4)'],
  ['fc00::', 7, 'ipv6', 'unique local (private)'],
  ['fe80::', 10, 'ipv6', 'link-local'],
  ['fec0::', 10, 'ipv6', 'site-local (deprecated)'],
  ['ff00::', 8, 'ipv6', 'multicast'],
];

const lists = SPECIAL.map(([address, prefix, family, name]) => {
  const list = new net.BlockList();
  list.addSubnet(address, prefix, family);
  return { list, name };
});

const familyOf = (ip: string) => (net.isIPv6(ip) ? 'ipv6' : 'ipv4');

/** Why a canonical address is not a public one (its range's name), or undefined when it is. */
export function specialRange(ip: string): string | undefined {
  if (METADATA_ADDRESSES.has(ip)) return 'cloud metadata';
  return lists.find(({ list }) => list.check(ip, familyOf(ip)))?.name;
}

/** A CIDR (or a single address) as a matcher of canonical addresses. */
export function cidrMatcher(text: string): ((ip: string) => boolean) | undefined {
  const [addr, bits, ...rest] = text.split('/');
  const ip = addr ? canonicalIp(addr) : undefined;
  if (!ip || rest.length) return undefined;
  const family = familyOf(ip);
  const max = family === 'ipv6' ? 128 : 32;
  const prefix = bits === undefined ? max : Number(bits);
  if (
    !Number.isInteger(prefix) ||
    prefix < 0 ||
    prefix > max ||
    (bits !== undefined && !/^\d+$/.test(bits))
  )
    return undefined;
  const list = new net.BlockList();
  list.addSubnet(ip, prefix, family);
  return (candidate) => list.check(candidate, familyOf(candidate));
}
