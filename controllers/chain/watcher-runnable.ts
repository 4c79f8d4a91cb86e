import { sleep } from '../../lib/backoff.js';
import type { Logger } from '../../lib/log.js';
import { contextFingerprint } from './context.js';
import type { ChainServices } from './services.js';
import { ChainWatcher } from './watcher.js';

const CONFIG_CHECK_MS = 10_000;

/**
 * The chain watcher as a leader-only manager runnable: it waits until the HostConfig names the
 * chain and contracts (and the wallet Secret exists), runs the watcher, and restarts it when those
 * settings change.
 */
export function chainWatcherRunnable(services: ChainServices, log: Logger) {
  return async (signal: AbortSignal): Promise<void> => {
    let waitingReason: string | undefined;
    while (!signal.aborted) {
      const resolved = await services.context();
      if ('notReady' in resolved) {
        if (resolved.notReady !== waitingReason)
          log.info({ reason: resolved.notReady }, 'chain watcher waiting for configuration');
        waitingReason = resolved.notReady;
        await sleep(CONFIG_CHECK_MS, signal);
        continue;
      }
      waitingReason = undefined;
      const { context } = resolved;
      const fingerprint = contextFingerprint(context);
      const current = new AbortController();
      const stop = () => current.abort();
      signal.addEventListener('abort', stop, { once: true });
      const watcher = new ChainWatcher(
        services.kube,
        { ...context, namespace: services.namespace, stateNamespace: services.stateNamespace },
        log.child({ chainId: context.chainId }),
        services.metrics,
        services.client(context),
      );
      const running = watcher.run(current.signal);
      while (!current.signal.aborted) {
        await sleep(CONFIG_CHECK_MS, current.signal);
        const latest = await services.context().catch(() => undefined);
        if (latest && ('notReady' in latest || contextFingerprint(latest.context) !== fingerprint)) {
          log.info('chain settings changed; restarting the chain watcher');
          current.abort();
        }
      }
      await running;
      signal.removeEventListener('abort', stop);
    }
  };
}
