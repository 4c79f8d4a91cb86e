// Trust boundary: the controller's private state namespace. What the web server or a namespace
// user can write (the release namespace) holds no checkpoint or address claim the controller reads.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ChainWatcher, type ChainWatcherConfig } from '../../../controllers/chain/watcher.js';
import { AddressClaims, ipv4Candidates } from '../../../controllers/vm/addresses.js';
import {
  blockhostTypes,
  subscriptionResourceName,
  type Subscription,
  type VM,
} from '../../../lib/api/v1alpha1/index.js';
import { checkpointName } from '../../../lib/chain/checkpoint.js';
import type { KubeClient } from '../../../lib/kube/client.js';
import { coreTypes } from '../../../lib/kube/resource-types.js';
import { createLogger } from '../../../lib/log.js';
import { startLocalChain, type LocalChain } from '../../harness/chain/local-chain.js';
import { vmObject } from '../../harness/vm-object.js';
import { createTestNamespace, deleteNamespace, testClient } from '../../harness/kube.js';

describe('controller state in its own namespace', () => {
  let kube: KubeClient;
  let release: string;
  let state: string;
  let chain: LocalChain;
  const log = createLogger('trust-state');

  beforeAll(async () => {
    kube = testClient();
    release = await createTestNamespace(kube, 'trust-release');
    state = await createTestNamespace(kube, 'trust-state');
    chain = await startLocalChain();
  });
  afterAll(async () => {
    await chain?.stop();
    for (const namespace of [release, state]) await deleteNamespace(kube, namespace);
  });

  it('ignores a forged checkpoint in the release namespace: no purchase is skipped', async () => {
    const { subscriptionId } = await chain.buy(1);
    await chain.anvil.mine(2);
    const head = await chain.publicClient.getBlock({ blockTag: 'latest' });
    // "Everything up to the head is done", with the real hash, so a reorg check cannot tell.
    await kube.create(coreTypes.configMap, {
      metadata: {
        name: checkpointName(chain.anvil.chainId, chain.deployment.subscriptions),
        namespace: release,
      },
      data: {
        checkpoint: JSON.stringify({ block: { number: Number(head.number), hash: head.hash }, recent: [] }),
      },
    });
    const config: ChainWatcherConfig = {
      chainId: chain.anvil.chainId,
      endpoints: [chain.anvil.rpcUrl],
      contracts: { subscriptions: chain.deployment.subscriptions, nft: chain.deployment.nft },
      confirmations: 1,
      startBlock: chain.deployment.deployBlock,
      namespace: release,
      stateNamespace: state,
    };
    await new ChainWatcher(kube, config, log).catchUp();
    const stored = await kube.get<Subscription>(
      blockhostTypes.subscription,
      subscriptionResourceName(subscriptionId),
      release,
    );
    expect(stored.spec.subscriptionId).toBe(String(subscriptionId));
  });

  const pool = { start: '10.77.0.10', end: '10.77.0.12', gateway: '10.77.0.1' };
  const vmNamed = async (name: string): Promise<VM> =>
    kube.create<VM>(
      blockhostTypes.vm,
      vmObject(release, name, {
        backend: 'libvirt',
        image: 'debian-12',
        ownerWallet: '0x000000000000000000000000000000000000beef',
      }),
    );

  it("ignores a forged claim in the release namespace that hands a victim another VM's address", async () => {
    const [holder, victim] = [await vmNamed('holder'), await vmNamed('victim')];
    const claims = new AddressClaims(kube, state);
    const held = await claims.claim('ipv4', holder, ipv4Candidates(pool));
    // The claim format, labelled with the victim's uid, naming the address the holder has.
    await kube.create(coreTypes.configMap, {
      metadata: {
        name: `blockhost-ipv4-${held.replace(/\./g, '-')}`,
        namespace: release,
        labels: { 'blockhost.io/address-family': 'ipv4', 'blockhost.io/vm-uid': victim.metadata.uid! },
      },
      data: { address: held, vm: `${release}/victim` },
    });
    const given = await claims.claim('ipv4', victim, ipv4Candidates(pool));
    expect(given).not.toBe(held);
  });

  it('refuses an explicit address another VM holds, and keeps the one a VM holds', async () => {
    const [first, second] = [await vmNamed('first'), await vmNamed('second')];
    const claims = new AddressClaims(kube, state);
    const address = await claims.claim('ipv4', first, ipv4Candidates(pool));
    expect(await claims.claimExact('ipv4', second, address)).toBe(false);
    expect(await claims.claimExact('ipv4', first, address)).toBe(true);
    // A free explicit address is claimed, so the pool never hands it out to another VM.
    expect(await claims.claimExact('ipv4', second, '10.77.0.50')).toBe(true);
    expect(await claims.claimExact('ipv4', first, '10.77.0.50')).toBe(false);
  });
});
