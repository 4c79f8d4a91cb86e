// IP arithmetic for the TypeScript side of CEL rules; mirrors the Kubernetes CEL `ip()`/`cidr()`
// library closely enough for our checks (no zones, no IPv4-mapped IPv6, no leading zeros).

export interface Ip {
  value: bigint;
  bits: 32 | 128;
}

const IPV4 = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/;
const IPV6_GROUP = /^[0-9a-fA-F]{1,4}$/;

export function parseIp(text: string): Ip | undefined {
  const v4 = IPV4.exec(text);
  if (v4) {
    const octets = v4.slice(1).map(Number);
    if (octets.some((o) => o > 255)) return undefined;
    return { value: octets.reduce((acc, o) => (acc << 8n) | BigInt(o), 0n), bits: 32 };
  }
  return parseIpv6(text);
}

function parseIpv6(text: string): Ip | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups = halves.map((h) => (h === '' ? [] : h.split(':')));
  const present = groups.flat();
  if (!present.every((g) => IPV6_GROUP.test(g))) return undefined;
  const missing = 8 - present.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const all =
    halves.length === 1 ? present : [...groups[0]!, ...Array<string>(missing).fill('0'), ...groups[1]!];
  return { value: all.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n), bits: 128 };
}

export interface Cidr extends Ip {
  prefix: number;
}

export function parseCidr(text: string): Cidr | undefined {
  const [address, prefixText, ...rest] = text.split('/');
  if (rest.length > 0 || prefixText === undefined || !/^(0|[1-9]\d{0,2})$/.test(prefixText)) return undefined;
  const ip = parseIp(address!);
  const prefix = Number(prefixText);
  return ip && prefix <= ip.bits ? { ...ip, prefix } : undefined;
}

function hostMask({ bits, prefix }: Cidr): bigint {
  return (1n << BigInt(bits - prefix)) - 1n;
}

/** Like CEL `cidr(text) == cidr(text).masked()`: a valid prefix with every host bit zero. */
export function isNetworkCidr(text: string): boolean {
  const cidr = parseCidr(text);
  return cidr !== undefined && (cidr.value & hostMask(cidr)) === 0n;
}

/** Like CEL `cidr(network).containsIP(ip)`. */
export function cidrContains(network: string, ip: string): boolean {
  const cidr = parseCidr(network);
  const addr = parseIp(ip);
  if (!cidr || !addr || cidr.bits !== addr.bits) return false;
  const mask = hostMask(cidr);
  return (cidr.value & ~mask) === (addr.value & ~mask);
}

/** Numeric order of two addresses of the same family; undefined when either does not parse. */
export function compareIps(a: string, b: string): number | undefined {
  const x = parseIp(a);
  const y = parseIp(b);
  if (!x || !y || x.bits !== y.bits) return undefined;
  return x.value < y.value ? -1 : x.value > y.value ? 1 : 0;
}

/** Text form of an address: dotted IPv4, or RFC 5952 IPv6 (lowercase, longest zero run as ::). */
export function formatIp({ value, bits }: Ip): string {
  if (bits === 32) return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 255n)).join('.');
  const groups = Array.from({ length: 8 }, (_, i) => Number((value >> BigInt(112 - 16 * i)) & 0xffffn));
  let best = { start: -1, length: 1 };
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === 0) j += 1;
    if (j - i > best.length) best = { start: i, length: j - i };
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.start < 0) return hex.join(':');
  return `${hex.slice(0, best.start).join(':')}::${hex.slice(best.start + best.length).join(':')}`;
}
