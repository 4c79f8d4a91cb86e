import { realClock, type Clock } from './clock.js';

/** Decides how long a key waits before it is retried, as client-go's workqueue.RateLimiter. */
export interface RateLimiter<K> {
  /** The delay in milliseconds before `key` may be processed again; each call counts one retry. */
  when(key: K): number;
  /** Stops tracking `key`, typically after it was processed successfully. */
  forget(key: K): void;
  /** How many times `key` has been retried since it was last forgotten. */
  numRequeues(key: K): number;
}

// 2 ** 1024 is Infinity, and 0 * Infinity would be NaN; past this exponent the cap applies anyway.
const MAX_EXPONENT = 1023;

/** Per-key exponential backoff: `baseMs * 2 ** failures`, capped at `maxMs`. */
export class ExponentialFailureRateLimiter<K> implements RateLimiter<K> {
  private readonly failures = new Map<K, number>();

  constructor(
    private readonly baseMs = 5,
    private readonly maxMs = 1_000_000,
  ) {}

  when(key: K): number {
    const failures = this.failures.get(key) ?? 0;
    this.failures.set(key, failures + 1);
    return Math.min(this.maxMs, this.baseMs * 2 ** Math.min(failures, MAX_EXPONENT));
  }

  forget(key: K): void {
    this.failures.delete(key);
  }

  numRequeues(key: K): number {
    return this.failures.get(key) ?? 0;
  }
}

/**
 * One token bucket shared by all keys (`qps` tokens a second, holding at most `burst`), so a flood of
 * failures cannot retry faster than `qps` overall. Each `when` reserves a token; once the bucket is
 * empty the delays grow so reservations are spaced `1000 / qps` ms apart. Not per-key, so nothing
 * to forget.
 */
export class BucketRateLimiter<K> implements RateLimiter<K> {
  private tokens: number;
  private updatedAt: number;

  constructor(
    private readonly qps = 10,
    private readonly burst = 100,
    private readonly clock: Clock = realClock,
  ) {
    if (!(qps > 0) || !(burst >= 1))
      throw new RangeError(`need qps > 0 and burst >= 1, got ${qps}, ${burst}`);
    this.tokens = burst;
    this.updatedAt = clock.now();
  }

  when(_key: K): number {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.updatedAt) * this.qps) / 1000);
    this.updatedAt = now;
    // A negative balance is tokens already promised to earlier callers; this one waits behind them.
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : (-this.tokens * 1000) / this.qps;
  }

  forget(_key: K): void {}

  numRequeues(_key: K): number {
    return 0;
  }
}

/** The strictest of several limiters: the longest delay and the highest retry count. */
export class MaxOfRateLimiter<K> implements RateLimiter<K> {
  private readonly limiters: readonly RateLimiter<K>[];

  constructor(...limiters: [RateLimiter<K>, ...RateLimiter<K>[]]) {
    this.limiters = limiters;
  }

  when(key: K): number {
    // Every limiter must see the retry (count the failure, reserve the token), so no short-circuit.
    return Math.max(...this.limiters.map((limiter) => limiter.when(key)));
  }

  forget(key: K): void {
    for (const limiter of this.limiters) limiter.forget(key);
  }

  numRequeues(key: K): number {
    return Math.max(...this.limiters.map((limiter) => limiter.numRequeues(key)));
  }
}

/**
 * controller-runtime's default: per-key backoff from 5 ms to 1000 s, and no more than 10 retries a
 * second overall after a burst of 100.
 */
export function defaultControllerRateLimiter<K>(clock: Clock = realClock): RateLimiter<K> {
  return new MaxOfRateLimiter<K>(
    new ExponentialFailureRateLimiter<K>(5, 1_000_000),
    new BucketRateLimiter<K>(10, 100, clock),
  );
}
