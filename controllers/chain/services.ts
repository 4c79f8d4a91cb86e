import { formatGwei, parseGwei, type PublicClient } from 'viem';
import {
  blockhostTypes,
  DEFAULT_MAX_FEE_PER_GAS_GWEI,
  HOST_CONFIG_NAME,
  type HostConfig,
} from '../../lib/api/v1alpha1/index.js';
import type { ChainMetrics } from '../../lib/chain/metrics.js';
import { createChainClient } from '../../lib/chain/rpc.js';
import type { KubeClient } from '../../lib/kube/client.js';
import { isNotFound } from '../../lib/kube/errors.js';
import type { Logger } from '../../lib/log.js';
import { EventRecorder } from '../../lib/runtime/events.js';
import { ChainClock } from './chain-clock.js';
import { resolveChainContext, type ChainContext, type ChainContextResult } from './context.js';
import { IntentStore } from './intent-store.js';
import { TransactionSender, type SenderStep, type TxSenderOptions } from './tx-sender.js';

/**
 * Shared chain plumbing of one controller manager: RPC clients per endpoint set, and exactly one
 * transaction sender per server wallet (it must be the only user of the wallet's nonce).
 * `namespace` holds the Subscriptions and what the web hands over (wallet requests);
 * `stateNamespace` what only the controller may write (keys, intents, checkpoint).
 */
export class ChainServices {
  private readonly clients = new Map<string, PublicClient>();
  private readonly senders = new Map<string, TransactionSender>();
  private readonly clocks = new Map<number, ChainClock>();
  private readonly events: EventRecorder;

  constructor(
    readonly kube: KubeClient,
    readonly namespace: string,
    private readonly log: Logger,
    readonly metrics?: ChainMetrics,
    /** Test hook of every transaction sender: a fault-injection test kills the process at a step. */
    private readonly onSenderStep?: (step: SenderStep) => void,
    /** Where the server wallet Secret and the transaction intents live (docs/controller-state.md). */
    readonly stateNamespace: string = namespace,
    /** Timings of every sender (tests shorten how long a transaction counts as stuck). */
    private readonly senderTimings: Pick<TxSenderOptions, 'stuckAfterMs' | 'pollMs'> = {},
  ) {
    this.events = new EventRecorder(kube, log, 'tx-sender');
  }

  context(): Promise<ChainContextResult> {
    return resolveChainContext(this.kube, this.stateNamespace);
  }

  client(context: Pick<ChainContext, 'chainId' | 'endpoints'>): PublicClient {
    const key = JSON.stringify([context.chainId, context.endpoints]);
    let client = this.clients.get(key);
    if (!client) {
      client = createChainClient({
        chainId: context.chainId,
        endpoints: context.endpoints,
        metrics: this.metrics,
      });
      this.clients.set(key, client);
    }
    return client;
  }

  /** Chain time of the context's chain (what expiry is judged by). */
  clock(context: Pick<ChainContext, 'chainId' | 'endpoints'>): ChainClock {
    let clock = this.clocks.get(context.chainId);
    if (!clock) {
      const client = this.client(context);
      clock = new ChainClock(
        async () => Number((await client.getBlock({ blockTag: 'latest' })).timestamp) * 1000,
      );
      this.clocks.set(context.chainId, clock);
    }
    return clock;
  }

  /** Also used by setup (deploy, admin mint) before the contracts exist, hence only these fields. */
  sender(context: Pick<ChainContext, 'chainId' | 'endpoints' | 'deployer'>): TransactionSender {
    const key = `${context.chainId}:${context.deployer.address}`;
    let sender = this.senders.get(key);
    if (!sender) {
      sender = new TransactionSender({
        chain: this.client(context),
        chainId: context.chainId,
        account: context.deployer.account,
        store: new IntentStore(this.kube, this.stateNamespace),
        log: this.log.child({ component: 'tx-sender' }),
        metrics: this.metrics,
        feeCap: () => this.feeCapWei(),
        onFeeCapped: (intent, cap) => void this.reportFeeCap(intent.key, intent.nonce, cap),
        onStep: this.onSenderStep,
        ...this.senderTimings,
      });
      this.senders.set(key, sender);
    }
    return sender;
  }

  /** Stops every sender's wait loops (manager shutdown or lost leadership); intents stay pending. */
  closeSenders(): void {
    for (const sender of this.senders.values()) sender.close();
    this.senders.clear();
  }

  /** spec.chain.maxFeePerGasGwei in wei, read afresh so a change applies to the next signature. */
  async feeCapWei(): Promise<bigint> {
    const host = await this.kube
      .get<HostConfig>(blockhostTypes.hostConfig, HOST_CONFIG_NAME)
      .catch((error: unknown) => {
        if (isNotFound(error)) return undefined;
        throw error;
      });
    return parseGwei(String(host?.spec.chain.maxFeePerGasGwei ?? DEFAULT_MAX_FEE_PER_GAS_GWEI));
  }

  private async reportFeeCap(key: string, nonce: number, cap: bigint): Promise<void> {
    const host = await this.kube
      .get<HostConfig>(blockhostTypes.hostConfig, HOST_CONFIG_NAME)
      .catch(() => undefined);
    if (!host) return;
    await this.events
      .record(
        host,
        blockhostTypes.hostConfig,
        'Warning',
        'FeeCapReached',
        'SendTransaction',
        `transaction ${key} (nonce ${nonce}) is stuck at the fee cap of ${formatGwei(cap)} gwei per gas and waits for fees to fall; raise spec.chain.maxFeePerGasGwei to pay more`,
      )
      .catch((error: unknown) => this.log.warn({ err: error }, 'could not record the fee cap Event'));
  }
}
