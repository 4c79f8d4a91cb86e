/**
 * Lifecycle benchmarks (issue 4): a purchase on a real anvil chain all the way to an Active
 * Subscription with a running VM and its minted NFT, through the real controller manager (every
 * controller plus the chain watcher) on a real API server. Only the hypervisor is replaced, by the
 * in-memory InstantBackend, so the numbers are the controllers' and the chain's, not a guest's boot.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { erc20Abi, maxUint256, parseEventLogs, toHex, type Hex, type TransactionReceipt } from 'viem';
import { AccessCredentialNFTAbi, BlockhostSubscriptionsAbi } from '../../contracts/generated/artifacts.js';
import { registerControllers, type ControllerSetup } from '../../controllers/setup.js';
import { examplePlan } from '../../lib/api/v1alpha1/examples.js';
import {
  API_VERSION,
  blockhostTypes,
  subscriptionResourceName,
  type Plan,
  type Subscription,
  type VM,
} from '../../lib/api/v1alpha1/index.js';
import { encryptUserSignature, publicKeyFromPrivateKey, signMessage } from '../../lib/crypto/index.js';
import type { KubeClient } from '../../lib/kube/client.js';
import type { KubeObject } from '../../lib/kube/object.js';
import { createLogger } from '../../lib/log.js';
import { Informer } from '../../lib/runtime/informer.js';
import { Manager } from '../../lib/runtime/manager.js';
import { RuntimeMetrics } from '../../lib/runtime/metrics.js';
import { anvilAccount, anvilPrivateKey, type AnvilOptions } from '../harness/chain/anvil.js';
import { adminCredentialMinted, useLocalChain } from '../harness/chain/host-config.js';
import { startLocalChain, type LocalChain } from '../harness/chain/local-chain.js';
import type { TestCluster } from '../harness/cluster.js';
import { InstantBackend, instantBackendFactory } from '../harness/instant-backend.js';
import { claimHostConfig, createTestNamespace, deleteNamespace } from '../harness/kube.js';
import { freePort } from '../harness/processes.js';
import { CountingKubeClient } from './counting-client.js';
import { fromSamples, writeResult, type BenchResult } from './results.js';

const log = createLogger('bench-lifecycle', { level: process.env.LOG_LEVEL ?? 'warn' });
const PUBLIC_SECRET = 'blockhost-access';
/** The example HostConfig's pool has 51 addresses; the benchmarks need up to 2,000. */
const IPV4_POOL = { network: '10.64.0.0/20', start: '10.64.0.10', end: '10.64.15.250', gateway: '10.64.0.1' };
/** The fastest the HostConfig allows: the watcher polls every second and acts one block below the head. */
const CHAIN_SETTINGS = { confirmations: 1, pollIntervalSeconds: 1 };
/** Customers: anvil accounts 1..9 (0 is the server wallet). */
const BUYERS = [1, 2, 3, 4, 5, 6, 7, 8, 9];
const FIRST_BUYER = BUYERS[0]!;
const PLAN_ID = 1n;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Extra = Record<string, unknown>;
/** Writes a result with fields beyond BenchResult's (max, breakdowns, notes) kept in its JSON. */
const writeWith = (result: BenchResult, extra: Extra) => {
  const record: BenchResult & Extra = { ...result, ...extra };
  writeResult(record);
};

const round = (n: number) => Math.round(n * 10) / 10;
const seconds = (ms: number) => Math.round(ms) / 1000;
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;

/** Polls `check` every 50 ms; prints `progress()` every 10 s; fails after `timeoutMs` or when `abort` says why. */
async function waitUntil(
  what: string,
  check: () => boolean,
  {
    timeoutMs,
    progress,
    abort,
  }: { timeoutMs: number; progress?: () => string; abort?: () => string | undefined },
): Promise<void> {
  const started = performance.now();
  let reported = started;
  while (!check()) {
    const reason = abort?.();
    if (reason) throw new Error(`${what}: ${reason}`);
    const now = performance.now();
    if (now - started > timeoutMs)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${progress ? `: ${progress()}` : ''}`,
      );
    if (progress && now - reported >= 10_000) {
      console.error(`  ${progress()}`);
      reported = now;
    }
    await sleep(50);
  }
}

/** A namespace, a chain, the HostConfig naming both, and one Plan: what every lifecycle bench needs. */
interface Setup {
  kube: KubeClient;
  chain: LocalChain;
  namespace: string;
  /** Waits for the Plan to be on chain (a running manager's plan controller puts it there). */
  planOnChain(): Promise<void>;
  /**
   * On a cluster from KUBECONFIG: deletes the namespace and waits until its VMs are finalized
   * (needs the manager still running). A cluster this run started is thrown away whole instead.
   */
  tearDown(): Promise<void>;
  /** Releases the HostConfig and stops the chain. */
  close(): Promise<void>;
}

async function setUp(cluster: TestCluster, prefix: string, anvil: AnvilOptions): Promise<Setup> {
  const kube = cluster.client();
  const release = await claimHostConfig(kube);
  const namespace = await createTestNamespace(kube, prefix);
  const chain = await startLocalChain({ ...anvil, plans: [] });
  await useLocalChain(kube, namespace, chain, CHAIN_SETTINGS, { ipv4Pool: IPV4_POOL });
  const planName = `${prefix}-plan`;
  await kube.create(blockhostTypes.plan, {
    apiVersion: API_VERSION,
    kind: 'Plan',
    metadata: { name: planName },
    spec: examplePlan.spec,
  } as Plan);
  const vmCount = async () => (await kube.list<VM>(blockhostTypes.vm, { namespace })).items.length;
  return {
    kube,
    chain,
    namespace,
    planOnChain: async () => {
      const synced = async () =>
        (await kube.get<Plan>(blockhostTypes.plan, planName)).status?.onChainPlanId === String(PLAN_ID);
      for (const started = Date.now(); !(await synced()); await sleep(100))
        if (Date.now() - started > 60_000)
          throw new Error(`Plan ${planName} did not reach the chain in 60 s`);
      // Setup's admin credential mint must not count as a subscription's NFT.
      await adminCredentialMinted(kube);
    },
    tearDown: async () => {
      if (cluster.controlPlane) return;
      const started = performance.now();
      await deleteNamespace(kube, namespace);
      for (let left = await vmCount(); left > 0; left = await vmCount()) {
        if (performance.now() - started > 180_000)
          throw new Error(`${left} VMs still not finalized after 180 s`);
        await sleep(500);
      }
      console.error(`  namespace torn down (VMs finalized) in ${seconds(performance.now() - started)} s`);
    },
    close: async () => {
      await kube.delete(blockhostTypes.plan, planName).catch(() => undefined);
      await release();
      await chain.stop();
    },
  };
}

/** The full controller manager in this process, with the instant backend. */
function startManager(
  client: KubeClient,
  namespace: string,
  backend: InstantBackend,
  vm: ControllerSetup['vm'],
) {
  const manager = new Manager({ client, log, metrics: new RuntimeMetrics({ processMetrics: false }) });
  registerControllers(manager, {
    namespace,
    log,
    backendFactories: { [backend.type]: instantBackendFactory(backend) },
    vm,
  });
  const running = manager.start();
  return async () => {
    manager.stop();
    await running;
  };
}

/**
 * When each Subscription (by name) was first stored, its VM first Running, and it first Active, as a
 * watch on the API server reports them; the informer caches answer "are they all there yet".
 */
class Timeline {
  readonly stored = new Map<string, number>();
  readonly vmRunning = new Map<string, number>();
  readonly active = new Map<string, number>();
  readonly subscriptions: Informer<Subscription>;
  readonly vms: Informer<VM>;
  private readonly stopping = new AbortController();
  private readonly running: Promise<unknown>;

  constructor(kube: KubeClient, namespace: string) {
    this.subscriptions = new Informer<Subscription>(kube, blockhostTypes.subscription, log, { namespace });
    this.vms = new Informer<VM>(kube, blockhostTypes.vm, log, { namespace });
    const mark = (times: Map<string, number>, name: string | undefined, reached: boolean) => {
      if (name && reached && !times.has(name)) times.set(name, performance.now());
    };
    const onSubscription = (s: Subscription) => {
      mark(this.stored, s.metadata.name, true);
      mark(this.active, s.metadata.name, s.status?.phase === 'Active');
    };
    const onVm = (vm: VM) => mark(this.vmRunning, vm.metadata.name, vm.status?.phase === 'Running');
    this.subscriptions.addHandlers({ onAdd: onSubscription, onUpdate: (_, s) => onSubscription(s) });
    this.vms.addHandlers({ onAdd: onVm, onUpdate: (_, vm) => onVm(vm) });
    this.running = Promise.all([
      this.subscriptions.start(this.stopping.signal),
      this.vms.start(this.stopping.signal),
    ]);
  }

  /** One line on how far `expected` subscriptions got. */
  progress(expected: number): string {
    return `${this.stored.size}/${expected} Subscriptions stored, ${this.vmRunning.size} VMs Running, ${this.active.size} Active`;
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.running;
  }
}

/**
 * Payloads of `count` purchases round-robin over `buyers`: each buyer's signature of the public
 * secret, ECIES-encrypted to the server key, as the signup page sends it. Keys are derived once:
 * anvil's come from a mnemonic, and a derivation costs more than the encryption.
 */
function purchasePayloads(count: number, buyers = BUYERS): Hex[] {
  const server = publicKeyFromPrivateKey(anvilPrivateKey(0));
  const signatures = buyers.map((buyer) => signMessage(anvilPrivateKey(buyer), PUBLIC_SECRET));
  return Array.from(
    { length: count },
    (_, i) => encryptUserSignature(server, signatures[i % buyers.length]!) as Hex,
  );
}

async function approve(chain: LocalChain, buyers: number[]): Promise<void> {
  for (const buyer of buyers) {
    const hash = await chain.wallet(buyer).writeContract({
      address: chain.deployment.stablecoin,
      abi: erc20Abi,
      functionName: 'approve',
      args: [chain.deployment.subscriptions, maxUint256],
    });
    await chain.publicClient.waitForTransactionReceipt({ hash });
  }
}

const buyArgs = (payload: Hex) => [PLAN_ID, 30n, 1n, payload] as const;

/** Gas for one purchase with headroom: sending many at once must not wait for per-transaction estimates. */
async function purchaseGas(chain: LocalChain, payload: Hex): Promise<bigint> {
  const estimate = await chain.publicClient.estimateContractGas({
    account: anvilAccount(FIRST_BUYER),
    address: chain.deployment.subscriptions,
    abi: BlockhostSubscriptionsAbi,
    functionName: 'buySubscription',
    args: buyArgs(payload),
  });
  return (estimate * 3n) / 2n;
}

/**
 * Signs and sends one purchase per payload, round-robin over BUYERS, with explicit nonces, gas and
 * fees, without waiting for receipts (so they can land in one block when automine is off).
 */
async function sendPurchases(chain: LocalChain, payloads: Hex[], gas: bigint): Promise<Hex[]> {
  const fees = await chain.publicClient.estimateFeesPerGas();
  const wallets = BUYERS.map((buyer) => chain.wallet(buyer));
  const nonces = await Promise.all(
    wallets.map((wallet) =>
      chain.publicClient.getTransactionCount({ address: wallet.account.address, blockTag: 'pending' }),
    ),
  );
  const hashes: Hex[] = [];
  const started = performance.now();
  for (const [i, payload] of payloads.entries()) {
    const slot = i % BUYERS.length;
    hashes.push(
      await wallets[slot]!.writeContract({
        address: chain.deployment.subscriptions,
        abi: BlockhostSubscriptionsAbi,
        functionName: 'buySubscription',
        args: buyArgs(payload),
        nonce: nonces[slot]!++,
        gas,
        maxFeePerGas: fees.maxFeePerGas,
        maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
      }),
    );
    if ((i + 1) % 500 === 0)
      console.error(
        `  sent ${i + 1}/${payloads.length} purchases in ${seconds(performance.now() - started)} s`,
      );
  }
  return hashes;
}

const nftSupply = (chain: LocalChain, blockNumber?: bigint) =>
  chain.publicClient.readContract({
    address: chain.deployment.nft,
    abi: AccessCredentialNFTAbi,
    functionName: 'totalSupply',
    blockNumber,
  });

/**
 * Counts on chain the subscriptions of `ids` that have their credential NFT, and fails unless those
 * tokens are distinct and the supply grew since `supplyBefore` by exactly their number: never more
 * than one mint per subscription. Every read is at one block, as mints may still be under way.
 */
async function countMints(chain: LocalChain, ids: bigint[], supplyBefore: bigint): Promise<number> {
  const blockNumber = await chain.publicClient.getBlockNumber({ cacheTime: 0 });
  const tokens: bigint[] = [];
  for (let i = 0; i < ids.length; i += 100) {
    const reads = ids.slice(i, i + 100).map((id) =>
      chain.publicClient.readContract({
        address: chain.deployment.nft,
        abi: AccessCredentialNFTAbi,
        functionName: 'getSubscriptionToken',
        args: [id],
        blockNumber,
      }),
    );
    for (const [minted, tokenId] of await Promise.all(reads)) if (minted) tokens.push(tokenId);
  }
  const grown = Number((await nftSupply(chain, blockNumber)) - supplyBefore);
  const distinct = new Set(tokens).size;
  if (distinct !== tokens.length || grown !== tokens.length)
    throw new Error(
      `${tokens.length} subscriptions have an NFT (${distinct} distinct) but the supply grew by ${grown}`,
    );
  return tokens.length;
}

/** The subscription id a successful purchase created. */
function createdId(receipt: TransactionReceipt): bigint {
  const [created] = parseEventLogs({
    abi: BlockhostSubscriptionsAbi,
    eventName: 'SubscriptionCreated',
    logs: receipt.logs,
  });
  if (receipt.status !== 'success' || !created)
    throw new Error(`purchase ${receipt.transactionHash} failed or created no subscription`);
  return created.args.subscriptionId;
}

/** Subscription ids created by the purchases in `hashes`, and the blocks they are in. */
async function subscriptionIds(
  chain: LocalChain,
  hashes: Hex[],
): Promise<{ ids: bigint[]; blocks: Set<bigint> }> {
  const ids: bigint[] = [];
  const blocks = new Set<bigint>();
  for (const hash of hashes) {
    const receipt = await chain.publicClient.getTransactionReceipt({ hash });
    blocks.add(receipt.blockNumber);
    ids.push(createdId(receipt));
  }
  return { ids, blocks };
}

/**
 * purchase-to-active: 20 sequential purchases on a chain with 1 s blocks; for each, the time from
 * its receipt to its Subscription being Active (VM running, NFT minted) as a watch reports it.
 */
export async function purchaseToActive(cluster: TestCluster): Promise<void> {
  const count = 20;
  const setup = await setUp(cluster, 'bench-p2a', { blockTime: 1 });
  const backend = new InstantBackend();
  const vm = { observeIntervalMs: 10_000, transitionPollMs: 200 };
  const stopManager = startManager(cluster.client(), setup.namespace, backend, vm);
  const timeline = new Timeline(setup.kube, setup.namespace);
  try {
    await setup.planOnChain();
    const buyer = setup.chain.wallet(FIRST_BUYER);
    await approve(setup.chain, [FIRST_BUYER]);
    const stages = { stored: [] as number[], vmRunning: [] as number[], active: [] as number[] };
    for (const payload of purchasePayloads(count, [FIRST_BUYER])) {
      const hash = await buyer.writeContract({
        address: setup.chain.deployment.subscriptions,
        abi: BlockhostSubscriptionsAbi,
        functionName: 'buySubscription',
        args: buyArgs(payload),
      });
      const receipt = await setup.chain.publicClient.waitForTransactionReceipt({ hash, pollingInterval: 20 });
      const minedAt = performance.now();
      const name = subscriptionResourceName(createdId(receipt));
      await waitUntil(`${name} Active`, () => timeline.active.has(name), { timeoutMs: 60_000 });
      stages.stored.push(timeline.stored.get(name)! - minedAt);
      stages.vmRunning.push(timeline.vmRunning.get(name)! - minedAt);
      stages.active.push(timeline.active.get(name)! - minedAt);
    }
    writeWith(
      fromSamples(
        'purchase-to-active',
        'purchase mined (receipt) → Subscription Active',
        'ms',
        stages.active,
      ),
      {
        max: Math.max(...stages.active),
        stagesMedianMs: {
          subscriptionStored: round(median(stages.stored)),
          vmRunning: round(median(stages.vmRunning)),
          active: round(median(stages.active)),
        },
        setup: {
          blockTimeSeconds: 1,
          ...CHAIN_SETTINGS,
          vm,
          backend: 'InstantBackend (in memory)',
          purchases: count,
        },
        notes:
          'Sequential purchases, each timed from its receipt (polled every 20 ms) to the watch event showing phase Active. ' +
          'confirmations 1 means the purchase is acted on only once the next block exists (up to 1 s with 1 s blocks), ' +
          'and the watcher polls every pollIntervalSeconds (1 s, the minimum the HostConfig allows): these two dominate ' +
          'the time to subscriptionStored. The mint then waits for its own block, polled by the transaction sender every 1 s.',
      },
    );
  } finally {
    await setup.tearDown().catch((error: unknown) => console.error(`  teardown: ${String(error)}`));
    await timeline.stop();
    await stopManager();
    await setup.close();
  }
}

/**
 * purchases-500-one-block (and api-writes-per-vm, measured in the same run): 500 purchases mined in
 * one block, then 1 s blocks for the mints; time until all 500 Subscriptions are Active, with the
 * NFTs verified on chain, and every API write the manager made per provisioned VM.
 */
export async function purchases500OneBlock(cluster: TestCluster): Promise<void> {
  const count = 500;
  const mintBlockSeconds = 1;
  const setup = await setUp(cluster, 'bench-burst', {});
  const backend = new InstantBackend();
  const client = new CountingKubeClient(cluster.client().kubeConfig);
  // Product defaults: with 500 VMs, a short observe interval would be load of its own.
  const stopManager = startManager(client, setup.namespace, backend, {});
  const timeline = new Timeline(setup.kube, setup.namespace);
  const { chain } = setup;
  try {
    await setup.planOnChain();
    await approve(chain, BUYERS);
    const payloads = purchasePayloads(count);
    const gas = await purchaseGas(chain, payloads[0]!);
    // Room for every purchase in one block (anvil's default limit holds about a hundred).
    await chain.anvil.rpc('evm_setBlockGasLimit', [toHex(gas * BigInt(count + 10))]);
    await chain.anvil.rpc('evm_setAutomine', [false]);
    const hashes = await sendPurchases(chain, payloads, gas);
    const supplyBefore = await nftSupply(chain);
    client.reset();
    await chain.anvil.mine(1);
    const minedAt = performance.now();
    await chain.anvil.rpc('evm_setIntervalMining', [mintBlockSeconds]);
    const { ids, blocks } = await subscriptionIds(chain, hashes);
    if (blocks.size !== 1) throw new Error(`the ${count} purchases landed in ${blocks.size} blocks, not one`);

    await waitUntil('all Active', () => timeline.active.size === count, {
      timeoutMs: 280_000,
      progress: () => timeline.progress(count),
    });
    const allActive = performance.now() - minedAt;
    const mints = await countMints(chain, ids, supplyBefore);
    if (mints !== count) throw new Error(`${mints} of ${count} subscriptions have their NFT`);
    const after = (times: Map<string, number>, pick: (values: number[]) => number) =>
      seconds(pick([...times.values()]) - minedAt);
    writeWith(
      {
        benchmark: 'purchases-500-one-block',
        metric: `Subscriptions Active per second after ${count} purchases mined in one block`,
        unit: 'subscriptions/s',
        value: count / (allActive / 1000),
        samples: 1,
      },
      {
        totalSeconds: seconds(allActive),
        nftMints: mints,
        secondsAfterBlock: {
          firstSubscriptionStored: after(timeline.stored, (v) => Math.min(...v)),
          allSubscriptionsStored: after(timeline.stored, (v) => Math.max(...v)),
          firstActive: after(timeline.active, (v) => Math.min(...v)),
          allVmsRunning: after(timeline.vmRunning, (v) => Math.max(...v)),
          allActive: seconds(allActive),
        },
        setup: {
          ...CHAIN_SETTINGS,
          blockTimeAfterPurchasesSeconds: mintBlockSeconds,
          buyers: BUYERS.length,
          vm: 'product defaults (observe every 60 s)',
          backend: 'InstantBackend (in memory)',
        },
        notes:
          `All ${count} buySubscription transactions were mined in one block (automine off, block gas limit raised); ` +
          `then anvil mined a block every ${mintBlockSeconds} s for the confirmations and the mints. Timed from the ` +
          'mining of that block to the watch showing the last Subscription Active. The NFT count is read on chain: ' +
          'totalSupply grew by exactly one per subscription and every subscription has its own token.',
      },
    );
    await writeApiWrites(client, backend, timeline, count);
  } finally {
    await setup.tearDown().catch((error: unknown) => console.error(`  teardown: ${String(error)}`));
    await timeline.stop();
    await stopManager();
    await setup.close();
  }
}

/**
 * api-writes-per-vm: waits until provisioning is complete (NFT recorded on each Subscription by the
 * watcher, GECOS with the NFT applied in each guest) and the manager has made no write for 3 s
 * except the watcher's per-block checkpoint, then reports the writes per VM by verb and resource.
 */
async function writeApiWrites(
  client: CountingKubeClient,
  backend: InstantBackend,
  timeline: Timeline,
  count: number,
): Promise<void> {
  const provisioned = () =>
    timeline.subscriptions.list().every((s) => s.spec.credential !== undefined) &&
    timeline.vms.list().length === count &&
    timeline.vms
      .list()
      .every((v) => v.spec.nftTokenId && v.status?.appliedGecos?.endsWith(`nft=${v.spec.nftTokenId}`));
  await waitUntil('NFTs recorded and GECOS applied', provisioned, { timeoutMs: 120_000 });
  const perVmWrites = () => client.writeCount((key) => !key.includes('[chain-checkpoint]'));
  for (let last = perVmWrites(), quietSince = performance.now(); performance.now() - quietSince < 3000;) {
    await sleep(250);
    const now = perVmWrites();
    if (now !== last) [last, quietSince] = [now, performance.now()];
  }
  const { writes, requests, failed, noopUpdates } = client.snapshot();
  const perVm = (counts: Record<string, number>) =>
    Object.fromEntries(Object.entries(counts).map(([key, n]) => [key, Math.round((n / count) * 100) / 100]));
  const total = perVmWrites();
  writeWith(
    {
      benchmark: 'api-writes-per-vm',
      metric: `API writes (POST/PUT/PATCH/DELETE) by the controller manager per provisioned VM (${count} purchases in one block)`,
      unit: 'writes/VM',
      value: total / count,
      samples: count,
    },
    {
      writesPerVm: perVm(writes),
      failedRequestsPerVm: perVm(failed),
      noopUpdatesPerVm: perVm(noopUpdates),
      allRequestsPerVm: perVm(requests),
      backendCallsPerVm: perVm(backend.calls),
      rawWriteCount: total,
      setup: { vm: 'product defaults (observe every 60 s)' },
      notes:
        'Counted in a KubeClient subclass given to the manager (watches are streams and not counted), from the ' +
        'mining of the purchase block until every Subscription has its NFT recorded by the watcher, every guest ' +
        'has the NFT in its GECOS, and the manager made no further write for 3 s. value excludes the chain ' +
        "watcher's checkpoint ConfigMap updates (one per new block, independent of the VM count); the breakdown " +
        'shows them. Failed requests (conflicts, AlreadyExists) are counted in writesPerVm too and listed apart.',
    },
  );
}

/** Peak and current resident set (bytes) and CPU time used (s) of process `pid`, from /proc. */
async function processStats(pid: number) {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]) * 1024;
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // After the command name in parentheses come fields 3 onwards; utime and stime are 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[14 - 3]) + Number(fields[15 - 3]);
  const ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));
  return { peakRss: kib('VmHWM'), rss: kib('VmRSS'), cpuSeconds: ticks / ticksPerSecond };
}

/**
 * Mean JSON size of the objects an informer caches, and the share of it that is
 * metadata.managedFields (kept in every cached copy unless an informer strips it).
 */
function objectSizes(objects: KubeObject[]): { meanBytes: number; managedFieldsPercent: number } {
  let total = 0;
  let managed = 0;
  for (const object of objects) {
    total += JSON.stringify(object).length;
    managed += JSON.stringify((object.metadata as { managedFields?: unknown }).managedFields ?? []).length;
  }
  return {
    meanBytes: Math.round(total / objects.length),
    managedFieldsPercent: round((managed / total) * 100),
  };
}

/** The V8 heap figures (MiB) the manager's /metrics reports, to tell live data from allocator slack. */
async function heapOf(metricsPort: number): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const mib = (name: string) => round(Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1]) / 2 ** 20);
  return {
    heapUsedMiB: mib('nodejs_heap_size_used_bytes'),
    heapTotalMiB: mib('nodejs_heap_size_total_bytes'),
    externalMiB: mib('nodejs_external_memory_bytes'),
  };
}

function startManagerProcess(cluster: TestCluster, namespace: string, metricsPort: number): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', 'test/bench/lifecycle-manager.ts'], {
    env: {
      ...process.env,
      KUBECONFIG: cluster.kubeconfigPath,
      NAMESPACE: namespace,
      HEALTH_PORT: String(metricsPort),
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    },
    // Its log lines go to our stderr: stdout carries only the results.
    stdio: ['ignore', 2, 2],
  });
}

/**
 * lifecycle-rss-2000: peak RSS of a controller manager process (lifecycle-manager.ts, product
 * defaults, instant backend) taking 2,000 purchases to 2,000 Subscriptions with Running VMs, and the
 * time that takes.
 */
export async function lifecycleRss2000(cluster: TestCluster): Promise<void> {
  const count = 2000;
  const setup = await setUp(cluster, 'bench-rss', {});
  const { chain } = setup;
  const metricsPort = await freePort();
  const child = startManagerProcess(cluster, setup.namespace, metricsPort);
  const exited = once(child, 'exit');
  const abort = () =>
    child.exitCode !== null ? `the manager process exited (${child.exitCode})` : undefined;
  const timeline = new Timeline(setup.kube, setup.namespace);
  try {
    await setup.planOnChain();
    await approve(chain, BUYERS);
    const payloads = purchasePayloads(count);
    const gas = await purchaseGas(chain, payloads[0]!);
    const supplyBefore = await nftSupply(chain);
    const started = performance.now();
    const hashes = await sendPurchases(chain, payloads, gas);
    // confirmations 1: the last purchase counts once another block exists.
    await chain.publicClient.waitForTransactionReceipt({ hash: hashes.at(-1)! });
    await chain.anvil.mine(1);
    const sentSeconds = seconds(performance.now() - started);
    const running = () => timeline.vms.list().filter((vm) => vm.status?.phase === 'Running').length;
    await waitUntil('every VM Running', () => running() === count, {
      timeoutMs: 480_000,
      progress: () => timeline.progress(count),
      abort,
    });
    const settleSeconds = seconds(performance.now() - started);
    const stats = await processStats(child.pid!);
    const heap = await heapOf(metricsPort);
    const activeAtSettle = timeline.active.size;
    const mints = await countMints(chain, (await subscriptionIds(chain, hashes)).ids, supplyBefore);
    writeWith(
      {
        benchmark: 'lifecycle-rss-2000',
        metric: `controller manager peak RSS (VmHWM) taking ${count} purchases to Subscriptions with Running VMs`,
        unit: 'MiB',
        value: stats.peakRss / 2 ** 20,
        samples: 1,
      },
      {
        rssAtSettleMiB: round(stats.rss / 2 ** 20),
        ...heap,
        cachedObjects: {
          subscription: objectSizes(timeline.subscriptions.list()),
          vm: objectSizes(timeline.vms.list()),
        },
        managerCpuSeconds: round(stats.cpuSeconds),
        settleSeconds,
        purchasesSentSeconds: sentSeconds,
        subscriptionsActiveAtSettle: activeAtSettle,
        nftMintsAtSettle: mints,
        setup: {
          ...CHAIN_SETTINGS,
          chain: 'automine (a block per transaction)',
          vm: 'product defaults (observe every 60 s)',
          backend: 'InstantBackend (in memory, in the manager process)',
        },
        notes:
          `${count} real on-chain purchases (from ${BUYERS.length} buyers, sent without waiting for receipts), ` +
          'not Subscription objects written directly: the watcher creates the Subscriptions as in production and ' +
          'the NFT mints need the subscriptions on chain. The manager runs alone in a child process with the ' +
          "product's default controller options. Settled = every Subscription stored and every VM Running; " +
          'VmHWM, VmRSS and CPU time are then read from /proc/<pid>, the heap figures from its /metrics. settleSeconds counts from the first ' +
          'purchase sent (the manager works while purchases arrive). The mints lag behind the VMs and were ' +
          'still going on at that point: subscriptionsActiveAtSettle and nftMintsAtSettle say how far they got ' +
          '(the NFT count is read on chain and checked to hold no second mint for any subscription).',
      },
    );
  } finally {
    if (child.exitCode === null)
      await setup.tearDown().catch((error: unknown) => console.error(`  teardown: ${String(error)}`));
    await timeline.stop();
    // The measurement is taken. A graceful stop would first work through the whole queued backlog.
    child.kill('SIGKILL');
    await exited;
    await setup.close();
  }
}
