import { cidrContains, compareIps, formatIp, parseCidr } from '../lib/api/ip.js';

/** `192.168.1.10/24` → `192.168.1.0/24`; undefined when it does not parse. */
export function subnetOf(cidrText: string): string | undefined {
  const cidr = parseCidr(cidrText);
  if (!cidr) return undefined;
  const hostBits = BigInt(cidr.bits - cidr.prefix);
  const value = (cidr.value >> hostBits) << hostBits;
  return `${formatIp({ value, bits: cidr.bits })}/${cidr.prefix}`;
}

/** The address part of `192.168.1.10/24`. */
export const addressOf = (cidrText: string): string => cidrText.split('/')[0]!;

/** Whether two prefixes share any address (one contains the other's network address). */
export function cidrsOverlap(a: string, b: string): boolean {
  const x = subnetOf(a);
  const y = subnetOf(b);
  if (!x || !y) return false;
  return cidrContains(x, addressOf(y)) || cidrContains(y, addressOf(x));
}

/** Whether `ip` lies in start..end (same family). */
export function inRange(ip: string, start: string, end: string): boolean {
  const low = compareIps(ip, start);
  const high = compareIps(ip, end);
  return low !== undefined && high !== undefined && low >= 0 && high <= 0;
}
