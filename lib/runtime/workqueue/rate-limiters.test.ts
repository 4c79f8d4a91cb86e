import { describe, expect, it } from '@jest/globals';
import { FakeClock } from './fake-clock.js';
import {
  BucketRateLimiter,
  defaultControllerRateLimiter,
  ExponentialFailureRateLimiter,
  MaxOfRateLimiter,
} from './rate-limiters.js';

function delays(count: number, next: () => number): number[] {
  return Array.from({ length: count }, next);
}

describe('ExponentialFailureRateLimiter', () => {
  it('doubles from 5 ms per failure up to 1000 s, per key', () => {
    const limiter = new ExponentialFailureRateLimiter<string>();
    expect(delays(5, () => limiter.when('a'))).toEqual([5, 10, 20, 40, 80]);
    expect(limiter.when('b')).toBe(5);
    expect(limiter.numRequeues('a')).toBe(5);
    expect(limiter.numRequeues('b')).toBe(1);

    // 5 * 2 ** 17 = 655 360 ms is the last step under the cap.
    const c = delays(20, () => limiter.when('c'));
    expect(c[17]).toBe(655_360);
    expect(c.slice(18)).toEqual([1_000_000, 1_000_000]);
  });

  it('stays at the cap after so many failures that 2 ** failures overflows', () => {
    const limiter = new ExponentialFailureRateLimiter<string>(5, 60_000);
    const all = delays(2000, () => limiter.when('a'));
    expect(all.at(-1)).toBe(60_000);
    expect(all.every(Number.isFinite)).toBe(true);
    expect(new ExponentialFailureRateLimiter<string>(0, 100).when('a')).toBe(0);
  });

  it('starts over after forget', () => {
    const limiter = new ExponentialFailureRateLimiter<string>();
    delays(3, () => limiter.when('a'));
    limiter.forget('a');
    expect(limiter.numRequeues('a')).toBe(0);
    expect(limiter.when('a')).toBe(5);
  });
});

describe('BucketRateLimiter', () => {
  it('lets a burst through, then spaces reservations 1/qps apart', () => {
    const clock = new FakeClock();
    const limiter = new BucketRateLimiter<string>(10, 100, clock);
    expect(delays(100, () => limiter.when('x')).every((delay) => delay === 0)).toBe(true);
    expect(delays(3, () => limiter.when('x'))).toEqual([100, 200, 300]);

    // One second refills 10 tokens, 3 of which were already promised.
    clock.advance(1000);
    expect(delays(7, () => limiter.when('y')).every((delay) => delay === 0)).toBe(true);
    expect(limiter.when('z')).toBe(100);
  });

  it('refills no further than the burst', () => {
    const clock = new FakeClock();
    const limiter = new BucketRateLimiter<string>(10, 2, clock);
    clock.advance(60_000);
    expect(delays(3, () => limiter.when('x'))).toEqual([0, 0, 100]);
  });

  it('keeps no per-key state', () => {
    const limiter = new BucketRateLimiter<string>(1, 1, new FakeClock());
    limiter.when('a');
    expect(limiter.numRequeues('a')).toBe(0);
  });
});

describe('MaxOfRateLimiter', () => {
  it('takes the longest delay and counts every retry in every limiter', () => {
    const clock = new FakeClock();
    const limiter = new MaxOfRateLimiter<string>(
      new ExponentialFailureRateLimiter(5, 1000),
      new BucketRateLimiter(1, 2, clock),
    );
    // Exponential 5, 10, 20, 40; bucket 0, 0, 1000, 2000.
    expect(delays(4, () => limiter.when('a'))).toEqual([5, 10, 1000, 2000]);
    expect(limiter.numRequeues('a')).toBe(4);
    limiter.forget('a');
    expect(limiter.numRequeues('a')).toBe(0);
  });

  it('as the controller default: 5 ms backoff per key until 100 retries a burst, then 10 per second', () => {
    const limiter = defaultControllerRateLimiter<string>(new FakeClock());
    const first = Array.from({ length: 100 }, (_, i) => limiter.when(`key-${i}`));
    expect(first.every((delay) => delay === 5)).toBe(true);
    expect(limiter.when('key-100')).toBe(100);
    expect(limiter.when('key-0')).toBe(200);
    expect(limiter.numRequeues('key-0')).toBe(2);
  });
});
