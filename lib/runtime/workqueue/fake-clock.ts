import type { Clock, Timer } from './clock.js';

interface PendingTimer {
  readonly dueAt: number;
  readonly callback: () => void;
}

/** A clock that moves only when told to, firing due timers in deadline order; for tests. */
export class FakeClock implements Clock {
  private readonly timers = new Set<PendingTimer>();

  constructor(private nowMs = 0) {}

  now(): number {
    return this.nowMs;
  }

  setTimer(callback: () => void, delayMs: number): Timer {
    const timer = { dueAt: this.nowMs + Math.max(0, delayMs), callback };
    this.timers.add(timer);
    return { cancel: () => this.timers.delete(timer) };
  }

  /** Timers not yet fired or cancelled. */
  get pendingTimers(): number {
    return this.timers.size;
  }

  /** Moves time forward by `ms`, running each due timer at its own deadline (including timers they set). */
  advance(ms: number): void {
    const target = this.nowMs + ms;
    for (let next = this.earliestDue(target); next; next = this.earliestDue(target)) {
      this.timers.delete(next);
      this.nowMs = Math.max(this.nowMs, next.dueAt);
      next.callback();
    }
    this.nowMs = target;
  }

  private earliestDue(limit: number): PendingTimer | undefined {
    let earliest: PendingTimer | undefined;
    // Set iteration is insertion order, so timers due at the same time fire in the order they were set.
    for (const timer of this.timers) {
      if (timer.dueAt <= limit && (!earliest || timer.dueAt < earliest.dueAt)) earliest = timer;
    }
    return earliest;
  }
}
