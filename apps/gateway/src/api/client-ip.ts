/**
 * A client address as the rate limiter keys it: an IPv4 client reached over an IPv6 socket
 * (`::ffff:1.2.3.4`) is the same client as `1.2.3.4`, whichever API it calls.
 */
export function clientIp(address: string | undefined): string {
  if (!address) return 'unknown';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
