import type { Log, PublicClient } from 'viem';
import { decryptUserSignature, isCryptoError } from '../../lib/crypto/index.js';
import type { DecryptKey } from '../wallet/keys.js';
import { blockhostTypes, type Subscription } from '../../lib/api/v1alpha1/index.js';
import type { ChainMetrics } from '../../lib/chain/metrics.js';
import { createChainClient } from '../../lib/chain/rpc.js';
import type { KubeClient } from '../../lib/kube/client.js';
import type { Logger } from '../../lib/log.js';
import { Backoff, sleep } from '../../lib/backoff.js';
import { checkpointName, type BlockRef, type Checkpoint } from '../../lib/chain/checkpoint.js';
import { CheckpointStore } from './checkpoint.js';
import { LogScanner } from './log-scanner.js';
import {
  SubscriptionSync,
  type AppliedEvent,
  type ChainContracts,
  type LastEvent,
  type Recheck,
} from './subscription-sync.js';

/** Why the decrypt key cannot recover a customer signature from `payload`, or undefined if it can. */
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
  /** Namespace of the Subscription objects. */
  namespace: string;
  /** Namespace of the checkpoint, writable only by the controller (default: `namespace`). */
  stateNamespace?: string;
  pollIntervalMs?: number;
  maxBlockRange?: bigint;
  /** When given, payloads that this key cannot decrypt are recorded as spec.payloadError. */
  decrypt?: DecryptKey;
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
  /** Events up to this block were counted by this instance (a range applied twice counts once). */
  private countedThrough?: bigint;
  /** The current pass stored at least one range. */
  private progressed = false;

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
    const serverKey = config.decrypt?.privateKey;
    this.sync = new SubscriptionSync(
      kube,
      this.chain,
      config.chainId,
      config.contracts,
      config.namespace,
      log,
      serverKey && ((payload) => undecryptableReason(serverKey, payload)),
    );
    this.store = new CheckpointStore(
      kube,
      config.stateNamespace ?? config.namespace,
      checkpointName(config.chainId, config.contracts.subscriptions),
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
        // A pass that stored ranges before failing is no reason to slow down: a long catch-up over
        // a flaky provider would otherwise crawl at the maximum backoff.
        if (this.progressed) backoff.reset();
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
    this.progressed = false;
    const head = await this.chain.getBlockNumber({ cacheTime: 0 });
    this.metrics?.headBlock.set(this.labels, Number(head));
    const target = head - BigInt(this.config.confirmations);
    let checkpoint = await this.store.load();
    this.countedThrough ??= checkpoint ? BigInt(checkpoint.block.number) : this.config.startBlock - 1n;
    if (checkpoint) checkpoint = await this.verify(checkpoint, head, target);
    let from = checkpoint ? BigInt(checkpoint.block.number) + 1n : this.config.startBlock;
    while (from <= target && !signal?.aborted) {
      const { to, logs } = await this.scanner.scan(from, target);
      const end = await this.blockRef(to);
      // Logs of a block that is no longer canonical mean a reorg happened during the scan.
      if (logs.some((l) => l.blockNumber === to && l.blockHash !== end.hash)) {
        throw new Error(`block ${to} changed during the scan (reorg); rescanning`);
      }
      this.countIngested(await this.sync.apply(logs as Log[], target), to);
      checkpoint = await this.store.save(checkpoint, end);
      this.progressed = true;
      this.metrics?.processedBlock.set(this.labels, end.number);
      this.metrics?.lagBlocks.set(this.labels, Number(head) - end.number);
      from = to + 1n;
    }
  }

  /** Counts the events of an applied range, each once however often the range is applied. */
  private countIngested(events: AppliedEvent[], to: bigint): void {
    const counted = this.countedThrough!;
    for (const { name, blockNumber } of events) {
      if (blockNumber > counted) this.metrics?.eventsIngested.inc({ ...this.labels, event: name });
    }
    if (to > counted) this.countedThrough = to;
  }

  /** Returns the checkpoint to resume from: unchanged, or rewound to the newest block still canonical. */
  private async verify(checkpoint: Checkpoint, head: bigint, target: bigint): Promise<Checkpoint> {
    // Above the head (a lagging endpoint, or a chain that got shorter): there is nothing to scan
    // until the chain passes the checkpoint again, and then its hash decides.
    if (BigInt(checkpoint.block.number) > head) return checkpoint;
    if (await this.isCanonical(checkpoint.block)) return checkpoint;
    this.metrics?.reorgs.inc(this.labels);
    // The newest remembered block still on the chain and not above the target, so that the state
    // read at the target covers everything up to it.
    let ancestor: BlockRef | undefined;
    for (const ref of [...checkpoint.recent].reverse()) {
      if (BigInt(ref.number) <= target && (await this.isCanonical(ref))) {
        ancestor = ref;
        break;
      }
    }
    ancestor ??= await this.blockRef(this.config.startBlock - 1n);
    this.log.warn(
      { checkpoint: checkpoint.block.number, ancestor: ancestor.number },
      'reorg below the checkpoint; rewinding',
    );
    // Before moving the checkpoint back, re-read every subscription with events above the ancestor
    // (ones the new chain no longer has are marked, never deleted) and every one with an NFT (a
    // Transfer may be gone). A latest event above the ancestor is replaced by the latest one still
    // on the chain; the rescan adds newer ones. A crash here just repeats it.
    const list = await this.kube.list<Subscription>(blockhostTypes.subscription, {
      namespace: this.config.namespace,
    });
    const recheck: Recheck[] = [];
    for (const { spec } of list.items) {
      if (spec.contract.toLowerCase() !== this.config.contracts.subscriptions.toLowerCase()) continue;
      const last = spec.lastEvent;
      const above = Math.max(spec.source.blockNumber, last?.blockNumber ?? 0) > ancestor.number;
      if (!above && !spec.credential) continue;
      const id = BigInt(spec.subscriptionId);
      recheck.push({
        id,
        lastEvent:
          last && last.blockNumber > ancestor.number
            ? await this.latestEvent(id, spec.source.blockNumber, ancestor.number)
            : last,
      });
    }
    await this.sync.apply([], target, recheck);
    // Events applied again from the new chain count again.
    if (this.countedThrough! > BigInt(ancestor.number)) this.countedThrough = BigInt(ancestor.number);
    return this.store.rewind(checkpoint, ancestor);
  }

  /**
   * The latest Created/Extended/Cancelled event of subscription `id` in blocks [from, to], searched
   * backwards one maximum range at a time; undefined when `from` is above `to` (the rescan finds it).
   */
  private async latestEvent(id: bigint, from: number, to: number): Promise<LastEvent | undefined> {
    for (let end = BigInt(to); end >= BigInt(from); end -= this.scanner.maxSpan) {
      const start =
        end - this.scanner.maxSpan + 1n > BigInt(from) ? end - this.scanner.maxSpan + 1n : BigInt(from);
      let latest: LastEvent | undefined;
      for (let cursor = start; cursor <= end;) {
        const { to: covered, logs } = await this.scanner.scan(cursor, end);
        for (const log of logs) {
          const found = this.sync.subscriptionEvent(log as Log);
          if (found?.id === id) latest = found.event;
        }
        cursor = covered + 1n;
      }
      if (latest) return latest;
    }
    return undefined;
  }

  private async isCanonical(ref: BlockRef): Promise<boolean> {
    return (await this.blockRef(BigInt(ref.number))).hash === ref.hash;
  }

  private async blockRef(number: bigint): Promise<BlockRef> {
    const block = await this.chain.getBlock({ blockNumber: number < 0n ? 0n : number });
    return { number: Number(block.number), hash: block.hash };
  }
}
