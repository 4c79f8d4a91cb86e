// A DesiredVm for the product's guest image at the environment's first pool address, with the
// product's cloud-init: what benchmarks hand the libvirt driver when they boot a guest themselves.
import { randomUUID } from 'node:crypto';
import type { DesiredVm } from '../../../controllers/vm/backend.js';
import { renderCloudInit, type WalletLogin } from '../../../controllers/vm/cloud-init.js';
import { macAddressFor } from '../../../controllers/vm/desired.js';
import type { LibvirtEnvironment } from './environment.js';

export function desiredGuest(
  env: LibvirtEnvironment,
  options: { namespace: string; name: string; ownerWallet: string; login: WalletLogin },
): DesiredVm {
  const uid = randomUUID();
  const macAddress = macAddressFor(uid);
  const address = env.ipv4Pool.start;
  return {
    namespace: options.namespace,
    name: options.name,
    uid,
    intentId: randomUUID(),
    cpu: 1,
    memoryMiB: 1024,
    diskGiB: 3,
    image: 'debian',
    running: true,
    macAddress,
    cloudInit: renderCloudInit({
      name: options.name,
      username: 'admin',
      ownerWallet: options.ownerWallet,
      login: options.login,
      network: { macAddress, ipv4: { address, prefixLength: 24, gateway: env.ipv4Pool.gateway } },
    }),
    addresses: { ipv4: address },
  };
}
