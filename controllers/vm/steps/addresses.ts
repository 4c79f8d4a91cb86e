import { isDeepStrictEqual } from 'node:util';
import type { HostConfig, VM } from '../../../lib/api/v1alpha1/index.js';
import { ipv4Candidates, ipv6Candidates } from '../addresses.js';
import { BackendError } from '../backend.js';
import { backendAssignsAddresses, ipv6PrefixOf } from '../desired.js';
import type { StepDeps } from './store.js';

/**
 * Claims the VM's addresses and records them in spec.network (immutable once set). An address the
 * spec names is claimed like a pool one, so a VM given another VM's address is never booted.
 */
export async function ensureAddresses(
  vm: VM,
  host: HostConfig,
  { claims, store }: Pick<StepDeps, 'claims' | 'store'>,
): Promise<VM> {
  const network = { ...vm.spec.network };
  if (backendAssignsAddresses(host)) {
    if (network.ipv4 || network.ipv6)
      throw new BackendError(
        'KubeVirt on the pod network assigns the address (masquerade NAT): remove spec.network, or set spec.backend.kubevirt.networkName on the HostConfig (a bridge NetworkAttachmentDefinition) for pool addresses',
        'AddressesNotSupported',
      );
    return vm;
  }
  for (const family of ['ipv4', 'ipv6'] as const) {
    const address = network[family];
    if (address && !(await claims.claimExact(family, vm, address)))
      throw new BackendError(
        `spec.network.${family} ${address} is claimed by another VM; give this VM another address or none`,
        'AddressInUse',
      );
  }
  if (!network.ipv4) network.ipv4 = await claims.claim('ipv4', vm, ipv4Candidates(host.spec.ipv4Pool));
  const prefix = ipv6PrefixOf(host);
  if (!network.ipv6 && prefix) network.ipv6 = await claims.claim('ipv6', vm, ipv6Candidates(prefix));
  if (isDeepStrictEqual(network, vm.spec.network ?? {})) return vm;
  return store.setNetwork(vm, network);
}
