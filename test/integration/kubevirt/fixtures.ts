// Shared setup of the KubeVirt driver tests: a desired VM with the product's cloud-init.
import { randomUUID } from 'node:crypto';
import type { DesiredVm } from '../../../controllers/vm/backend.js';
import { renderCloudInit } from '../../../controllers/vm/cloud-init.js';

export const WALLET = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8';

/** A running VM with a static address, its login user `admin` and callback logins enabled. */
export function desiredVm(namespace: string, name: string, overrides: Partial<DesiredVm> = {}): DesiredVm {
  return {
    namespace,
    name,
    uid: randomUUID(),
    intentId: randomUUID(),
    cpu: 2,
    memoryMiB: 2048,
    diskGiB: 20,
    image: 'debian',
    running: true,
    macAddress: '52:54:00:00:00:0a',
    cloudInit: renderCloudInit({
      login: { secretKey: 'ab'.repeat(32) },
      name,
      username: 'admin',
      ownerWallet: WALLET,
      nftTokenId: '7',
      network: {
        macAddress: '52:54:00:00:00:0a',
        ipv4: { address: '192.0.2.10', prefixLength: 24, gateway: '192.0.2.1' },
        ipv6: { address: '2001:db8::10', gateway: '2001:db8::1' },
      },
    }),
    addresses: { ipv4: '192.0.2.10', ipv6: '2001:db8::10' },
    ...overrides,
  };
}
