import { describe, expect, it } from '@jest/globals';
import { FakeClock } from './fake-clock.js';
import type { QueueMetrics } from './metrics.js';
import { WorkQueue } from './queue.js';
import { ExponentialFailureRateLimiter } from './rate-limiters.js';

const PENDING = Symbol('pending');

/** The promise's value if it settles once pending callbacks have run, else PENDING. */
function settled<T>(promise: Promise<T>): Promise<T | typeof PENDING> {
  return Promise.race([
    promise,
    new Promise<typeof PENDING>((resolve) => setImmediate(() => resolve(PENDING))),
  ]);
}

function newQueue(clock = new FakeClock(), metrics?: QueueMetrics) {
  return new WorkQueue<string>({ name: 'test', clock, metrics });
}

describe('WorkQueue', () => {
  it('hands out a key added several times before processing once', async () => {
    const queue = newQueue();
    queue.add('a');
    queue.add('a');
    queue.add('a');
    expect(queue.len()).toBe(1);
    expect(await queue.get()).toBe('a');
    expect(queue.len()).toBe(0);
    expect(await settled(queue.get())).toBe(PENDING);
    queue.shutDown();
  });

  it('hands out keys first-in, first-out', async () => {
    const queue = newQueue();
    for (const key of ['c', 'a', 'b', 'a']) queue.add(key);
    expect([await queue.get(), await queue.get(), await queue.get()]).toEqual(['c', 'a', 'b']);
    queue.shutDown();
  });

  it('holds back a key added while it is processed, and re-delivers it exactly once on done', async () => {
    const queue = newQueue();
    queue.add('a');
    expect(await queue.get()).toBe('a');
    queue.add('a');
    queue.add('a');
    expect(queue.len()).toBe(0);

    const next = queue.get();
    expect(await settled(next)).toBe(PENDING);
    queue.done('a');
    expect(await next).toBe('a');

    queue.done('a');
    expect(queue.len()).toBe(0);
    expect(await settled(queue.get())).toBe(PENDING);
    queue.shutDown();
  });

  it('never lets two concurrent workers hold the same key', async () => {
    const queue = new WorkQueue<string>({ name: 'test' });
    const keys = ['k0', 'k1', 'k2', 'k3'];
    const holders = new Map<string, number>();
    let maxHoldersOfOneKey = 0;
    let active = 0;
    let maxActive = 0;
    const processed: string[] = [];
    // A fixed pseudo-random sequence, so the interleaving is the same on every run.
    let seed = 42;
    const random = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    const yieldTurns = async (turns: number) => {
      for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
    };

    const worker = async () => {
      for (let key = await queue.get(); key !== undefined; key = await queue.get()) {
        holders.set(key, (holders.get(key) ?? 0) + 1);
        maxHoldersOfOneKey = Math.max(maxHoldersOfOneKey, holders.get(key) ?? 0);
        maxActive = Math.max(maxActive, ++active);
        await yieldTurns(1 + random(3));
        processed.push(key);
        holders.set(key, (holders.get(key) ?? 0) - 1);
        active--;
        queue.done(key);
      }
    };
    const workers = Array.from({ length: 4 }, worker);

    const addedLast = new Map<string, number>();
    for (let round = 0; round < 200; round++) {
      const key = keys[random(keys.length)] ?? 'k0';
      queue.add(key);
      addedLast.set(key, round);
      if (random(2) === 0) await yieldTurns(1);
    }
    await queue.shutDownWithDrain();
    await Promise.all(workers);

    expect(maxHoldersOfOneKey).toBe(1);
    expect(maxActive).toBeGreaterThan(1);
    // Deduplication folded many of the 200 adds, but every key still got processed.
    expect(processed.length).toBeLessThan(200);
    expect(new Set(processed)).toEqual(new Set(addedLast.keys()));
  });

  describe('delayed adds', () => {
    it('adds keys when their delay passes, in deadline order, with one timer', async () => {
      const clock = new FakeClock();
      const queue = newQueue(clock);
      queue.addAfter('b', 200);
      queue.addAfter('a', 100);
      queue.addAfter('c', 300);
      expect(clock.pendingTimers).toBe(1);

      clock.advance(99);
      expect(queue.len()).toBe(0);
      clock.advance(1);
      expect(queue.len()).toBe(1);
      expect(await queue.get()).toBe('a');
      clock.advance(250);
      expect([await queue.get(), await queue.get()]).toEqual(['b', 'c']);
      expect(clock.pendingTimers).toBe(0);
      queue.shutDown();
    });

    it('adds a key once, at the earliest of several delays', async () => {
      const clock = new FakeClock();
      const queue = newQueue(clock);
      queue.addAfter('a', 500);
      queue.addAfter('a', 100);
      queue.addAfter('a', 300);
      clock.advance(100);
      expect(await queue.get()).toBe('a');
      queue.done('a');
      clock.advance(1000);
      expect(queue.len()).toBe(0);
      queue.shutDown();
    });

    it('adds at once when the delay is not positive', () => {
      const queue = newQueue();
      queue.addAfter('a', 0);
      queue.addAfter('b', -5);
      expect(queue.len()).toBe(2);
      queue.shutDown();
    });

    it('delays rate-limited adds by the limiter, until forget resets it', async () => {
      const clock = new FakeClock();
      const queue = new WorkQueue<string>({
        name: 'test',
        clock,
        rateLimiter: new ExponentialFailureRateLimiter(5, 1000),
      });
      const delayOfNextRetry = async () => {
        const start = clock.now();
        queue.addRateLimited('a');
        for (let waited = 0; queue.len() === 0 && waited < 10_000; waited++) clock.advance(1);
        expect(await queue.get()).toBe('a');
        queue.done('a');
        return clock.now() - start;
      };
      expect([await delayOfNextRetry(), await delayOfNextRetry(), await delayOfNextRetry()]).toEqual([
        5, 10, 20,
      ]);
      expect(queue.numRequeues('a')).toBe(3);
      queue.forget('a');
      expect(queue.numRequeues('a')).toBe(0);
      expect(await delayOfNextRetry()).toBe(5);
      queue.shutDown();
    });
  });

  describe('shutdown', () => {
    it('wakes waiting getters with undefined and ignores later adds', async () => {
      const clock = new FakeClock();
      const queue = newQueue(clock);
      const first = queue.get();
      const second = queue.get();
      expect(await settled(first)).toBe(PENDING);
      queue.addAfter('later', 100);
      queue.shutDown();
      expect(await Promise.all([first, second])).toEqual([undefined, undefined]);
      expect(queue.shuttingDown).toBe(true);

      queue.add('a');
      queue.addRateLimited('b');
      expect(clock.pendingTimers).toBe(0);
      clock.advance(1000);
      expect(queue.len()).toBe(0);
      expect(await queue.get()).toBeUndefined();
    });

    it('still hands out keys queued before shutdown, then undefined', async () => {
      const queue = newQueue();
      queue.add('a');
      queue.add('b');
      queue.shutDown();
      expect([await queue.get(), await queue.get(), await queue.get()]).toEqual(['a', 'b', undefined]);
    });

    it('with drain, waits until every key in flight is done', async () => {
      const queue = newQueue();
      queue.add('a');
      queue.add('b');
      await queue.get();
      await queue.get();

      const drained = queue.shutDownWithDrain();
      expect(await settled(drained)).toBe(PENDING);
      queue.done('a');
      expect(await settled(drained)).toBe(PENDING);
      queue.done('b');
      expect(await settled(drained)).toBeUndefined();
      expect(await settled(newQueue().shutDownWithDrain())).toBeUndefined();
    });
  });

  it('reports adds, depth, retries, queue latency and work duration', async () => {
    const calls: string[] = [];
    const metrics: QueueMetrics = {
      add: (name) => calls.push(`add ${name}`),
      depth: (name, depth) => calls.push(`depth ${name} ${depth}`),
      retry: (name) => calls.push(`retry ${name}`),
      latency: (name, seconds) => calls.push(`latency ${name} ${seconds}`),
      workDuration: (name, seconds) => calls.push(`work ${name} ${seconds}`),
    };
    const clock = new FakeClock();
    const queue = newQueue(clock, metrics);

    queue.add('a');
    queue.add('a');
    queue.addAfter('b', 100);
    clock.advance(250);
    expect(await queue.get()).toBe('a');
    clock.advance(1500);
    queue.done('a');

    expect(calls).toEqual([
      'add test',
      'depth test 1',
      'retry test',
      'add test',
      'depth test 2',
      'depth test 1',
      'latency test 0.25',
      'work test 1.5',
    ]);
    queue.shutDown();
  });

  it('reports unfinished work every 500 ms until shutdown', async () => {
    const reports: [number, number][] = [];
    const metrics: QueueMetrics = {
      add() {},
      depth() {},
      retry() {},
      latency() {},
      workDuration() {},
      unfinishedWork: (_name, unfinished, longest) => reports.push([unfinished, longest]),
    };
    const clock = new FakeClock();
    const queue = newQueue(clock, metrics);
    queue.add('a');
    await queue.get();
    clock.advance(500);
    queue.add('b');
    await queue.get();
    clock.advance(500);
    queue.done('a');
    queue.done('b');
    clock.advance(500);
    expect(reports).toEqual([
      [0.5, 0.5],
      [1.5, 1],
      [0, 0],
    ]);
    queue.shutDown();
    expect(clock.pendingTimers).toBe(0);
  });
});
