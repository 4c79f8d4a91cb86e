import type { Log, PublicClient } from 'viem';
import { decryptUserSignature, isCryptoError } from '../../lib/crypto/index.js';
import { blockhostTypes, type Subscription } from '../../lib/api/v1alpha1/index.js';
import type { ChainMetrics } from '../../lib/chain/metrics.js';
import { createChainClient } from '../../lib/chain/rpc.js';
import type { KubeClient } from '../../lib/kube/client.js';
import type { Logger } from '../../lib/log.js';
import { Backoff, sleep } from '../../lib/backoff.js';
import { CheckpointStore, type BlockRef, type Checkpoint } from './checkpoint.js';
import { LogScanner } from './log-scanner.js';
import { SubscriptionSync, type ChainContracts } from './subscription-sync.js';

/** Why the server key cannot recover a customer signature from `payload`, or undefined if it can. */
function undecryptableReason(serverKey: `0x${string}`, payload: `0x${string}`): string | undefined {
  try {
    decryptUserSignature(serverKey, payload);
    return undefined;
  } catch (error) {
    return `userEncrypted cannot be decrypted with the server key (${isCryptoError(error) ? error.code : 'unexpected error'}): ${(error as Error).message}`;
  }
}

export interface ChainWatcherConfig {
  chainId: number;
  endpoints: string[];
  contracts: ChainContracts;
  /** Blocks below the head that count as final; events above are not acted on yet. */
  confirmations: number;
  /** First block that can hold our events (the contracts' deployment block). */
  startBlock: bigint;
  /** Namespace of the Subscription objects and the checkpoint. */
  namespace: string;
  pollIntervalMs?: number;
  maxBlockRange?: bigint;
  /** When given, payloads that this key cannot decrypt are recorded as spec.payloadError. */
  serverPrivateKey?: `0x${string}`;
  rpcTimeoutMs?: number;
}

/**
 * Mirrors our contracts' confirmed events into Subscription objects, losing nothing: it resumes from
 * a checkpoint persisted in the cluster (however long it was down), scans to head - confirmations in
 * adaptive ranges, stores the objects first and only then advances the checkpoint, and rewinds when
 * the chain under the checkpoint changed (a reorg deeper than the confirmations).
 */
export class ChainWatcher {
  private readonly chain: PublicClient;
  private readonly scanner: LogScanner;
  private readonly sync: SubscriptionSync;
  private readonly store: CheckpointStore;
  private readonly labels: { chain_id: string };

  constructor(
    private readonly kube: KubeClient,
    private readonly config: ChainWatcherConfig,
    private readonly log: Logger,
    private readonly metrics?: ChainMetrics,
    chain?: PublicClient,
  ) {
    this.chain =
      chain ??
      createChainClient({
        chainId: config.chainId,
        endpoints: config.endpoints,
        timeoutMs: config.rpcTimeoutMs,
        metrics,
      });
    this.scanner = new LogScanner(
      this.chain,
      [config.contracts.subscriptions, config.contracts.nft],
      config.maxBlockRange,
    );
    const serverKey = config.serverPrivateKey;
    this.sync = new SubscriptionSync(
      kube,
      this.chain,
      config.chainId,
      config.contracts,
      config.namespace,
      log,
      metrics,
      serverKey && ((payload) => undecryptableReason(serverKey, payload)),
    );
    this.store = new CheckpointStore(
      kube,
      config.namespace,
      `blockhost-chain-${config.chainId}-${config.contracts.subscriptions.slice(2, 10).toLowerCase()}`,
    );
    this.labels = { chain_id: String(config.chainId) };
  }

  /** Polls until `signal` aborts; failures retry with capped, jittered backoff. */
  async run(signal: AbortSignal): Promise<void> {
    const backoff = new Backoff(500, 30_000);
    while (!signal.aborted) {
      try {
        await this.catchUp(signal);
        backoff.reset();
        await sleep(this.config.pollIntervalMs ?? 5000, signal);
      } catch (error) {
        if (signal.aborted) break;
        const delay = backoff.next();
        this.log.warn(
          {
            err: error instanceof Error ? error.message.split('\n')[0] : String(error),
            retryInMs: Math.round(delay),
          },
          'chain watcher cycle failed; retrying',
        );
        await sleep(delay, signal);
      }
    }
  }

  /** One pass: verify the checkpoint, then store every confirmed event up to head - confirmations. */
  async catchUp(signal?: AbortSignal): Promise<void> {
    const head = await this.chain.getBlockNumber({ cacheTime: 0 });
    this.metrics?.headBlock.set(this.labels, Number(head));
    const target = head - BigInt(this.config.confirmations);
    let checkpoint = await this.store.load();
    if (checkpoint) checkpoint = await this.verify(checkpoint, target);
    let from = checkpoint ? BigInt(checkpoint.block.number) + 1n : this.config.startBlock;
    while (from <= target && !signal?.aborted) {
      const { to, logs } = await this.scanner.scan(from, target);
      const end = await this.blockRef(to);
      // Logs of a block that is no longer canonical mean a reorg happened during the scan.
      if (logs.some((l) => l.blockNumber === to && l.blockHash !== end.hash)) {
        throw new Error(`block ${to} changed during the scan (reorg); rescanning`);
      }
      await this.sync.apply(logs as Log[], target);
      checkpoint = await this.store.save(checkpoint, end);
      this.metrics?.processedBlock.set(this.labels, end.number);
      this.metrics?.lagBlocks.set(this.labels, Number(head) - end.number);
      from = to + 1n;
    }
  }

  /** Returns the checkpoint to resume from: unchanged, or rewound to the newest block still canonical. */
  private async verify(checkpoint: Checkpoint, target: bigint): Promise<Checkpoint> {
    const current = await this.blockRef(BigInt(checkpoint.block.number));
    if (current.hash === checkpoint.block.hash) return checkpoint;
    this.metrics?.reorgs.inc(this.labels);
    let ancestor: BlockRef | undefined;
    for (const ref of [...checkpoint.recent].reverse()) {
      if ((await this.blockRef(BigInt(ref.number))).hash === ref.hash) {
        ancestor = ref;
        break;
      }
    }
    ancestor ??= await this.blockRef(this.config.startBlock - 1n);
    this.log.warn(
      { checkpoint: checkpoint.block.number, ancestor: ancestor.number },
      'reorg below the checkpoint; rewinding',
    );
    // Re-read every subscription whose events lie above the ancestor before moving the checkpoint
    // back: ones the new chain no longer has are marked, never deleted. A crash here just repeats it.
    const list = await this.kube.list<Subscription>(blockhostTypes.subscription, {
      namespace: this.config.namespace,
    });
    const affected = list.items
      .filter((s) => s.spec.contract.toLowerCase() === this.config.contracts.subscriptions.toLowerCase())
      .filter(
        (s) => Math.max(s.spec.source.blockNumber, s.spec.lastEvent?.blockNumber ?? 0) > ancestor.number,
      )
      .map((s) => BigInt(s.spec.subscriptionId));
    await this.sync.apply([], target, affected);
    return this.store.rewind(checkpoint, ancestor);
  }

  private async blockRef(number: bigint): Promise<BlockRef> {
    const block = await this.chain.getBlock({ blockNumber: number < 0n ? 0n : number });
    return { number: Number(block.number), hash: block.hash };
  }
}
