import { describe, expect, it } from '@jest/globals';
import { guestAddresses, type AgentInterface } from './guest-agent.js';

const nic = (name: string, ...addresses: [string, 'ipv4' | 'ipv6', number][]): AgentInterface => ({
  name,
  'ip-addresses': addresses.map(([address, type, prefix]) => ({
    'ip-address': address,
    'ip-address-type': type,
    prefix,
  })),
});

describe('guestAddresses', () => {
  it('takes the first global IPv4 and IPv6, skipping loopback and link-local', () => {
    const interfaces = [
      nic('lo', ['127.0.0.1', 'ipv4', 8], ['::1', 'ipv6', 128]),
      nic(
        'ens18',
        ['169.254.3.4', 'ipv4', 16],
        ['fe80::be24:11ff:feaa:bbcc', 'ipv6', 64],
        ['10.0.0.5', 'ipv4', 24],
      ),
      nic('ens19', ['10.9.9.9', 'ipv4', 24], ['2001:db8::5', 'ipv6', 128]),
    ];
    expect(guestAddresses(interfaces)).toEqual({ ipv4: '10.0.0.5', ipv6: '2001:db8::5' });
  });

  it('reports nothing for a guest with only link-local addresses', () => {
    expect(guestAddresses([nic('ens18', ['fe80::1%ens18', 'ipv6', 64])])).toEqual({});
    expect(guestAddresses([{ name: 'ens18' }])).toEqual({});
  });
});
