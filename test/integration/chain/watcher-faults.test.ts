import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { Registry } from 'prom-client';
import { erc20Abi, maxUint256 } from 'viem';
import { confirm, eventArgs } from '../../../contracts/deploy.js';
import { AccessCredentialNFTAbi, BlockhostSubscriptionsAbi } from '../../../contracts/generated/artifacts.js';
import { checkpointName, type Checkpoint } from '../../../lib/chain/checkpoint.js';
import { ChainWatcher, type ChainWatcherConfig } from '../../../controllers/chain/watcher.js';
import { blockhostTypes, type Subscription } from '../../../lib/api/v1alpha1/index.js';
import { ChainMetrics } from '../../../lib/chain/metrics.js';
import type { KubeClient } from '../../../lib/kube/client.js';
import { coreTypes } from '../../../lib/kube/resource-types.js';
import { createLogger } from '../../../lib/log.js';
import { canonicalState, differences } from '../../harness/chain/canonical-subscriptions.js';
import { startLocalChain, type LocalChain } from '../../harness/chain/local-chain.js';
import {
  faultSeed,
  RpcFaultProxy,
  seededRandom,
  type FaultKind,
  type FaultOptions,
} from '../../harness/chain/rpc-fault-proxy.js';
import { createTestNamespace, deleteNamespace, eventually, testClient } from '../../harness/kube.js';

const CONFIRMATIONS = 2;
const RPC_TIMEOUT_MS = 800;
const SEED = faultSeed();

// Shared by both endpoints; each has its own range limit and PRNG stream.
const FAULTS: Omit<FaultOptions, 'seed'> = {
  errorRate: 0.05,
  slowRate: 0.03,
  slowMs: RPC_TIMEOUT_MS + 700,
  messyLogsRate: 0.8,
  staleRate: 0.5,
  // Both endpoints down together for 300 ms in every 1.2 s: these failures reach the watcher.
  outageMs: 300,
  outageEvery: 4,
  outageSeed: SEED,
};

describe(`chain watcher behind two faulty RPC endpoints (BLOCKHOST_FAULT_SEED=${SEED})`, () => {
  let kube: KubeClient;
  let namespace: string;
  let chain: LocalChain;
  let proxies: RpcFaultProxy[];
  let config: ChainWatcherConfig;
  const log = createLogger('watcher-faults-test');

  const subscriptions = async () =>
    (await kube.list<Subscription>(blockhostTypes.subscription, { namespace })).items;
  const checkpoint = async (): Promise<Checkpoint | undefined> => {
    const name = checkpointName(config.chainId, config.contracts.subscriptions);
    const configMap = await kube
      .get<{ metadata: object; data?: { checkpoint?: string } }>(coreTypes.configMap, name, namespace)
      .catch(() => undefined);
    const text = configMap?.data?.checkpoint;
    return text ? (JSON.parse(text) as Checkpoint) : undefined;
  };

  /** Customers approved the contract once (beforeAll); every call here is one transaction. */
  const write = async (wallet: number, call: Parameters<LocalChain['deployer']['writeContract']>[0]) =>
    confirm(
      chain.publicClient,
      await (wallet === 0 ? chain.deployer : chain.wallet(wallet)).writeContract(call),
    );

  beforeAll(async () => {
    console.log(`rpc fault seed ${SEED}; replay with BLOCKHOST_FAULT_SEED=${SEED}`);
    kube = testClient();
    namespace = await createTestNamespace(kube, 'watcher-faults');
    chain = await startLocalChain();
    proxies = [
      await RpcFaultProxy.start(chain.anvil.rpcUrl, { ...FAULTS, seed: SEED, maxLogRange: 100 }),
      await RpcFaultProxy.start(chain.anvil.rpcUrl, { ...FAULTS, seed: SEED + 1, maxLogRange: 40 }),
    ];
    config = {
      chainId: chain.anvil.chainId,
      endpoints: proxies.map((p) => p.url),
      contracts: { subscriptions: chain.deployment.subscriptions, nft: chain.deployment.nft },
      confirmations: CONFIRMATIONS,
      startBlock: chain.deployment.deployBlock,
      namespace,
      pollIntervalMs: 100,
      rpcTimeoutMs: RPC_TIMEOUT_MS,
    };
    for (let index = 1; index <= 9; index += 1) {
      await write(index, {
        address: chain.deployment.stablecoin,
        abi: erc20Abi,
        functionName: 'approve',
        args: [chain.deployment.subscriptions, maxUint256],
      });
    }
  });

  afterAll(async () => {
    for (const proxy of proxies ?? []) await proxy.close();
    await chain?.stop();
    await deleteNamespace(kube, namespace);
  });

  it('stores every purchase, extension, cancellation and NFT move exactly once, and keeps running', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    const failedCycles = jest.spyOn(log, 'warn');
    const metrics = new ChainMetrics(new Registry());
    const controller = new AbortController();
    const running = new ChainWatcher(kube, config, log, metrics).run(controller.signal);
    let target = 0n;
    try {
      // Customers and the server act while the watcher runs; blocks pass at an uneven pace.
      const random = seededRandom(SEED ^ 0xac7);
      const contract = { address: chain.deployment.subscriptions, abi: BlockhostSubscriptionsAbi } as const;
      const ids: bigint[] = [];
      const cancelled = new Set<bigint>();
      const holders = new Map<bigint, number>(); // token id -> wallet index
      for (let step = 0; step < 24; step += 1) {
        const buyer = 1 + (step % 9);
        const receipt = await write(buyer, {
          ...contract,
          functionName: 'buySubscription',
          args: [chain.deployment.planIds[0]!, BigInt(1 + step), 1n, `0x${(step + 16).toString(16)}`],
        });
        const { subscriptionId } = eventArgs(
          BlockhostSubscriptionsAbi,
          'SubscriptionCreated',
          receipt,
          chain.deployment.subscriptions,
        );
        ids.push(subscriptionId);
        if (step % 3 === 2) {
          // Mostly the subscription just bought (its Created and Extended then share a range, so
          // their order matters), sometimes an older one.
          const open = ids.filter((id) => !cancelled.has(id));
          await write(1 + ((step + 4) % 9), {
            ...contract,
            functionName: 'extendSubscription',
            args: [step % 9 === 8 ? open[Math.floor(random() * open.length)]! : subscriptionId, 2n, 1n],
          });
        }
        if (step % 7 === 6) {
          cancelled.add(ids[step - 5]!);
          await write(0, { ...contract, functionName: 'cancelSubscription', args: [ids[step - 5]!] });
        }
        if (step % 5 === 4) {
          const mint = await write(0, {
            address: chain.deployment.nft,
            abi: AccessCredentialNFTAbi,
            functionName: 'mintForSubscription',
            args: [subscriptionId, chain.wallet(buyer).account.address, '0x01'],
          });
          const { tokenId } = eventArgs(
            AccessCredentialNFTAbi,
            'SubscriptionCredentialMinted',
            mint,
            chain.deployment.nft,
          );
          holders.set(tokenId, buyer);
        }
        if (step === 20) {
          const [tokenId, holder] = [...holders.entries()][0]!;
          await write(holder, {
            address: chain.deployment.nft,
            abi: AccessCredentialNFTAbi,
            functionName: 'transferFrom',
            args: [chain.wallet(holder).account.address, chain.wallet(9).account.address, tokenId],
          });
        }
        if (step === 12) {
          // The scheduled outages are short and may fall between cycles; this one outlasts the
          // watcher's in-cycle retries, so at least one cycle fails and its range is scanned again.
          for (const proxy of proxies) proxy.takeDown(1_500);
        }
        await chain.anvil.mine(Math.floor(random() * 60));
        await new Promise((resolve) => setTimeout(resolve, random() * 300));
      }
      await chain.anvil.mine(CONFIRMATIONS);
      target = (await chain.publicClient.getBlockNumber({ cacheTime: 0 })) - BigInt(CONFIRMATIONS);

      await eventually(
        'the watcher to reach head - confirmations',
        async () => (await checkpoint())?.block.number === Number(target),
        90_000,
      );
    } finally {
      controller.abort();
      await running; // run() never throws; it ends when aborted
      process.off('unhandledRejection', onUnhandled);
    }

    const canonical = await canonicalState(chain.publicClient, chain.deployment, target);
    expect(differences(await subscriptions(), canonical)).toEqual([]);

    // Counted once each, however often a range was scanned again after a failure.
    const counted = Object.fromEntries(
      (await metrics.eventsIngested.get()).values.map((v) => [v.labels.event, v.value]),
    );
    expect(counted).toEqual(Object.fromEntries(canonical.eventCounts));
    expect(counted.SubscriptionCreated).toBe(24);

    // The run met the faults that matter here: duplicated logs, refused ranges, and outages that
    // failed whole cycles, so ranges were applied again. (The rarer ones are only reported: a short
    // run may draw none of them.)
    const stats = Object.fromEntries(
      Object.keys(proxies[0]!.stats).map((kind) => [
        kind,
        proxies.reduce((sum, p) => sum + p.stats[kind as FaultKind], 0),
      ]),
    );
    const requests = proxies.reduce((sum, p) => sum + p.requests, 0);
    console.log(
      `seed ${SEED}: ${requests} requests, faults ${JSON.stringify(stats)}, failed watcher cycles ${failedCycles.mock.calls.length}`,
    );
    for (const kind of ['messyLogs', 'rangeRefused', 'outage'] as const)
      expect([kind, stats[kind]! > 0]).toEqual([kind, true]);
    expect(failedCycles).toHaveBeenCalledWith(expect.anything(), 'chain watcher cycle failed; retrying');
    expect(unhandled).toEqual([]);
  }, 150_000);
});
