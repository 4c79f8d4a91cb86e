import { describe, expect, it } from '@jest/globals';
import { renderCloudInit } from '../../cloud-init.js';
import {
  intentIdFromDescription,
  isSeedVolumeOf,
  seedFileName,
  vmDescription,
  vmNameForIntent,
} from './naming.js';

const dnsName = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

describe('vmNameForIntent', () => {
  it('uses an intent id that is a DNS label verbatim', () => {
    expect(vmNameForIntent('3f9c2a10-7d4b-4c1e-9a55-1b2c3d4e5f60')).toBe(
      'bh-3f9c2a10-7d4b-4c1e-9a55-1b2c3d4e5f60',
    );
  });

  it.each(['Upper-Case', 'with_underscore', 'ends-', 'x'.repeat(61), 'ns/vm@2024-01-01T00:00:00Z'])(
    'hashes %s into a DNS label, the same one every time',
    (intentId) => {
      const name = vmNameForIntent(intentId);
      expect(name).toMatch(dnsName);
      expect(name.startsWith('bh-')).toBe(true);
      expect(vmNameForIntent(intentId)).toBe(name);
    },
  );

  it('gives different intents different names', () => {
    expect(vmNameForIntent('Intent-A')).not.toBe(vmNameForIntent('Intent-B'));
  });
});

describe('vm description', () => {
  it('carries the intent id verbatim', () => {
    const description = vmDescription({
      namespace: 'tenants',
      name: 'blockhost-007',
      intentId: 'ns/vm@T1 x',
    });
    expect(description).toContain('tenants/blockhost-007');
    expect(intentIdFromDescription(description)).toBe('ns/vm@T1 x');
  });

  it('has no intent when the line is missing', () => {
    expect(intentIdFromDescription('made by hand')).toBeUndefined();
    expect(intentIdFromDescription(undefined)).toBeUndefined();
  });
});

describe('seed ISO names', () => {
  const seed = (gecos: string) =>
    renderCloudInit({
      login: { secretKey: 'ab'.repeat(32) },
      name: 'blockhost-001',
      username: 'admin',
      ownerWallet: '0x1',
      gecos,
    });

  it('depend on the content only', () => {
    expect(seedFileName('bh-a', seed('one'))).toBe(seedFileName('bh-a', seed('one')));
    expect(seedFileName('bh-a', seed('one'))).not.toBe(seedFileName('bh-a', seed('two')));
    expect(seedFileName('bh-a', seed('one'))).toMatch(/^bh-a-seed-[0-9a-f]{12}\.iso$/);
  });

  it('are recognised for their VM only, on their storage only', () => {
    const volid = `local:iso/${seedFileName('bh-a', seed('one'))}`;
    expect(isSeedVolumeOf(volid, 'local', 'bh-a')).toBe(true);
    expect(isSeedVolumeOf(volid, 'nfs', 'bh-a')).toBe(false);
    expect(isSeedVolumeOf(`local:iso/${seedFileName('bh-a-seed-x', seed('one'))}`, 'local', 'bh-a')).toBe(
      false,
    );
    expect(isSeedVolumeOf('local:iso/bh-a-seed-123.iso', 'local', 'bh-a')).toBe(false);
  });
});
