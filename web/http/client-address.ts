/**
 * Who the client is when the web server runs behind an ingress. X-Forwarded-For is a list anyone
 * can start; each proxy appends the peer it saw. So the client is the right-most hop that is not
 * one of our trusted proxies: everything left of it was written by the client and proves nothing.
 */
import { BlockList, isIP } from 'node:net';

/** True when `address` is one of the proxies whose X-Forwarded-For we believe. */
export type ProxyTrust = (address: string) => boolean;

/** Peers we cannot name (a socket already closed) share one bucket rather than none. */
export const UNKNOWN_CLIENT = 'unknown';

/** `::ffff:10.42.0.7` (an IPv4 peer on a dual-stack socket) is `10.42.0.7`. */
function plainAddress(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1]! : address;
}

/**
 * Pure: the trust rule for a list of addresses and CIDRs (`10.42.0.0/16`, `fd00::/8`, `192.0.2.1`).
 * An empty list trusts nobody. Throws naming the first entry that is not an address or CIDR.
 */
export function parseTrustedProxies(entries: readonly string[]): ProxyTrust {
  const trusted = new BlockList();
  for (const raw of entries) {
    const entry = raw.trim();
    const [address = '', prefix, ...rest] = entry.split('/');
    const family = isIP(address);
    const bits = prefix === undefined ? undefined : Number(prefix);
    const maxBits = family === 6 ? 128 : 32;
    if (
      family === 0 ||
      rest.length > 0 ||
      (bits !== undefined && (!/^\d{1,3}$/.test(prefix!) || bits > maxBits))
    )
      throw new Error(
        `trusted proxy ${JSON.stringify(raw)} is not an IP address or CIDR (e.g. 10.42.0.0/16, fd00::/8)`,
      );
    const type = family === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) trusted.addAddress(address, type);
    else trusted.addSubnet(address, bits, type);
  }
  return (address) => {
    const plain = plainAddress(address);
    const family = isIP(plain);
    return family !== 0 && trusted.check(plain, family === 6 ? 'ipv6' : 'ipv4');
  };
}

/**
 * Pure: the client's address from the TCP peer and X-Forwarded-For. An untrusted peer is the
 * client whatever it claims; through trusted peers, the right-most untrusted hop is. A malformed
 * hop ends the walk at the trusted proxy that passed it on (it cannot be a client we can key on).
 */
export function clientAddress(
  peer: string | undefined,
  forwardedFor: string | string[] | undefined,
  trust: ProxyTrust,
): string {
  if (!peer) return UNKNOWN_CLIENT;
  let client = plainAddress(peer);
  if (!trust(client) || forwardedFor === undefined) return client;
  const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor)
    .split(',')
    .map((hop) => hop.trim())
    .filter((hop) => hop !== '');
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = plainAddress(hops[i]!);
    if (isIP(hop) === 0) return client;
    client = hop;
    if (!trust(hop)) return hop;
  }
  return client;
}
