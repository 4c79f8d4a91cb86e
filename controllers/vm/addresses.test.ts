import { describe, expect, it } from '@jest/globals';
import { formatIp, parseIp } from '../../lib/api/ip.js';
import { ipv4Candidates, ipv6Candidates } from './addresses.js';

describe('address candidates', () => {
  it('walks an IPv4 pool of any prefix length across octet boundaries, skipping the gateway', () => {
    const pool = [...ipv4Candidates({ start: '10.0.0.254', end: '10.0.1.2', gateway: '10.0.1.0' })];
    expect(pool).toEqual(['10.0.0.254', '10.0.0.255', '10.0.1.1', '10.0.1.2']);
  });

  it('hands out IPv6 /128s from network + 2 (network + 1 is the gateway)', () => {
    expect([...ipv6Candidates('2001:db8:42::/64', 3)]).toEqual([
      '2001:db8:42::2',
      '2001:db8:42::3',
      '2001:db8:42::4',
    ]);
    expect([...ipv6Candidates('2001:db8::/126')]).toEqual(['2001:db8::2', '2001:db8::3']);
  });

  it('formats addresses canonically (RFC 5952)', () => {
    for (const text of [
      '192.168.122.200',
      '2001:db8::1',
      '::1',
      '2001:db8:0:1:1:1:1:1',
      'fe80::',
      '2001:0:0:1::1',
    ]) {
      expect(formatIp(parseIp(text)!)).toBe(text);
    }
    expect(formatIp(parseIp('2001:DB8:0:0:0:0:0:5')!)).toBe('2001:db8::5');
  });
});
