// The signup page's pure parts: what it needs from the HostConfig (and why it cannot sell without
// it), and the formatting and parsing its forms use.
import { describe, expect, it } from '@jest/globals';
import { exampleHostConfig } from '../../../lib/api/v1alpha1/examples.js';
import type { HostConfig } from '../../../lib/api/v1alpha1/index.js';
import { signupConfigFrom } from '../../../web/signup/host-config.js';
import {
  formatCents,
  formatExpiry,
  formatUnits,
  parseDays,
  parseSubscriptionId,
  sshCommand,
} from '../../../web/signup/page/format.js';

const KEY = `0x04${'ab'.repeat(64)}`;
const SUBS = '0x5FbDB2315678afecb367f032d93F642f64180aa3';
const NFT = '0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512';

function host(change: (h: HostConfig) => void = () => undefined): HostConfig {
  const h = structuredClone(exampleHostConfig) as HostConfig;
  h.spec.chain.contracts = { subscriptions: SUBS, nft: NFT };
  h.status = { serverPublicKey: KEY };
  change(h);
  return h;
}

describe('signupConfigFrom', () => {
  it('says why the page cannot sell yet', () => {
    expect(signupConfigFrom(undefined)).toEqual({ notReady: 'it has not been set up yet' });
    expect(
      signupConfigFrom(
        host((h) => {
          h.spec.chain.contracts = undefined;
        }),
      ),
    ).toEqual({ notReady: 'the contracts are not deployed yet' });
    expect(signupConfigFrom(host((h) => (h.status = {})))).toEqual({
      notReady: 'the server key has not been published yet',
    });
  });

  it('takes contracts from status (deployed by setup) before spec, like the controllers', () => {
    const deployed = '0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0';
    const result = signupConfigFrom(
      host((h) => {
        h.spec.signup = { hostname: 'vms.example.net' };
        h.status = { serverPublicKey: KEY, contracts: { subscriptions: deployed, nft: NFT } };
      }),
    );
    expect(result).toEqual({
      config: {
        chainId: 11155111,
        rpcUrls: ['/api/signup/rpc'],
        contracts: { subscriptions: deployed, nft: NFT },
        serverPublicKey: KEY,
        publicSecret: 'blockhost-access',
        hostname: 'vms.example.net',
      },
    });
  });
});

describe('signup formatting', () => {
  it('formats token amounts, prices and expiry', () => {
    expect(formatUnits(15_000_000n, 6)).toBe('15');
    expect(formatUnits(3_500_000n, 6)).toBe('3.5');
    expect(formatUnits(1n, 6)).toBe('0.000001');
    expect(formatUnits(0n, 6)).toBe('0');
    expect(formatUnits(12n, 0)).toBe('12');
    expect(formatCents(50n)).toBe('$0.50');
    expect(formatCents(1234n)).toBe('$12.34');
    expect(formatExpiry(1_767_225_600n)).toBe('2026-01-01 00:00 UTC');
  });

  it('builds the ssh command, with -p only for other ports', () => {
    expect(sshCommand({ hostname: '192.0.2.7', port: 22, username: 'admin' })).toBe('ssh admin@192.0.2.7');
    expect(sshCommand({ hostname: '2001:db8::5', port: 2222, username: 'user' })).toBe(
      'ssh -p 2222 user@2001:db8::5',
    );
  });

  it('parses days and subscription numbers, with messages for bad input', () => {
    expect(parseDays(' 30 ')).toEqual({ days: 30n });
    expect(parseDays('0')).toEqual({ error: 'Choose between 1 and 3650 days.' });
    expect(parseDays('3651')).toEqual({ error: 'Choose between 1 and 3650 days.' });
    expect(parseDays('1.5')).toEqual({ error: 'Enter a whole number of days.' });
    expect(parseDays('')).toEqual({ error: 'Enter a whole number of days.' });
    expect(parseSubscriptionId('#12')).toEqual({ id: 12n });
    expect(parseSubscriptionId('012')).toEqual({ error: 'Enter the subscription number, e.g. 12.' });
    expect(parseSubscriptionId('x')).toEqual({ error: 'Enter the subscription number, e.g. 12.' });
  });
});
