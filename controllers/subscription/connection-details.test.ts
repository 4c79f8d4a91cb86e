import { describe, expect, it } from '@jest/globals';
import { connectionDetailsStep, explainUpdateFailure, type CarriedDetails } from './connection-details.js';

describe("connectionDetailsStep: the NFT follows the VM's reported address", () => {
  it.each<[string, CarriedDetails | undefined, string | undefined, ReturnType<typeof connectionDetailsStep>]>(
    [
      [
        'VM reports no address: nothing true to write',
        { hostname: '10.0.0.5' },
        undefined,
        { do: 'nothing' },
      ],
      ['nothing recorded yet: read the NFT', undefined, '10.0.0.5', { do: 'read' }],
      ['recorded without a hostname: read the NFT', { updates: 2 }, '10.0.0.5', { do: 'read' }],
      ['same address: nothing', { hostname: '10.0.0.5', updates: 0 }, '10.0.0.5', { do: 'nothing' }],
      [
        're-IP: the first update',
        { hostname: '10.0.0.5' },
        '10.0.0.9',
        { do: 'update', hostname: '10.0.0.9', updates: 0 },
      ],
      [
        'back to an older address: a new update (the count differs)',
        { hostname: '10.0.0.9', updates: 1 },
        '10.0.0.5',
        { do: 'update', hostname: '10.0.0.5', updates: 1 },
      ],
      [
        'unreadable NFT data: an update',
        { hostname: '', updates: 0 },
        '10.0.0.5',
        { do: 'update', hostname: '10.0.0.5', updates: 0 },
      ],
    ],
  )('%s', (_what, carried, address, step) => expect(connectionDetailsStep(carried, address)).toEqual(step));
});

describe('explainUpdateFailure', () => {
  it.each([
    ['insufficient funds for gas * price + value', 'ServerWalletUnfunded'],
    ['request timed out', 'UpdateFailed'],
  ])('%s → %s', (message, reason) => {
    const explained = explainUpdateFailure(new Error(message), '3', '10.0.0.9', '0xabc');
    expect(explained).toMatchObject({ condition: 'ConnectionDetailsCurrent', reason });
    expect(explained.message).toContain('10.0.0.9');
  });
});
