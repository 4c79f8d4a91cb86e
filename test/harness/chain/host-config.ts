import { DECRYPT_KEY_SECRET, SHARED_KEY_ANNOTATION } from '../../../controllers/wallet/keys.js';
import { exampleHostConfig } from '../../../lib/api/v1alpha1/examples.js';
import {
  blockhostTypes,
  HOST_CONFIG_NAME,
  type HostConfig,
  type HostConfigSpec,
} from '../../../lib/api/v1alpha1/index.js';
import type { KubeClient } from '../../../lib/kube/client.js';
import type { KubeObject } from '../../../lib/kube/object.js';
import { coreTypes } from '../../../lib/kube/resource-types.js';
import { waitFor } from '../processes.js';
import { anvilPrivateKey } from './anvil.js';
import type { LocalChain } from './local-chain.js';

type ChainSettings = HostConfig['spec']['chain'];

/**
 * Points the cluster at a local chain: the singleton HostConfig names its contracts, and the server
 * wallet and decrypt key Secrets in `namespace` hold anvil account 0 (the contracts' owner).
 */
export async function useLocalChain(
  kube: KubeClient,
  namespace: string,
  chain: LocalChain,
  settings: Partial<ChainSettings> = {},
  /** Replaces top-level fields of the example HostConfig spec (backend, ipv4Pool, ...). */
  spec: Partial<HostConfigSpec> = {},
): Promise<void> {
  // The key first: a controller manager already running would otherwise generate one (KeysReady).
  await kube.create(coreTypes.secret, {
    metadata: { name: 'blockhost-server-wallet', namespace },
    stringData: { privateKey: anvilPrivateKey(0) },
  } as KubeObject);
  // The decrypt key as a host set up with one key has it (controllers/wallet/keys.ts): purchases in
  // tests are encrypted to account 0. test/integration/wallet/key-roles.test.ts runs separate keys.
  await kube.create(coreTypes.secret, {
    metadata: { name: DECRYPT_KEY_SECRET, namespace, annotations: { [SHARED_KEY_ANNOTATION]: 'true' } },
    stringData: { privateKey: anvilPrivateKey(0) },
  } as KubeObject);
  const host = structuredClone(exampleHostConfig) as HostConfig;
  // The test cluster has no nodes to take an address from; setup (signup URL, admin credential) needs one.
  host.spec.signup = { hostname: LOCAL_HOSTNAME };
  Object.assign(host.spec, spec);
  host.spec.chain = {
    chainId: chain.anvil.chainId,
    rpcEndpoints: [chain.anvil.rpcUrl],
    // anvil on the node's own address (pods tests) speaks plain http beyond loopback.
    allowPlainHttp: !new URL(chain.anvil.rpcUrl).hostname.startsWith('127.'),
    deploy: false,
    contracts: {
      subscriptions: chain.deployment.subscriptions,
      nft: chain.deployment.nft,
      startBlock: Number(chain.deployment.deployBlock),
    },
    ...settings,
  } as ChainSettings;
  await kube.create(blockhostTypes.hostConfig, host);
  // Admin login and payouts read the admin holder at head - confirmations: blocks must keep coming.
  chain.keepMining(500);
}

/** Public name of the host in tests (spec.signup.hostname). */
export const LOCAL_HOSTNAME = 'blockhost.test';

/**
 * Waits until setup minted the admin credential NFT, the contract's first token: tests that count
 * NFTs start after it, so it is never mistaken for (or races with) a subscription's.
 */
export async function adminCredentialMinted(kube: KubeClient, timeoutMs = 60_000): Promise<void> {
  await waitFor(
    'admin credential minted (HostConfig AdminCredentialMinted)',
    async () => {
      const host = await kube.get<HostConfig>(blockhostTypes.hostConfig, HOST_CONFIG_NAME);
      return (
        host.status?.conditions?.some((c) => c.type === 'AdminCredentialMinted' && c.status === 'True') ??
        false
      );
    },
    { timeoutMs, intervalMs: 200 },
  );
}
