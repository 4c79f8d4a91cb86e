import { describe, expect, it } from '@jest/globals';
import { Backoff, sleep } from './backoff.js';

describe('Backoff', () => {
  it('doubles from the initial delay up to the cap, with no jitter when random() is 0', () => {
    const backoff = new Backoff(100, 1000, 1, () => 0);
    expect([1, 2, 3, 4, 5, 6].map(() => backoff.next())).toEqual([100, 200, 400, 800, 1000, 1000]);
  });

  it('adds at most `jitter` of the delay and never exceeds the cap', () => {
    const backoff = new Backoff(100, 250, 1, () => 0.999);
    expect(backoff.next()).toBeCloseTo(199.9);
    expect(backoff.next()).toBe(250);
  });

  it('starts over after reset', () => {
    const backoff = new Backoff(10, 1000, 0);
    backoff.next();
    backoff.next();
    backoff.reset();
    expect(backoff.next()).toBe(10);
  });
});

describe('sleep', () => {
  it('ends early when aborted', async () => {
    const abort = new AbortController();
    const started = Date.now();
    const sleeping = sleep(10_000, abort.signal);
    abort.abort();
    await sleeping;
    expect(Date.now() - started).toBeLessThan(1000);
  });
});
