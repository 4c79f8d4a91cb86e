import { Counter, Gauge, type Registry } from 'prom-client';

/** Prometheus metrics of the chain layer, registered on the manager's registry. */
export class ChainMetrics {
  readonly headBlock: Gauge<'chain_id'>;
  readonly processedBlock: Gauge<'chain_id'>;
  readonly lagBlocks: Gauge<'chain_id'>;
  readonly eventsIngested: Counter<'chain_id' | 'event'>;
  readonly rpcErrors: Counter<'endpoint' | 'kind'>;
  readonly reorgs: Counter<'chain_id'>;
  readonly txRpcRetries: Counter<'chain_id'>;
  readonly txFeeCapped: Counter<'chain_id'>;
  readonly txIntentsRefused: Counter<'chain_id'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.headBlock = new Gauge({
      name: 'blockhost_chain_head_block',
      help: 'Latest block number reported by the RPC endpoints',
      labelNames: ['chain_id'],
      registers,
    });
    this.processedBlock = new Gauge({
      name: 'blockhost_chain_processed_block',
      help: 'Last block whose events are stored in the cluster (the checkpoint)',
      labelNames: ['chain_id'],
      registers,
    });
    this.lagBlocks = new Gauge({
      name: 'blockhost_chain_lag_blocks',
      help: 'Head minus processed block',
      labelNames: ['chain_id'],
      registers,
    });
    this.eventsIngested = new Counter({
      name: 'blockhost_chain_events_ingested_total',
      help: 'Contract events applied to cluster objects, by event name',
      labelNames: ['chain_id', 'event'],
      registers,
    });
    this.rpcErrors = new Counter({
      name: 'blockhost_chain_rpc_errors_total',
      help: 'Failed JSON-RPC requests by endpoint and kind (network, http, rpc)',
      labelNames: ['endpoint', 'kind'],
      registers,
    });
    this.reorgs = new Counter({
      name: 'blockhost_chain_reorgs_total',
      help: 'Reorgs detected below the checkpoint (rewinds)',
      labelNames: ['chain_id'],
      registers,
    });
    this.txRpcRetries = new Counter({
      name: 'blockhost_tx_rpc_retries_total',
      help: 'Transient RPC errors (timeouts, 5xx, resets) the transaction sender retried with backoff',
      labelNames: ['chain_id'],
      registers,
    });
    this.txFeeCapped = new Counter({
      name: 'blockhost_tx_fee_capped_total',
      help: 'Stuck transactions that reached the fee cap (spec.chain.maxFeePerGasGwei) and wait instead of paying more',
      labelNames: ['chain_id'],
      registers,
    });
    this.txIntentsRefused = new Counter({
      name: 'blockhost_tx_intents_refused_total',
      help: 'Stored transaction intents refused (not written by this sender, a different call, or a nonce far ahead): never signed or broadcast',
      labelNames: ['chain_id'],
      registers,
    });
  }
}

/** What a chain-trust refusal was about (docs/chain-trust.md). */
export type TrustCheck = 'block_time' | 'expiry' | 'admin_holder';

/**
 * Chain answers not acted on: a block timestamp too far ahead of the host clock, an expiry or an
 * admin holder no quorum of endpoints confirmed. Shared by several controllers of one registry,
 * hence get-or-create.
 */
export function chainTrustRefusals(registry: Registry): Counter<'check'> {
  const name = 'blockhost_chain_trust_refusals_total';
  return (
    (registry.getSingleMetric(name) as Counter<'check'> | undefined) ??
    new Counter({
      name,
      help: 'Chain answers refused as unconfirmed (block_time, expiry, admin_holder); nothing was destroyed or paid on them',
      labelNames: ['check'],
      registers: [registry],
    })
  );
}

/**
 * 1 while the server wallet of a chain cannot pay for gas (a send was refused for insufficient
 * funds), 0 once a transaction went through again: alert on 1, fund `address`. Get-or-create, as
 * every controller that sends from the wallet reports to it.
 */
export function serverWalletUnfunded(registry: Registry): Gauge<'chain_id' | 'address'> {
  const name = 'blockhost_chain_server_wallet_unfunded';
  return (
    (registry.getSingleMetric(name) as Gauge<'chain_id' | 'address'> | undefined) ??
    new Gauge({
      name,
      help: 'Whether the server wallet was last refused a transaction for insufficient funds (1) or not (0)',
      labelNames: ['chain_id', 'address'],
      registers: [registry],
    })
  );
}

/**
 * A wallet's balance in whole tokens: `{role="server",token="ETH"}` is the server wallet's gas money
 * (the transaction runnable reads it every minute). Get-or-create: the fund manager reports here too.
 */
export function walletBalance(registry: Registry): Gauge<'role' | 'token'> {
  const name = 'blockhost_wallet_balance';
  return (
    (registry.getSingleMetric(name) as Gauge<'role' | 'token'> | undefined) ??
    new Gauge({
      name,
      help: 'Balance of a BlockHost wallet in whole tokens, by role (server) and token (ETH)',
      labelNames: ['role', 'token'],
      registers: [registry],
    })
  );
}
