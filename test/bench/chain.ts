import { Registry } from 'prom-client';
import { encodeFunctionData, erc20Abi, maxUint256 } from 'viem';
import { AccessCredentialNFTAbi, BlockhostSubscriptionsAbi } from '../../contracts/generated/artifacts.js';
import { IntentStore } from '../../controllers/chain/intent-store.js';
import { TransactionSender } from '../../controllers/chain/tx-sender.js';
import { ChainWatcher, type ChainWatcherConfig } from '../../controllers/chain/watcher.js';
import { blockhostTypes, type Subscription } from '../../lib/api/v1alpha1/index.js';
import { ChainMetrics } from '../../lib/chain/metrics.js';
import type { KubeClient } from '../../lib/kube/client.js';
import { coreTypes } from '../../lib/kube/resource-types.js';
import { createLogger } from '../../lib/log.js';
import { Informer } from '../../lib/runtime/informer.js';
import { anvilAccount } from '../harness/chain/anvil.js';
import { startLocalChain, type LocalChain } from '../harness/chain/local-chain.js';
import type { TestCluster } from '../harness/cluster.js';
import { fromSamples, writeResult } from './results.js';

const log = createLogger('bench-chain');

async function namespace(kube: KubeClient, name: string): Promise<string> {
  await kube.create(coreTypes.namespace, { metadata: { name } });
  return name;
}

const watcherConfig = (
  chain: LocalChain,
  ns: string,
  overrides: Partial<ChainWatcherConfig> = {},
): ChainWatcherConfig => ({
  chainId: chain.anvil.chainId,
  endpoints: [chain.anvil.rpcUrl],
  contracts: { subscriptions: chain.deployment.subscriptions, nft: chain.deployment.nft },
  confirmations: 1,
  startBlock: chain.deployment.deployBlock,
  namespace: ns,
  pollIntervalMs: 200,
  ...overrides,
});

/** Sends `count` purchases quickly (one approval, then buys without waiting for each receipt). */
async function purchases(chain: LocalChain, count: number): Promise<void> {
  const buyer = chain.wallet(1);
  const approve = await buyer.writeContract({
    address: chain.deployment.stablecoin,
    abi: erc20Abi,
    functionName: 'approve',
    args: [chain.deployment.subscriptions, maxUint256],
  });
  await chain.publicClient.waitForTransactionReceipt({ hash: approve });
  let nonce = await chain.publicClient.getTransactionCount({ address: buyer.account.address });
  let last: `0x${string}` = approve;
  for (let i = 0; i < count; i += 1) {
    last = await buyer.writeContract({
      address: chain.deployment.subscriptions,
      abi: BlockhostSubscriptionsAbi,
      functionName: 'buySubscription',
      args: [chain.deployment.planIds[0]!, 30n, 1n, '0x1234'],
      nonce: nonce++,
      gas: 400_000n,
    });
    if ((i + 1) % 500 === 0) console.error(`  sent ${i + 1}/${count} purchases`);
  }
  await chain.publicClient.waitForTransactionReceipt({ hash: last });
}

/**
 * Prepares a chain with `prepare`, then times one watcher pass from the deployment block into a
 * fresh namespace; returns the seconds and how many Subscriptions it stored.
 */
async function timedCatchUp(
  cluster: TestCluster,
  name: string,
  prepare: (chain: LocalChain) => Promise<void>,
) {
  const kube = cluster.client();
  const chain = await startLocalChain();
  try {
    await prepare(chain);
    const ns = await namespace(kube, name);
    const started = performance.now();
    await new ChainWatcher(kube, watcherConfig(chain, ns), log).catchUp();
    const seconds = (performance.now() - started) / 1000;
    const stored = (await kube.list<Subscription>(blockhostTypes.subscription, { namespace: ns })).items
      .length;
    await kube.delete(coreTypes.namespace, ns);
    return { seconds, stored };
  } finally {
    await chain.stop();
  }
}

/** Backfill: 2,000 purchases already on-chain, one watcher pass stores them all. */
export async function backfillRate(cluster: TestCluster): Promise<void> {
  const { seconds, stored } = await timedCatchUp(cluster, 'bench-backfill', async (chain) => {
    await purchases(chain, 2000);
    await chain.anvil.mine(1);
  });
  if (stored !== 2000) throw new Error(`backfill stored ${stored} subscriptions, expected 2000`);
  writeResult({
    benchmark: 'chain-backfill',
    metric: 'Subscription objects stored per second when catching up on 2000 purchases',
    unit: 'objects/s',
    value: stored / seconds,
    samples: 1,
  });
}

/** Scanning blocks without our events: how fast the watcher walks an idle chain after downtime. */
export async function emptyScanRate(cluster: TestCluster): Promise<void> {
  const blocks = 5000;
  const { seconds } = await timedCatchUp(cluster, 'bench-empty-scan', (chain) => chain.anvil.mine(blocks));
  writeResult({
    benchmark: 'chain-empty-scan',
    metric: `blocks scanned per second over ${blocks} empty blocks (ranges of up to 2000)`,
    unit: 'blocks/s',
    value: blocks / seconds,
    samples: 1,
  });
}

/** From a purchase being mined (1 s blocks) to its Subscription object appearing, confirmations = 1. */
export async function eventLatency(cluster: TestCluster): Promise<void> {
  const kube = cluster.client();
  const chain = await startLocalChain({ blockTime: 1 });
  const ns = await namespace(kube, 'bench-latency');
  const stop = new AbortController();
  const seen = new Map<string, number>();
  const informer = new Informer<Subscription>(kube, blockhostTypes.subscription, log, { namespace: ns });
  informer.addHandlers({ onAdd: (s) => seen.set(s.spec.subscriptionId, performance.now()) });
  const informing = informer.start(stop.signal);
  const watching = new ChainWatcher(
    kube,
    watcherConfig(chain, ns),
    log,
    new ChainMetrics(new Registry()),
  ).run(stop.signal);
  try {
    const buyer = chain.wallet(1);
    const approve = await buyer.writeContract({
      address: chain.deployment.stablecoin,
      abi: erc20Abi,
      functionName: 'approve',
      args: [chain.deployment.subscriptions, maxUint256],
    });
    await chain.publicClient.waitForTransactionReceipt({ hash: approve });
    const samples: number[] = [];
    for (let i = 0; i < 20; i += 1) {
      const hash = await buyer.writeContract({
        address: chain.deployment.subscriptions,
        abi: BlockhostSubscriptionsAbi,
        functionName: 'buySubscription',
        args: [chain.deployment.planIds[0]!, 30n, 1n, '0x1234'],
      });
      const receipt = await chain.publicClient.waitForTransactionReceipt({ hash, pollingInterval: 20 });
      const minedAt = performance.now();
      const [created] = (
        await chain.publicClient.getContractEvents({
          address: chain.deployment.subscriptions,
          abi: BlockhostSubscriptionsAbi,
          eventName: 'SubscriptionCreated',
          fromBlock: receipt.blockNumber,
          toBlock: receipt.blockNumber,
        })
      ).filter((e) => e.transactionHash === hash);
      const id = String(created?.args.subscriptionId);
      while (!seen.has(id)) await new Promise((resolve) => setTimeout(resolve, 10));
      samples.push((seen.get(id)! - minedAt) / 1000);
    }
    writeResult(
      fromSamples(
        'chain-event-latency',
        'purchase mined → Subscription object stored (1 s blocks, confirmations 1)',
        's',
        samples,
      ),
    );
  } finally {
    stop.abort();
    await Promise.all([informing, watching]);
    await kube.delete(coreTypes.namespace, ns);
    await chain.stop();
  }
}

/** How many credential mints the sender gets into one block when it has many to send (2 s blocks). */
export async function mintThroughput(cluster: TestCluster): Promise<void> {
  const kube = cluster.client();
  const chain = await startLocalChain();
  const ns = await namespace(kube, 'bench-mint');
  try {
    const count = 60;
    await purchases(chain, count);
    await chain.anvil.rpc('evm_setIntervalMining', [2]);
    const sender = new TransactionSender({
      chain: chain.publicClient,
      chainId: chain.anvil.chainId,
      account: anvilAccount(0),
      store: new IntentStore(kube, ns),
      log,
      pollMs: 200,
    });
    const to = chain.wallet(1).account.address;
    const outcomes = await Promise.all(
      Array.from({ length: count }, (_, i) =>
        sender.send(`bench-mint-${i + 1}`, {
          to: chain.deployment.nft,
          data: encodeFunctionData({
            abi: AccessCredentialNFTAbi,
            functionName: 'mintForSubscription',
            args: [BigInt(i + 1), to, '0x01'],
          }),
        }),
      ),
    );
    const perBlock = new Map<bigint, number>();
    for (const { receipt } of outcomes)
      perBlock.set(receipt.blockNumber, (perBlock.get(receipt.blockNumber) ?? 0) + 1);
    const counts = [...perBlock.values()];
    writeResult({
      ...fromSamples(
        'sender-mint-throughput',
        `credential NFTs minted per block (${count} mints, 2 s blocks)`,
        'NFTs/block',
        counts,
      ),
      value: count / perBlock.size,
    });
  } finally {
    await kube.delete(coreTypes.namespace, ns);
    await chain.stop();
  }
}
