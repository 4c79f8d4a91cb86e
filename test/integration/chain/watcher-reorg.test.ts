import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Registry } from 'prom-client';
import { encodeFunctionData, erc20Abi, maxUint256 } from 'viem';
import { confirm, eventArgs } from '../../../contracts/deploy.js';
import { AccessCredentialNFTAbi, BlockhostSubscriptionsAbi } from '../../../contracts/generated/artifacts.js';
import { ChainWatcher, type ChainWatcherConfig } from '../../../controllers/chain/watcher.js';
import {
  blockhostTypes,
  subscriptionResourceName,
  type Subscription,
} from '../../../lib/api/v1alpha1/index.js';
import { ChainMetrics } from '../../../lib/chain/metrics.js';
import type { KubeClient } from '../../../lib/kube/client.js';
import { createLogger } from '../../../lib/log.js';
import { canonicalState, differences } from '../../harness/chain/canonical-subscriptions.js';
import { startLocalChain, type LocalChain } from '../../harness/chain/local-chain.js';
import { createTestNamespace, deleteNamespace, testClient } from '../../harness/kube.js';

const CONFIRMATIONS = 3;

describe('chain watcher across reorgs', () => {
  let kube: KubeClient;
  let namespace: string;
  let chain: LocalChain;
  let config: ChainWatcherConfig;
  let watcher: ChainWatcher;
  const metrics = new ChainMetrics(new Registry());
  const log = createLogger('watcher-reorg-test');

  const subscriptions = async () =>
    (await kube.list<Subscription>(blockhostTypes.subscription, { namespace })).items.sort(
      (a, b) => Number(a.spec.subscriptionId) - Number(b.spec.subscriptionId),
    );
  const get = (id: bigint) =>
    kube.get<Subscription>(blockhostTypes.subscription, subscriptionResourceName(id), namespace);
  const reorgs = async () => (await metrics.reorgs.get()).values[0]?.value ?? 0;
  const head = () => chain.publicClient.getBlockNumber({ cacheTime: 0 });

  /**
   * Every customer wallet approved the contract once (beforeAll), so a purchase or an extension is
   * one transaction, hence one block: the reorg depths below count exactly.
   */
  const send = async (
    buyer: number,
    functionName: 'buySubscription' | 'extendSubscription',
    args: bigint[],
  ) => {
    const hash = await chain.wallet(buyer).writeContract({
      address: chain.deployment.subscriptions,
      abi: BlockhostSubscriptionsAbi,
      functionName,
      args: functionName === 'buySubscription' ? [args[0]!, 30n, 1n, `0x0${buyer}`] : [args[0]!, 3n, 1n],
    } as never);
    const receipt = await confirm(chain.publicClient, hash);
    return { receipt, raw: await chain.anvil.rawTransaction(hash) };
  };
  const buy = async (buyer: number) => {
    const { receipt, raw } = await send(buyer, 'buySubscription', [chain.deployment.planIds[0]!]);
    const { subscriptionId } = eventArgs(
      BlockhostSubscriptionsAbi,
      'SubscriptionCreated',
      receipt,
      chain.deployment.subscriptions,
    );
    return { subscriptionId, receipt, raw };
  };
  const extend = (payer: number, subscriptionId: bigint) =>
    send(payer, 'extendSubscription', [subscriptionId]);
  const cancel = async (subscriptionId: bigint) =>
    confirm(
      chain.publicClient,
      await chain.deployer.writeContract({
        address: chain.deployment.subscriptions,
        abi: BlockhostSubscriptionsAbi,
        functionName: 'cancelSubscription',
        args: [subscriptionId],
      }),
    );
  /** The stored objects equal what the canonical chain says at head - confirmations. */
  const expectCanonical = async () => {
    const canonical = await canonicalState(
      chain.publicClient,
      chain.deployment,
      (await head()) - BigInt(CONFIRMATIONS),
    );
    expect(differences(await subscriptions(), canonical)).toEqual([]);
  };
  const names = async () => (await subscriptions()).map((s) => s.metadata.name);

  beforeAll(async () => {
    kube = testClient();
    namespace = await createTestNamespace(kube, 'watcher-reorg');
    chain = await startLocalChain();
    config = {
      chainId: chain.anvil.chainId,
      endpoints: [chain.anvil.rpcUrl],
      contracts: { subscriptions: chain.deployment.subscriptions, nft: chain.deployment.nft },
      confirmations: CONFIRMATIONS,
      startBlock: chain.deployment.deployBlock,
      namespace,
    };
    watcher = new ChainWatcher(kube, config, log, metrics);
    for (let index = 1; index <= 4; index += 1) {
      const hash = await chain.wallet(index).writeContract({
        address: chain.deployment.stablecoin,
        abi: erc20Abi,
        functionName: 'approve',
        args: [chain.deployment.subscriptions, maxUint256],
      });
      await confirm(chain.publicClient, hash);
    }
  });

  afterAll(async () => {
    await chain?.stop();
    await deleteNamespace(kube, namespace);
  });

  it('does not see reorgs within the confirmations (depth 1..confirmations)', async () => {
    for (let depth = 1; depth <= CONFIRMATIONS; depth += 1) {
      for (const remine of [true, false]) {
        await chain.anvil.mine(CONFIRMATIONS + 1);
        await watcher.catchUp();
        const stored = await names();
        const bought = await buy(1 + depth);
        await watcher.catchUp();
        expect(await names()).toEqual(stored); // not confirmed yet

        // Re-mined, the purchase moves to the first new block (the same number at depth 1, with
        // a new hash); otherwise it is gone and its id will be sold again.
        await chain.anvil.reorg(depth, remine ? [[bought.raw, 0]] : []);
        await watcher.catchUp();
        expect(await names()).toEqual(stored);

        await chain.anvil.mine(CONFIRMATIONS);
        await watcher.catchUp();
        await expectCanonical();
        const created = (await subscriptions()).find(
          (s) => s.spec.source.txHash === bought.receipt.transactionHash,
        );
        if (remine) {
          expect(created?.spec.source.blockNumber).toBe(Number(bought.receipt.blockNumber) - depth + 1);
          expect(created?.spec.source.blockHash).not.toBe(bought.receipt.blockHash);
        } else {
          expect(created).toBeUndefined();
        }
      }
    }
    expect(await names()).toHaveLength(CONFIRMATIONS); // the re-mined ones
    expect(await reorgs()).toBe(0);
  });

  it('rewinds after a reorg of depth confirmations + 1: a purchase re-mined in another block', async () => {
    const bought = await buy(1);
    await chain.anvil.mine(CONFIRMATIONS);
    await watcher.catchUp();
    const before = await get(bought.subscriptionId);
    expect(before.spec.source.blockHash).toBe(bought.receipt.blockHash);

    // Replaces the purchase's block (the checkpoint) and the ones above; the purchase lands two
    // blocks later.
    await chain.anvil.reorg(CONFIRMATIONS + 1, [[bought.raw, 2]]);
    await chain.anvil.mine(CONFIRMATIONS);
    await watcher.catchUp();
    expect(await reorgs()).toBe(1);
    const after = await get(bought.subscriptionId);
    expect(after.metadata.uid).toBe(before.metadata.uid);
    expect(after.spec.source.txHash).toBe(before.spec.source.txHash);
    expect(after.spec.source.blockNumber).toBe(before.spec.source.blockNumber + 2);
    expect(after.spec.source.blockHash).not.toBe(before.spec.source.blockHash);
    expect(after.spec.removedByReorg).toBe(false);
    await expectCanonical();
  });

  it('keeps a purchase removed by a reorg of depth confirmations + 2, until its id is sold again', async () => {
    const extension = await extend(3, 1n);
    const bought = await buy(2);
    await chain.anvil.mine(CONFIRMATIONS);
    await watcher.catchUp();
    const before = await get(bought.subscriptionId);
    expect((await get(1n)).spec.lastEvent?.txHash).toBe(extension.receipt.transactionHash);

    // Both the extension and the purchase are gone.
    await chain.anvil.reorg(CONFIRMATIONS + 2, []);
    await chain.anvil.mine(CONFIRMATIONS);
    await watcher.catchUp();
    expect(await reorgs()).toBe(2);
    const removed = await get(bought.subscriptionId);
    expect(removed.metadata.uid).toBe(before.metadata.uid);
    expect(removed.spec).toEqual({ ...before.spec, removedByReorg: true });
    await expectCanonical(); // subscription 1 lost its extension: expiry and latest event are back
    expect((await get(1n)).spec.lastEvent?.kind).toBe('SubscriptionCreated');

    // The next purchase gets the same id; the object follows the canonical chain again.
    const again = await buy(4);
    expect(again.subscriptionId).toBe(bought.subscriptionId);
    await chain.anvil.mine(CONFIRMATIONS);
    await watcher.catchUp();
    const reused = await get(bought.subscriptionId);
    expect(reused.spec.removedByReorg).toBe(false);
    expect(reused.spec.subscriber).toBe(chain.wallet(4).account.address);
    await expectCanonical();
  });

  it('gives an NFT back to its holder when a reorg deeper than the confirmations removed its transfer', async () => {
    const mint = await confirm(
      chain.publicClient,
      await chain.deployer.writeContract({
        address: chain.deployment.nft,
        abi: AccessCredentialNFTAbi,
        functionName: 'mintForSubscription',
        args: [1n, chain.wallet(2).account.address, '0x01'],
      }),
    );
    const { tokenId } = eventArgs(
      AccessCredentialNFTAbi,
      'SubscriptionCredentialMinted',
      mint,
      chain.deployment.nft,
    );
    await chain.anvil.mine(CONFIRMATIONS);
    await watcher.catchUp();
    expect((await get(1n)).spec.credential).toEqual({
      tokenId: String(tokenId),
      holder: chain.wallet(2).account.address,
    });

    await confirm(
      chain.publicClient,
      await chain.wallet(2).writeContract({
        address: chain.deployment.nft,
        abi: AccessCredentialNFTAbi,
        functionName: 'transferFrom',
        args: [chain.wallet(2).account.address, chain.wallet(3).account.address, tokenId],
      }),
    );
    await chain.anvil.mine(CONFIRMATIONS);
    await watcher.catchUp();
    expect((await get(1n)).spec.credential?.holder).toBe(chain.wallet(3).account.address);

    const reorgsBefore = await reorgs();
    await chain.anvil.reorg(CONFIRMATIONS + 1, []);
    await chain.anvil.mine(1);
    await watcher.catchUp();
    expect(await reorgs()).toBe(reorgsBefore + 1);
    expect((await get(1n)).spec.credential?.holder).toBe(chain.wallet(2).account.address);
    await expectCanonical();
  });

  it('reverts cancellations that rollbacks of depth confirmations + 1 and + 2 removed', async () => {
    for (const [depth, id] of [
      [CONFIRMATIONS + 1, 2n],
      [CONFIRMATIONS + 2, 3n],
    ] as const) {
      const before = await get(id);
      const cancelled = await cancel(id);
      await chain.anvil.mine(CONFIRMATIONS);
      await watcher.catchUp();
      expect((await get(id)).spec).toMatchObject({
        cancelled: true,
        lastEvent: { kind: 'SubscriptionCancelled', txHash: cancelled.transactionHash },
      });

      // The chain is now shorter than the checkpoint: nothing to scan, no failure, nothing changes
      // (a lagging endpoint looks the same, so this alone is no proof of a reorg).
      const reorgsBefore = await reorgs();
      await chain.anvil.rollback(depth);
      await watcher.catchUp();
      expect(await reorgs()).toBe(reorgsBefore);
      expect((await get(id)).spec.cancelled).toBe(true);

      // Once the new chain passes the checkpoint, its hash differs: rewind.
      await chain.anvil.mine(CONFIRMATIONS + 2);
      await watcher.catchUp();
      expect((await get(id)).spec).toEqual(before.spec);
      await expectCanonical();
      expect(await reorgs()).toBe(reorgsBefore + 1);
    }
  });

  it('re-reads facts at the target, not above it, when the new chain has only just passed the checkpoint', async () => {
    const id = 4n;
    await chain.anvil.mine(CONFIRMATIONS + 1);
    await watcher.catchUp();
    const extension = await extend(1, id); // block e
    await chain.anvil.mine(CONFIRMATIONS);
    await watcher.catchUp(); // checkpoint e
    // A reorg within the confirmations puts a cancellation right above the checkpoint (e + 1), and
    // one more block confirms it.
    const cancelTx = {
      from: chain.deployer.account.address,
      to: chain.deployment.subscriptions,
      data: encodeFunctionData({
        abi: BlockhostSubscriptionsAbi,
        functionName: 'cancelSubscription',
        args: [id],
      }),
    };
    await chain.anvil.rpc('anvil_reorg', [CONFIRMATIONS, [[cancelTx, 0]]]);
    await chain.anvil.mine(1);
    await watcher.catchUp(); // checkpoint e + 1
    expect((await get(id)).spec.cancelled).toBe(true);

    // The cancellation goes, and the new chain is exactly as high as the checkpoint: block e is
    // still canonical but above the target (e - 2), so the watcher must rewind below the target or
    // it would store facts read at the target without ever rescanning the extension at e.
    await chain.anvil.rollback(CONFIRMATIONS + 1);
    await chain.anvil.mine(1);
    const reorgsBefore = await reorgs();
    await watcher.catchUp();
    expect(await reorgs()).toBe(reorgsBefore + 1);
    await chain.anvil.mine(CONFIRMATIONS);
    await watcher.catchUp();
    await expectCanonical();
    expect((await get(id)).spec).toMatchObject({
      cancelled: false,
      lastEvent: { txHash: extension.receipt.transactionHash },
    });
  });
});
