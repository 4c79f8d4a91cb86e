import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Registry } from 'prom-client';
import type { PublicClient } from 'viem';
import { extendSubscription } from '../../../contracts/deploy.js';
import { BlockhostSubscriptionsAbi } from '../../../contracts/generated/artifacts.js';
import { checkpointName, type Checkpoint } from '../../../lib/chain/checkpoint.js';
import { ChainWatcher, type ChainWatcherConfig } from '../../../controllers/chain/watcher.js';
import { blockhostTypes, type Subscription } from '../../../lib/api/v1alpha1/index.js';
import { ChainMetrics } from '../../../lib/chain/metrics.js';
import { createChainClient } from '../../../lib/chain/rpc.js';
import type { KubeClient } from '../../../lib/kube/client.js';
import type { KubeObject } from '../../../lib/kube/object.js';
import { coreTypes, type ResourceType } from '../../../lib/kube/resource-types.js';
import { createLogger } from '../../../lib/log.js';
import { canonicalState, differences, eventCounts } from '../../harness/chain/canonical-subscriptions.js';
import { startLocalChain, type LocalChain } from '../../harness/chain/local-chain.js';
import { createTestNamespace, deleteNamespace, testClient } from '../../harness/kube.js';

const CONFIRMATIONS = 5;
const MAX_BLOCK_RANGE = 500;
const DOWNTIME_BLOCKS = 10_000;
const PURCHASES_WHILE_DOWN = 30;

describe('chain watcher after a long downtime', () => {
  let kube: KubeClient;
  let namespace: string;
  let chain: LocalChain;
  let config: ChainWatcherConfig;
  const log = createLogger('watcher-downtime-test');

  const subscriptions = async () =>
    (await kube.list<Subscription>(blockhostTypes.subscription, { namespace })).items;
  const checkpoint = async (): Promise<Checkpoint> => {
    const name = checkpointName(config.chainId, config.contracts.subscriptions);
    const configMap = await kube.get<{ metadata: object; data?: { checkpoint?: string } }>(
      coreTypes.configMap,
      name,
      namespace,
    );
    return JSON.parse(configMap.data!.checkpoint!) as Checkpoint;
  };
  const buy = (buyer: number, days: bigint, userEncrypted: `0x${string}`) =>
    chain.buy(buyer, { days, userEncrypted });
  const extend = (payer: number, subscriptionId: bigint, days: bigint) =>
    extendSubscription({
      publicClient: chain.publicClient,
      walletClient: chain.wallet(payer),
      subscriptions: chain.deployment.subscriptions,
      subscriptionId,
      days,
    });

  /**
   * An RPC client that records every eth_getLogs range and, when `crashAtRead` is set, fails that
   * many contract reads in: the process dying in the middle of storing a range's objects.
   */
  const instrumentedClient = (ranges: [bigint, bigint][], crashAtRead?: number): PublicClient => {
    const client = createChainClient({ chainId: config.chainId, endpoints: config.endpoints });
    let reads = 0;
    return new Proxy(client, {
      get(target, property, receiver) {
        if (property === 'getLogs')
          return (args: { fromBlock: bigint; toBlock: bigint }) => {
            ranges.push([args.fromBlock, args.toBlock]);
            return target.getLogs(args);
          };
        if (property === 'readContract')
          return (args: Parameters<PublicClient['readContract']>[0]) => {
            reads += 1;
            if (reads === crashAtRead) return Promise.reject(new Error('simulated crash while storing'));
            return target.readContract(args);
          };
        return Reflect.get(target, property, receiver) as unknown;
      },
    });
  };

  /** The cluster client, except that checkpoint write number `failAt` fails. */
  const failingCheckpointWrite = (failAt: number): KubeClient => {
    let writes = 0;
    return new Proxy(kube, {
      get(target, property) {
        const value = Reflect.get(target, property, target) as unknown;
        if (property !== 'update' || typeof value !== 'function') return value;
        return (type: ResourceType, object: KubeObject) => {
          if (type === coreTypes.configMap && ++writes === failAt)
            return Promise.reject(new Error('simulated API failure'));
          return (value as KubeClient['update']).call(target, type, object);
        };
      },
    });
  };

  beforeAll(async () => {
    kube = testClient();
    namespace = await createTestNamespace(kube, 'watcher-down');
    chain = await startLocalChain({ recentStatesOnly: true });
    config = {
      chainId: chain.anvil.chainId,
      endpoints: [chain.anvil.rpcUrl],
      contracts: { subscriptions: chain.deployment.subscriptions, nft: chain.deployment.nft },
      confirmations: CONFIRMATIONS,
      startBlock: chain.deployment.deployBlock,
      namespace,
      maxBlockRange: BigInt(MAX_BLOCK_RANGE),
    };
  });

  afterAll(async () => {
    await chain?.stop();
    await deleteNamespace(kube, namespace);
  });

  // Mining 10,000 blocks is CPU-bound in anvil: about a minute on an idle 2-core machine, more when busy.
  it('stores every event of 10,000 blocks exactly once when a new instance resumes from the checkpoint', async () => {
    // Up: three purchases are stored.
    for (const buyer of [1, 2, 3]) await buy(buyer, 30n, `0x0${buyer}`);
    await chain.anvil.mine(CONFIRMATIONS);
    await new ChainWatcher(kube, config, log).catchUp();
    expect(await subscriptions()).toHaveLength(3);
    const before = await checkpoint();

    // Down: 30 purchases spread over 10,000 blocks, extensions of old and new subscriptions (one
    // extended twice), and a cancellation.
    const downFrom = await chain.publicClient.getBlockNumber();
    const gap = Math.floor(DOWNTIME_BLOCKS / PURCHASES_WHILE_DOWN);
    for (let i = 0; i < PURCHASES_WHILE_DOWN; i += 1) {
      const { subscriptionId } = await buy(
        1 + (i % 9),
        BigInt(1 + i),
        `0x${(i + 16).toString(16).repeat(2)}`,
      );
      if (i % 8 === 2) await extend(9 - (i % 9), subscriptionId - 2n, 5n);
      if (i === 12 || i === 13) await extend(4, 1n, 7n);
      if (i === 20) {
        const hash = await chain.deployer.writeContract({
          address: chain.deployment.subscriptions,
          abi: BlockhostSubscriptionsAbi,
          functionName: 'cancelSubscription',
          args: [subscriptionId - 4n],
        });
        await chain.publicClient.waitForTransactionReceipt({ hash });
      }
      await chain.anvil.mine(gap);
    }
    const head = await chain.publicClient.getBlockNumber();
    expect(head - downFrom).toBeGreaterThanOrEqual(DOWNTIME_BLOCKS);
    const target = head - BigInt(CONFIRMATIONS);

    // A new instance dies in the middle of storing a range: some objects are written, the checkpoint
    // has not moved past that range.
    const crashedRanges: [bigint, bigint][] = [];
    await expect(
      new ChainWatcher(kube, config, log, undefined, instrumentedClient(crashedRanges, 25)).catchUp(),
    ).rejects.toThrow('simulated crash while storing');
    const afterCrash = await checkpoint();
    expect(afterCrash.block.number).toBeGreaterThan(before.block.number);
    expect(afterCrash.block.number).toBeLessThan(Number(target));

    // Yet another instance finishes the job, though one checkpoint write fails after its range's
    // objects were stored: that range is applied again, and still counted once.
    const ranges: [bigint, bigint][] = [];
    const metrics = new ChainMetrics(new Registry());
    const resumed = new ChainWatcher(
      failingCheckpointWrite(3),
      config,
      log,
      metrics,
      instrumentedClient(ranges),
    );
    await expect(resumed.catchUp()).rejects.toThrow('simulated API failure');
    await resumed.catchUp();

    // Contiguous ranges of at most maxBlockRange blocks from the checkpoint to head - confirmations;
    // the one whose checkpoint write failed was scanned twice.
    const repeats = ranges.filter(([from], i) => i > 0 && from === ranges[i - 1]![0]);
    expect(repeats).toHaveLength(1);
    const distinct = ranges.filter(([from], i) => i === 0 || from !== ranges[i - 1]![0]);
    expect(distinct.length).toBeGreaterThanOrEqual(
      Math.ceil((Number(target) - afterCrash.block.number) / MAX_BLOCK_RANGE),
    );
    expect(distinct[0]![0]).toBe(BigInt(afterCrash.block.number) + 1n);
    expect(distinct.at(-1)![1]).toBe(target);
    for (const [index, [from, to]] of distinct.entries()) {
      expect(to - from + 1n).toBeLessThanOrEqual(BigInt(MAX_BLOCK_RANGE));
      if (index > 0) expect(from).toBe(distinct[index - 1]![1] + 1n);
    }

    // Every subscription exactly once, with the chain's facts, payload, creating and latest event.
    const canonical = await canonicalState(chain.publicClient, chain.deployment, target);
    expect(canonical.specs.size).toBe(3 + PURCHASES_WHILE_DOWN);
    const stored = await subscriptions();
    expect(differences(stored, canonical)).toEqual([]);
    expect(stored.find((s) => s.spec.subscriptionId === '1')?.spec.lastEvent?.kind).toBe(
      'SubscriptionExtended',
    );
    expect(stored.filter((s) => s.spec.cancelled)).toHaveLength(1);
    expect(stored.filter((s) => s.spec.lastEvent?.kind === 'SubscriptionCancelled')).toHaveLength(1);

    // The checkpoint reached head - confirmations, with that block's hash.
    const done = await checkpoint();
    expect(done.block).toEqual({
      number: Number(target),
      hash: (await chain.publicClient.getBlock({ blockNumber: target })).hash,
    });

    // The instance counted each event of its ranges once, the range it applied twice included.
    const counted = Object.fromEntries(
      (await metrics.eventsIngested.get()).values.map((v) => [v.labels.event, v.value]),
    );
    const emitted = await eventCounts(
      chain.publicClient,
      chain.deployment,
      BigInt(afterCrash.block.number) + 1n,
      target,
    );
    expect(counted).toEqual(Object.fromEntries(emitted));
  }, 300_000);
});
