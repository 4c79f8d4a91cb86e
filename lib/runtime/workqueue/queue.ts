import { realClock, type Clock, type Timer } from './clock.js';
import { DelayedAdds } from './delayed-adds.js';
import { noopQueueMetrics, type QueueMetrics } from './metrics.js';
import { defaultControllerRateLimiter, type RateLimiter } from './rate-limiters.js';

// client-go's period for the unfinished-work gauges.
const UNFINISHED_WORK_REPORT_PERIOD_MS = 500;

export interface WorkQueueOptions<K> {
  /** The `name` label on the queue's metrics; a controller passes its own name. */
  name: string;
  /** Defaults to {@link defaultControllerRateLimiter} on the queue's clock. */
  rateLimiter?: RateLimiter<K>;
  clock?: Clock;
  metrics?: QueueMetrics;
}

/**
 * A rate-limited work queue of keys with client-go's guarantees:
 *
 * - A key added several times before a worker gets it is handed out once.
 * - At most one worker holds a key: a key added while it is being processed waits, and is queued
 *   again (once) when that worker calls `done`.
 * - Keys are handed out first-in, first-out.
 * - After shutdown, adds are ignored and delayed adds dropped; `get` still hands out keys already
 *   queued, then resolves `undefined`.
 */
export class WorkQueue<K extends string> {
  readonly name: string;
  private readonly clock: Clock;
  private readonly rateLimiter: RateLimiter<K>;
  private readonly metrics: QueueMetrics;

  /** Keys ready for a worker, in order. Always a subset of `dirty`. */
  private readonly queue: K[] = [];
  /** Keys that need processing, with the time each was added (for the latency metric). */
  private readonly dirty = new Map<K, number>();
  /** Keys a worker holds, with the time the worker got each. */
  private readonly processing = new Map<K, number>();
  /** Pending `get` calls; only non-empty while `queue` is empty. */
  private readonly getters: ((key: K | undefined) => void)[] = [];
  private readonly drainWaiters: (() => void)[] = [];
  private readonly delayedAdds: DelayedAdds<K>;
  private unfinishedWorkTimer: Timer | undefined;
  private isShuttingDown = false;

  constructor(options: WorkQueueOptions<K>) {
    this.name = options.name;
    this.clock = options.clock ?? realClock;
    this.rateLimiter = options.rateLimiter ?? defaultControllerRateLimiter(this.clock);
    this.metrics = options.metrics ?? noopQueueMetrics;
    this.delayedAdds = new DelayedAdds(this.clock, (key) => this.add(key));
    this.scheduleUnfinishedWorkReport();
  }

  get shuttingDown(): boolean {
    return this.isShuttingDown;
  }

  /** Keys waiting for a worker (not those being processed or delayed). */
  len(): number {
    return this.queue.length;
  }

  add(key: K): void {
    if (this.isShuttingDown || this.dirty.has(key)) return;
    this.dirty.set(key, this.clock.now());
    this.metrics.add(this.name);
    this.metrics.depth(this.name, this.dirty.size);
    if (this.processing.has(key)) return;
    this.queue.push(key);
    this.handOutToGetters();
  }

  /** Adds `key` after `delayMs`; of several pending delayed adds of one key, the earliest wins. */
  addAfter(key: K, delayMs: number): void {
    if (this.isShuttingDown) return;
    this.metrics.retry(this.name);
    if (delayMs <= 0) this.add(key);
    else this.delayedAdds.schedule(key, delayMs);
  }

  /** Adds `key` once the rate limiter allows it; call after a failed attempt. */
  addRateLimited(key: K): void {
    if (this.isShuttingDown) return;
    this.addAfter(key, this.rateLimiter.when(key));
  }

  /** Resets the key's backoff; call after a successful attempt. */
  forget(key: K): void {
    this.rateLimiter.forget(key);
  }

  numRequeues(key: K): number {
    return this.rateLimiter.numRequeues(key);
  }

  /**
   * The next key to process, waiting for one if needed; the caller holds it until `done(key)`.
   * Resolves `undefined` once the queue is shut down and empty.
   */
  get(): Promise<K | undefined> {
    const key = this.takeNext();
    if (key !== undefined || this.isShuttingDown) return Promise.resolve(key);
    return new Promise((resolve) => this.getters.push(resolve));
  }

  /** Releases a key got from `get`; if it was added again meanwhile, it is queued again now. */
  done(key: K): void {
    const startedAt = this.processing.get(key);
    if (startedAt === undefined) return;
    this.processing.delete(key);
    this.metrics.workDuration(this.name, (this.clock.now() - startedAt) / 1000);
    if (this.dirty.has(key)) {
      this.queue.push(key);
      this.handOutToGetters();
    }
    if (this.processing.size === 0) for (const resolve of this.drainWaiters.splice(0)) resolve();
  }

  /** Stops accepting keys and wakes waiting getters; keys already queued can still be got. */
  shutDown(): void {
    if (this.isShuttingDown) return;
    this.isShuttingDown = true;
    this.delayedAdds.stop();
    this.unfinishedWorkTimer?.cancel();
    // Getters only wait while the queue is empty, so there is nothing left to give them.
    for (const resolve of this.getters.splice(0)) resolve(undefined);
  }

  /** Shuts down, then resolves once no worker holds a key (keys still queued are not waited for). */
  async shutDownWithDrain(): Promise<void> {
    this.shutDown();
    if (this.processing.size === 0) return;
    await new Promise<void>((resolve) => this.drainWaiters.push(resolve));
  }

  // Keys are handed over synchronously, so no other `get` can take a key between wake-up and resume.
  private handOutToGetters(): void {
    while (this.getters.length > 0 && this.queue.length > 0) {
      const resolve = this.getters.shift();
      resolve?.(this.takeNext());
    }
  }

  private takeNext(): K | undefined {
    const key = this.queue.shift();
    if (key === undefined) return undefined;
    const now = this.clock.now();
    const addedAt = this.dirty.get(key) ?? now;
    this.dirty.delete(key);
    this.processing.set(key, now);
    this.metrics.depth(this.name, this.dirty.size);
    this.metrics.latency(this.name, (now - addedAt) / 1000);
    return key;
  }

  private scheduleUnfinishedWorkReport(): void {
    if (!this.metrics.unfinishedWork || this.isShuttingDown) return;
    this.unfinishedWorkTimer = this.clock.setTimer(() => {
      this.reportUnfinishedWork();
      this.scheduleUnfinishedWorkReport();
    }, UNFINISHED_WORK_REPORT_PERIOD_MS);
  }

  private reportUnfinishedWork(): void {
    const now = this.clock.now();
    let unfinishedMs = 0;
    let longestRunningMs = 0;
    for (const startedAt of this.processing.values()) {
      unfinishedMs += now - startedAt;
      longestRunningMs = Math.max(longestRunningMs, now - startedAt);
    }
    this.metrics.unfinishedWork?.(this.name, unfinishedMs / 1000, longestRunningMs / 1000);
  }
}
