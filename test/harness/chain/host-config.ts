import { exampleHostConfig } from '../../../lib/api/v1alpha1/examples.js';
import { blockhostTypes, type HostConfig, type HostConfigSpec } from '../../../lib/api/v1alpha1/index.js';
import type { KubeClient } from '../../../lib/kube/client.js';
import type { KubeObject } from '../../../lib/kube/object.js';
import { coreTypes } from '../../../lib/kube/resource-types.js';
import { anvilPrivateKey } from './anvil.js';
import type { LocalChain } from './local-chain.js';

type ChainSettings = HostConfig['spec']['chain'];

/**
 * Points the cluster at a local chain: the singleton HostConfig names its contracts, and the server
 * wallet Secret in `namespace` holds anvil account 0 (the contracts' owner).
 */
export async function useLocalChain(
  kube: KubeClient,
  namespace: string,
  chain: LocalChain,
  settings: Partial<ChainSettings> = {},
  /** Replaces top-level fields of the example HostConfig spec (backend, ipv4Pool, ...). */
  spec: Partial<HostConfigSpec> = {},
): Promise<void> {
  const host = structuredClone(exampleHostConfig) as HostConfig;
  Object.assign(host.spec, spec);
  host.spec.chain = {
    chainId: chain.anvil.chainId,
    rpcEndpoints: [chain.anvil.rpcUrl],
    deploy: false,
    contracts: {
      subscriptions: chain.deployment.subscriptions,
      nft: chain.deployment.nft,
      startBlock: Number(chain.deployment.deployBlock),
    },
    ...settings,
  } as ChainSettings;
  await kube.create(blockhostTypes.hostConfig, host);
  await kube.create(coreTypes.secret, {
    metadata: { name: 'blockhost-server-wallet', namespace },
    stringData: { privateKey: anvilPrivateKey(0) },
  } as KubeObject);
}
