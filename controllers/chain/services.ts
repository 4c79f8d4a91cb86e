import type { PublicClient } from 'viem';
import type { ChainMetrics } from '../../lib/chain/metrics.js';
import { createChainClient } from '../../lib/chain/rpc.js';
import type { KubeClient } from '../../lib/kube/client.js';
import type { Logger } from '../../lib/log.js';
import { ChainClock } from './chain-clock.js';
import { resolveChainContext, type ChainContext, type ChainContextResult } from './context.js';
import { IntentStore } from './intent-store.js';
import { TransactionSender, type SenderStep } from './tx-sender.js';

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

  constructor(
    readonly kube: KubeClient,
    readonly namespace: string,
    private readonly log: Logger,
    readonly metrics?: ChainMetrics,
    /** Test hook of every transaction sender: a fault-injection test kills the process at a step. */
    private readonly onSenderStep?: (step: SenderStep) => void,
    /** Where the server wallet Secret and the transaction intents live (docs/controller-state.md). */
    readonly stateNamespace: string = namespace,
  ) {}

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
  sender(context: Pick<ChainContext, 'chainId' | 'endpoints' | 'server'>): TransactionSender {
    const key = `${context.chainId}:${context.server.address}`;
    let sender = this.senders.get(key);
    if (!sender) {
      sender = new TransactionSender({
        chain: this.client(context),
        chainId: context.chainId,
        account: context.server,
        store: new IntentStore(this.kube, this.stateNamespace),
        log: this.log.child({ component: 'tx-sender' }),
        onStep: this.onSenderStep,
      });
      this.senders.set(key, sender);
    }
    return sender;
  }
}
