import type { Clock, Timer } from './clock.js';
import { DeadlineHeap } from './deadline-heap.js';

// Node fires longer setTimeout delays immediately; waking early is harmless because the timer re-arms.
const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/**
 * Hands keys to `onReady` once their delay has passed, using one timer armed for the earliest
 * deadline rather than a timer per key.
 */
export class DelayedAdds<K> {
  private readonly waiting = new DeadlineHeap<K>();
  private timer: Timer | undefined;
  private timerDueAt = Infinity;

  constructor(
    private readonly clock: Clock,
    private readonly onReady: (key: K) => void,
  ) {}

  /** Schedules `key` in `delayMs`; if it is already waiting, the earlier deadline wins. */
  schedule(key: K, delayMs: number): void {
    this.waiting.schedule(key, this.clock.now() + delayMs);
    this.armTimer();
  }

  /** Drops every waiting key and the timer. */
  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.timerDueAt = Infinity;
    this.waiting.clear();
  }

  private armTimer(): void {
    const next = this.waiting.nextDeadline();
    if (next === undefined || next >= this.timerDueAt) return;
    this.timer?.cancel();
    this.timerDueAt = next;
    const delay = Math.min(MAX_TIMER_DELAY_MS, Math.max(0, next - this.clock.now()));
    this.timer = this.clock.setTimer(() => this.fire(), delay);
  }

  private fire(): void {
    this.timer = undefined;
    this.timerDueAt = Infinity;
    for (const key of this.waiting.popDue(this.clock.now())) this.onReady(key);
    this.armTimer();
  }
}
