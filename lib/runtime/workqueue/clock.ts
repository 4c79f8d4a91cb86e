/** A scheduled callback that can be called off. */
export interface Timer {
  cancel(): void;
}

/**
 * The queue's and rate limiters' only source of time, so tests can drive it with a fake clock.
 * Times are in milliseconds and only ever compared or subtracted, never shown as dates.
 */
export interface Clock {
  now(): number;
  setTimer(callback: () => void, delayMs: number): Timer;
}

export const realClock: Clock = {
  // Monotonic: a wall-clock jump must not shorten or stretch delays and durations.
  now: () => performance.now(),
  setTimer(callback, delayMs) {
    const handle = setTimeout(callback, delayMs);
    return { cancel: () => clearTimeout(handle) };
  },
};
