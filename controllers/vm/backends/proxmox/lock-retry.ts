import { Backoff, sleep } from '../../../../lib/backoff.js';
import type { Logger } from '../../../../lib/log.js';
import { BackendError } from '../../backend.js';
import { isLocked, pveMessageOf } from './errors.js';

/**
 * Runs `operation` again while PVE refuses it because the VM is locked ("VM is locked (clone)", or
 * the config file lock held by a running task): such locks go away by themselves within seconds to
 * minutes. Other failures, and a lock still held at the deadline, are thrown.
 */
export async function retryWhileLocked<T>(
  what: string,
  operation: () => Promise<T>,
  { timeoutMs, log, signal }: { timeoutMs: number; log: Logger; signal?: AbortSignal },
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  const backoff = new Backoff(250, 5000, 0.5);
  for (;;) {
    try {
      return await operation();
    } catch (error) {
      if (!isLocked(error)) throw error;
      const remainingMs = deadline - Date.now();
      if (remainingMs <= 0) {
        throw new BackendError(
          `${what}: the VM is still locked after ${timeoutMs} ms (${pveMessageOf(error)})`,
          'ProxmoxVmLocked',
          { cause: error },
        );
      }
      const delayMs = Math.min(backoff.next(), remainingMs);
      log.info({ what, delayMs, lock: pveMessageOf(error) }, 'VM locked, retrying');
      await sleep(delayMs, signal);
      signal?.throwIfAborted();
    }
  }
}
