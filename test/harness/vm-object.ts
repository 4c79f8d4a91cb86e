// A VM object as tests create them by hand (no Subscription): one place for the fields every such
// VM needs, so each test states only what it is about.
import { API_VERSION, type VM } from '../../lib/api/v1alpha1/index.js';

/** Hardhat/anvil account 1: a well-known test wallet. */
export const TEST_OWNER_WALLET = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8';

export function vmObject(
  namespace: string,
  name: string,
  spec: Partial<VM['spec']> & Pick<VM['spec'], 'backend' | 'image'>,
): VM {
  return {
    apiVersion: API_VERSION,
    kind: 'VM',
    metadata: { name, namespace },
    spec: {
      size: { cpu: 1, memoryMiB: 512, diskGiB: 1 },
      ownerWallet: TEST_OWNER_WALLET,
      runStrategy: 'Always',
      cloudInit: { username: 'admin' },
      ...spec,
    },
  } as VM;
}
