import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Gauge } from 'prom-client';
import type { Hex } from 'viem';
import { AccessCredentialNFTAbi } from '../../../contracts/generated/artifacts.js';
import { ChainServices } from '../../../controllers/chain/services.js';
import { chainWatcherRunnable } from '../../../controllers/chain/watcher-runnable.js';
import { registerPlanController } from '../../../controllers/plan/controller.js';
import { registerSubscriptionController } from '../../../controllers/subscription/controller.js';
import { examplePlan } from '../../../lib/api/v1alpha1/examples.js';
import {
  API_VERSION,
  blockhostTypes,
  subscriptionResourceName,
  type Plan,
  type Subscription,
  type VM,
} from '../../../lib/api/v1alpha1/index.js';
import { encryptUserSignature, publicKeyFromPrivateKey, signMessage } from '../../../lib/crypto/index.js';
import type { KubeClient } from '../../../lib/kube/client.js';
import type { KubeObject } from '../../../lib/kube/object.js';
import { coreTypes } from '../../../lib/kube/resource-types.js';
import { createLogger } from '../../../lib/log.js';
import { Manager } from '../../../lib/runtime/manager.js';
import { RuntimeMetrics } from '../../../lib/runtime/metrics.js';
import { updateStatus } from '../../../lib/runtime/status.js';
import { anvilPrivateKey } from '../../harness/chain/anvil.js';
import { useLocalChain } from '../../harness/chain/host-config.js';
import { startLocalChain, type LocalChain } from '../../harness/chain/local-chain.js';
import {
  claimHostConfig,
  createTestNamespace,
  deleteNamespace,
  eventually,
  testClient,
  withHostConfigClaimWait,
} from '../../harness/kube.js';

type Event = KubeObject & { reason?: string; type?: string; note?: string; regarding?: { name?: string } };

/** A failing reconcile shows on the Subscription within this long (the first attempt fails at once). */
const VISIBLE_WITHIN_MS = 30_000;

describe('subscription controller: nothing fails silently', () => {
  let kube: KubeClient;
  let namespace: string;
  let chain: LocalChain;
  let manager: Manager;
  let running: Promise<unknown>;
  let release: () => Promise<void>;
  const planName = `sub-fail-${Date.now().toString(36)}`;
  const server = anvilPrivateKey(0);
  const buyerSignature = signMessage(anvilPrivateKey(4), 'blockhost-access');

  const get = (id: bigint) =>
    kube.get<Subscription>(blockhostTypes.subscription, subscriptionResourceName(id), namespace);
  const condition = async (id: bigint, type: string) =>
    (await get(id)).status?.conditions?.find((c) => c.type === type);
  const warnings = async (id: bigint) =>
    (await kube.list<Event>(coreTypes.event, { namespace })).items.filter(
      (e) => e.regarding?.name === subscriptionResourceName(id) && e.type === 'Warning',
    );
  const nft = (functionName: 'totalSupply') =>
    chain.publicClient.readContract({
      address: chain.deployment.nft,
      abi: AccessCredentialNFTAbi,
      functionName,
    });
  const tokenOf = (id: bigint) =>
    chain.publicClient.readContract({
      address: chain.deployment.nft,
      abi: AccessCredentialNFTAbi,
      functionName: 'getSubscriptionToken',
      args: [id],
    });

  /** Buys a subscription and waits for its VM. */
  const purchase = async () => {
    const userEncrypted = encryptUserSignature(publicKeyFromPrivateKey(server), buyerSignature) as Hex;
    const { subscriptionId } = await chain.buy(4, { planId: 1n, days: 30n, userEncrypted });
    await chain.anvil.mine(1);
    await eventually(
      'VM created',
      () =>
        kube.get<VM>(blockhostTypes.vm, subscriptionResourceName(subscriptionId), namespace).then(
          () => true,
          () => false,
        ),
      60_000,
    );
    return subscriptionId;
  };
  /** Plays the VM controller. */
  const setVmStatus = (id: bigint, status: VM['status']) =>
    updateStatus<VM>(kube, blockhostTypes.vm, { name: subscriptionResourceName(id), namespace }, (latest) => {
      latest.status = status;
    });
  const vmRuns = (id: bigint) =>
    setVmStatus(id, { phase: 'Running', guestAgentConnected: true, addresses: { ipv4: '192.168.122.201' } });
  /** Both the reason and the condition say what failed, and neither says we are waiting for the VM. */
  const failsVisibly = async (id: bigint, type: string, reason: string) => {
    await eventually(
      `${type} ${reason}`,
      async () => (await condition(id, type))?.reason === reason,
      VISIBLE_WITHIN_MS,
    );
    const { status } = await get(id);
    expect(status?.reason).toBe(reason);
    expect(status?.reason).not.toBe('WaitingForVM');
    expect(status?.phase).not.toBe('Active');
    expect(status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason });
    await eventually('Warning Event', async () => (await warnings(id)).some((e) => e.reason === reason));
    return status!;
  };

  beforeAll(async () => {
    kube = testClient();
    release = await claimHostConfig(kube);
    namespace = await createTestNamespace(kube, 'subfail');
    chain = await startLocalChain({ plans: [] });
    await useLocalChain(kube, namespace, chain, { confirmations: 1, pollIntervalSeconds: 1 });
    await kube.create(blockhostTypes.plan, {
      apiVersion: API_VERSION,
      kind: 'Plan',
      metadata: { name: planName },
      spec: examplePlan.spec,
    } as Plan);
    const log = createLogger('subscription-failures-test');
    manager = new Manager({ client: kube, log, metrics: new RuntimeMetrics({ processMetrics: false }) });
    const services = new ChainServices(kube, namespace, log);
    registerPlanController(manager, services);
    registerSubscriptionController(manager, services);
    manager.addRunnable('chain-watcher', chainWatcherRunnable(services, log));
    running = manager.start();
    await eventually(
      'plan on chain',
      async () => (await kube.get<Plan>(blockhostTypes.plan, planName)).status?.onChainPlanId === '1',
      60_000,
    );
  }, withHostConfigClaimWait(120_000));

  afterAll(async () => {
    manager?.stop();
    await running;
    await kube.delete(blockhostTypes.plan, planName).catch(() => undefined);
    await chain?.stop();
    await deleteNamespace(kube, namespace);
    await release?.();
  });

  it("says so when the VM's backend reports an error, instead of waiting for the VM", async () => {
    const id = await purchase();
    await setVmStatus(id, {
      phase: 'Pending',
      conditions: [
        {
          type: 'Ready',
          status: 'False',
          reason: 'AddressInUse',
          message: '192.168.122.201 answers on the network but no VM of ours holds it',
          lastTransitionTime: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
        },
      ],
    });
    const status = await failsVisibly(id, 'VMReady', 'AddressInUse');
    expect(status.phase).toBe('Provisioning');
    expect(status.message).toContain('192.168.122.201 answers on the network');
    expect(status.message).toContain(`kubectl describe vm ${subscriptionResourceName(id)}`);
  });

  it("refuses visibly when the NFT contract's owner is not the server wallet, and mints once it is again", async () => {
    const serverAddress = chain.deployer.account.address;
    const stranger = chain.wallet(7);
    const transfer = async (from: typeof stranger, to: Hex) =>
      chain.publicClient.waitForTransactionReceipt({
        hash: await from.writeContract({
          address: chain.deployment.nft,
          abi: AccessCredentialNFTAbi,
          functionName: 'transferOwnership',
          args: [to],
        }),
      });
    await transfer(chain.deployer, stranger.account.address);
    const supply = await nft('totalSupply');
    const id = await purchase();
    await vmRuns(id);
    const status = await failsVisibly(id, 'NFTMinted', 'MintRefused');
    expect(status.message).toContain(`transfer the contract's ownership to ${serverAddress}`);
    expect(status.message).toContain(chain.deployment.nft);
    expect(await nft('totalSupply')).toBe(supply);

    // The retries (with the queue's backoff) go through once the server wallet owns the contract.
    await transfer(stranger, serverAddress);
    await eventually('Active', async () => (await get(id)).status?.phase === 'Active', 60_000);
    expect(await condition(id, 'NFTMinted')).toMatchObject({ status: 'True' });
    expect(await nft('totalSupply')).toBe(supply + 1n);
  });

  it('says the server wallet is unfunded, with its address and chain, and mints exactly once after funding', async () => {
    const serverAddress = chain.deployer.account.address;
    const balance = await chain.publicClient.getBalance({ address: serverAddress });
    const gauge = () =>
      (
        manager.metrics.registry.getSingleMetric('blockhost_chain_server_wallet_unfunded') as
          Gauge | undefined
      )
        ?.get()
        .then((m) => m.values.find((v) => v.labels.address === serverAddress)?.value);
    const supply = await nft('totalSupply');
    const id = await purchase();
    await chain.anvil.rpc('anvil_setBalance', [serverAddress, '0x0']);
    await vmRuns(id);
    const status = await failsVisibly(id, 'NFTMinted', 'ServerWalletUnfunded');
    expect(status.message).toContain(`the server wallet ${serverAddress} on chain ${chain.anvil.chainId}`);
    expect(status.message).toContain(`send ETH to ${serverAddress}`);
    expect(await gauge()).toBe(1);
    // The retries say the same thing: one Event whose series counts them, not one Event per retry.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect((await warnings(id)).filter((e) => e.reason === 'ServerWalletUnfunded')).toHaveLength(1);

    await chain.anvil.rpc('anvil_setBalance', [serverAddress, `0x${balance.toString(16)}`]);
    await eventually('Active', async () => (await get(id)).status?.phase === 'Active', 90_000);
    expect(await condition(id, 'NFTMinted')).toMatchObject({ status: 'True' });
    expect(await condition(id, 'Ready')).toMatchObject({ status: 'True' });
    expect(await gauge()).toBe(0);
    // Exactly once: one token for this subscription, and the supply grew by one.
    const [minted, tokenId] = await tokenOf(id);
    expect(minted).toBe(true);
    expect((await get(id)).status?.nft?.tokenId).toBe(tokenId.toString());
    expect(await nft('totalSupply')).toBe(supply + 1n);
  }, 150_000);
});
