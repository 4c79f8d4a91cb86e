/**
 * Capped exponential backoff with jitter, for retry loops that own a single failing thing
 * (a watch connection, an RPC endpoint). Per-key retries in work queues use the queue's rate limiter.
 */
export class Backoff {
  private failures = 0;

  constructor(
    private readonly initialMs = 800,
    private readonly maxMs = 30_000,
    /** Up to this fraction of the delay is added at random so many clients do not retry in step. */
    private readonly jitter = 1,
    private readonly random: () => number = Math.random,
  ) {}

  /** The delay before the next attempt; each call counts one more failure. */
  next(): number {
    const exponential = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.failures, 30));
    this.failures += 1;
    return Math.min(this.maxMs, exponential * (1 + this.jitter * this.random()));
  }

  reset(): void {
    this.failures = 0;
  }
}

/** Resolves after `ms`, or early (without error) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
