import type { Registry } from 'prom-client';
import { Backoff, sleep } from '../../lib/backoff.js';
import { walletBalance } from '../../lib/chain/metrics.js';
import type { Logger } from '../../lib/log.js';
import { EventRecorder } from '../../lib/runtime/events.js';
import { checkServerWallet } from './server-wallet.js';
import type { ChainServices } from './services.js';

export interface TransactionRunnableOptions {
  /** How often the server wallet's balance is read (ServerWalletLow, the balance gauge). */
  walletCheckMs?: number;
}

/**
 * The transaction sender's leader-only duties: at start (and so at every leader takeover) it resumes
 * the pending intents of the server wallet before anything else sends, then watches the wallet's
 * balance. On stop every wait loop ends; the intents stay for the next leader to resume.
 */
export function transactionRunnable(
  services: ChainServices,
  registry: Registry,
  log: Logger,
  { walletCheckMs = 60_000 }: TransactionRunnableOptions = {},
) {
  const tools = {
    kube: services.kube,
    events: new EventRecorder(services.kube, log, 'tx-sender'),
    balance: walletBalance(registry),
  };
  return async (signal: AbortSignal): Promise<void> => {
    const backoff = new Backoff(1000, walletCheckMs);
    try {
      while (!signal.aborted) {
        let delay = walletCheckMs;
        try {
          const resolved = await services.context();
          if ('context' in resolved) {
            const { context } = resolved;
            await services.sender(context).resume();
            await checkServerWallet(tools, services.client(context), context.deployer.address, () =>
              services.feeCapWei(),
            );
          }
          backoff.reset();
        } catch (error) {
          delay = backoff.next();
          log.warn({ err: error, retryInMs: Math.round(delay) }, 'transaction runnable: retrying');
        }
        await sleep(delay, signal);
      }
    } finally {
      services.closeSenders();
    }
  };
}
