import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Hex } from 'viem';
import { extendSubscription } from '../../../contracts/deploy.js';
import { AccessCredentialNFTAbi, BlockhostSubscriptionsAbi } from '../../../contracts/generated/artifacts.js';
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
import {
  decryptConnectionDetails,
  encryptUserSignature,
  publicKeyFromPrivateKey,
  signMessage,
} from '../../../lib/crypto/index.js';
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
  withHostConfigClaimWait,
  createTestNamespace,
  deleteNamespace,
  eventually,
  testClient,
} from '../../harness/kube.js';

const DAY_MS = 86_400_000;

describe('subscription controller', () => {
  let kube: KubeClient;
  let namespace: string;
  let chain: LocalChain;
  let manager: Manager;
  let running: Promise<unknown>;
  let release: () => Promise<void>;
  let clockOffsetMs = 0;
  const planName = `sub-test-${Date.now().toString(36)}`;
  const buyerKey = anvilPrivateKey(4);
  const buyerSignature = signMessage(buyerKey, 'blockhost-access');

  const get = (id: bigint) =>
    kube.get<Subscription>(blockhostTypes.subscription, subscriptionResourceName(id), namespace);
  const vm = (id: bigint) => kube.get<VM>(blockhostTypes.vm, subscriptionResourceName(id), namespace);
  const exists = (read: Promise<unknown>) =>
    read.then(
      () => true,
      () => false,
    );
  /** Nudges a reconcile now (instead of waiting up to a minute for the expiry timer). */
  const touch = (id: bigint) =>
    kube.patch(
      blockhostTypes.subscription,
      subscriptionResourceName(id),
      namespace,
      { metadata: { annotations: { 'test/touch': String(Date.now()) } } },
      'merge',
    );
  const buy = (userEncrypted: Hex, days = 30n) => chain.buy(4, { planId: 1n, days, userEncrypted });
  /** Sets or lifts (null) the hold the way `kubectl patch --type merge` does. */
  const hold = (id: bigint, reason: string | null) =>
    kube.patch(
      blockhostTypes.vm,
      subscriptionResourceName(id),
      namespace,
      { spec: { hold: reason } },
      'merge',
    );
  /** Reconciles a few times, with time in between for a controller that would undo the hold. */
  const reconcileSeveralTimes = async (id: bigint) => {
    for (let i = 0; i < 3; i++) {
      await touch(id);
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  };
  const eventReasons = async (id: bigint) =>
    (
      await kube.list<KubeObject & { reason?: string; regarding?: { name?: string } }>(coreTypes.event, {
        namespace,
      })
    ).items
      .filter((e) => e.regarding?.name === subscriptionResourceName(id))
      .map((e) => e.reason);

  beforeAll(async () => {
    kube = testClient();
    release = await claimHostConfig(kube);
    namespace = await createTestNamespace(kube, 'subs');
    chain = await startLocalChain({ plans: [] });
    await useLocalChain(kube, namespace, chain, { confirmations: 1, pollIntervalSeconds: 1 });
    await kube.create(blockhostTypes.plan, {
      apiVersion: API_VERSION,
      kind: 'Plan',
      metadata: { name: planName },
      spec: examplePlan.spec,
    } as Plan);
    const log = createLogger('subscription-test');
    manager = new Manager({ client: kube, log, metrics: new RuntimeMetrics({ processMetrics: false }) });
    const services = new ChainServices(kube, namespace, log);
    registerPlanController(manager, services);
    registerSubscriptionController(manager, services, { now: () => Date.now() + clockOffsetMs });
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

  let id: bigint;

  it('creates the VM, then mints the NFT once the VM runs, and the buyer can read the connection details', async () => {
    const server = publicKeyFromPrivateKey(anvilPrivateKey(0));
    id = (await buy(encryptUserSignature(server, buyerSignature) as Hex)).subscriptionId;
    await chain.anvil.mine(1);
    await eventually('VM created', () => exists(vm(id)), 60_000);
    const created = await vm(id);
    expect(created.spec).toMatchObject({
      backend: 'libvirt',
      size: { cpu: 1, memoryMiB: 2048, diskGiB: 20 },
      runStrategy: 'Always',
      ownerWallet: chain.wallet(4).account.address,
    });
    expect((created as KubeObject).metadata.ownerReferences?.[0]).toMatchObject({
      kind: 'Subscription',
      controller: true,
    });
    // The VM is created before the Subscription's status is written: wait for the write.
    await eventually('Provisioning', async () => (await get(id)).status?.phase === 'Provisioning');

    // Play the VM controller: the VM runs and its guest agent answers.
    await updateStatus<VM>(kube, blockhostTypes.vm, { name: created.metadata.name!, namespace }, (latest) => {
      latest.status = {
        phase: 'Running',
        guestAgentConnected: true,
        addresses: { ipv4: '192.168.122.200', ipv6: '2001:db8:42::200' },
      };
    });
    await eventually('Active', async () => (await get(id)).status?.phase === 'Active', 60_000);
    const tokenId = BigInt((await get(id)).status!.nft!.tokenId!);
    const blob = await chain.publicClient.readContract({
      address: chain.deployment.nft,
      abi: AccessCredentialNFTAbi,
      functionName: 'getUserEncrypted',
      args: [tokenId],
    });
    expect(decryptConnectionDetails(buyerSignature, blob)).toEqual({
      hostname: '2001:db8:42::200',
      port: 22,
      username: 'admin',
    });
    const owner = await chain.publicClient.readContract({
      address: chain.deployment.nft,
      abi: AccessCredentialNFTAbi,
      functionName: 'ownerOf',
      args: [tokenId],
    });
    expect(owner).toBe(chain.wallet(4).account.address);
    await eventually('VM knows its NFT', async () => (await vm(id)).spec.nftTokenId === tokenId.toString());
    // Reconciling again never mints again.
    const supply = await chain.publicClient.readContract({
      address: chain.deployment.nft,
      abi: AccessCredentialNFTAbi,
      functionName: 'totalSupply',
    });
    await touch(id);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(
      await chain.publicClient.readContract({
        address: chain.deployment.nft,
        abi: AccessCredentialNFTAbi,
        functionName: 'totalSupply',
      }),
    ).toBe(supply);
  });

  it('moves the VM to the new holder when the NFT is transferred', async () => {
    const tokenId = BigInt((await get(id)).status!.nft!.tokenId!);
    const from = chain.wallet(4);
    const to = chain.wallet(6).account.address;
    const hash = await from.writeContract({
      address: chain.deployment.nft,
      abi: AccessCredentialNFTAbi,
      functionName: 'transferFrom',
      args: [from.account.address, to, tokenId],
    });
    await chain.publicClient.waitForTransactionReceipt({ hash });
    await chain.anvil.mine(1);
    await eventually('holder recorded', async () => (await get(id)).spec.credential?.holder === to, 60_000);
    await eventually('VM owner follows', async () => (await vm(id)).spec.ownerWallet === to);
  });

  it('keeps a held VM stopped across reconciles, and runs it again once the hold is lifted', async () => {
    await hold(id, 'abuse report #12');
    await eventually('held', async () => (await get(id)).status?.reason === 'Held');
    expect((await get(id)).status).toMatchObject({
      phase: 'Active',
      message: 'held by the operator: abuse report #12',
    });
    expect((await get(id)).status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('False');
    await reconcileSeveralTimes(id);
    expect((await vm(id)).spec).toMatchObject({ runStrategy: 'Halted', hold: 'abuse report #12' });
    await eventually('Held event', async () => (await eventReasons(id)).includes('Held'));

    await hold(id, null);
    await eventually(
      'running again',
      async () => (await vm(id)).spec.runStrategy === 'Always' && (await get(id)).status?.reason === 'Paid',
    );
    expect((await get(id)).status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
  });

  it('stops the VM at expiry, resumes it on extension, and deletes it after the grace period', async () => {
    const expiresAt = Date.parse((await get(id)).spec.expiresAt);
    clockOffsetMs = expiresAt - Date.now() + 1000;
    await touch(id);
    await eventually(
      'suspended',
      async () =>
        (await get(id)).status?.phase === 'Suspended' && (await vm(id)).spec.runStrategy === 'Halted',
    );

    await extendSubscription({
      publicClient: chain.publicClient,
      walletClient: chain.wallet(5),
      subscriptions: chain.deployment.subscriptions,
      subscriptionId: id,
      days: 30n,
    });
    await chain.anvil.mine(1);
    await eventually(
      'resumed',
      async () => (await get(id)).status?.phase === 'Active' && (await vm(id)).spec.runStrategy === 'Always',
      60_000,
    );

    const extendedTo = Date.parse((await get(id)).spec.expiresAt);
    clockOffsetMs = extendedTo - Date.now() + 8 * DAY_MS;
    await touch(id);
    await eventually(
      'expired and VM deleted',
      async () => (await get(id)).status?.phase === 'Expired' && !(await exists(vm(id))),
    );
    clockOffsetMs = 0;
  });

  it('keeps a held VM past its grace period, and deletes it once the hold is lifted', async () => {
    const server = publicKeyFromPrivateKey(anvilPrivateKey(0));
    const held = (await buy(encryptUserSignature(server, buyerSignature) as Hex)).subscriptionId;
    await chain.anvil.mine(1);
    await eventually('VM created', () => exists(vm(held)), 60_000);
    await hold(held, 'disk kept for forensics');
    // Held before its NFT was minted: no credential yet, so not Active.
    await eventually('held while provisioning', async () => {
      const status = (await get(held)).status;
      return status?.phase === 'Provisioning' && status.reason === 'Held';
    });

    clockOffsetMs = Date.parse((await get(held)).spec.expiresAt) - Date.now() + 8 * DAY_MS;
    await touch(held);
    await eventually('held past grace', async () => (await get(held)).status?.reason === 'HeldFromRemoval');
    expect((await get(held)).status?.phase).toBe('Expired');
    await reconcileSeveralTimes(held);
    expect((await vm(held)).spec.runStrategy).toBe('Halted');

    await hold(held, null);
    await eventually(
      'deleted once the hold is lifted',
      async () => (await get(held)).status?.reason === 'GracePeriodOver' && !(await exists(vm(held))),
    );
    clockOffsetMs = 0;
  });

  it('fails a purchase whose payload the server key cannot decrypt, with an Event and no VM', async () => {
    const bad = (await buy(`0x04${'00'.repeat(120)}`)).subscriptionId;
    await chain.anvil.mine(1);
    await eventually(
      'failed',
      async () => (await exists(get(bad))) && (await get(bad)).status?.phase === 'Failed',
      60_000,
    );
    expect((await get(bad)).status?.reason).toBe('InvalidPayload');
    expect(await exists(vm(bad))).toBe(false);
    await eventually('warning event', async () => {
      const list = await kube.list<
        KubeObject & { reason?: string; type?: string; regarding?: { name?: string } }
      >(coreTypes.event, { namespace });
      return list.items.some(
        (e) =>
          e.regarding?.name === subscriptionResourceName(bad) &&
          e.type === 'Warning' &&
          e.reason === 'InvalidPayload',
      );
    });
  });

  it('fails a purchase of a plan no Plan object describes, with the reason, and no VM', async () => {
    // An on-chain plan created behind the operator's back: the cluster has no Plan for it.
    const hash = await chain.deployer.writeContract({
      address: chain.deployment.subscriptions,
      abi: BlockhostSubscriptionsAbi,
      functionName: 'createPlan',
      args: ['Rogue', 10n],
    });
    await chain.publicClient.waitForTransactionReceipt({ hash });
    const server = publicKeyFromPrivateKey(anvilPrivateKey(0));
    const rogue = (
      await chain.buy(4, {
        planId: 2n,
        days: 3n,
        userEncrypted: encryptUserSignature(server, buyerSignature) as Hex,
      })
    ).subscriptionId;
    await chain.anvil.mine(1);
    await eventually(
      'failed',
      async () => (await exists(get(rogue))) && (await get(rogue)).status?.reason === 'UnknownPlan',
      60_000,
    );
    expect((await get(rogue)).status).toMatchObject({
      phase: 'Failed',
      message: 'no Plan has on-chain id 2 on chain 31337',
    });
    expect(await exists(vm(rogue))).toBe(false);
  });
});
