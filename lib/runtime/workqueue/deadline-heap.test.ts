import { describe, expect, it } from '@jest/globals';
import { DeadlineHeap } from './deadline-heap.js';

describe('DeadlineHeap', () => {
  it('pops due keys earliest first, first-in first-out on ties', () => {
    const heap = new DeadlineHeap<string>();
    // A fixed shuffle of deadlines, with repeats to exercise ties.
    const deadlines = [50, 10, 40, 10, 30, 20, 50, 0, 30, 40, 20, 5];
    deadlines.forEach((readyAt, i) => heap.schedule(`k${i}`, readyAt));
    const expected = deadlines
      .map((readyAt, i) => ({ key: `k${i}`, readyAt, i }))
      .sort((a, b) => a.readyAt - b.readyAt || a.i - b.i);

    expect(heap.nextDeadline()).toBe(0);
    expect(heap.popDue(25)).toEqual(expected.filter((e) => e.readyAt <= 25).map((e) => e.key));
    expect(heap.nextDeadline()).toBe(30);
    expect(heap.popDue(1000)).toEqual(expected.filter((e) => e.readyAt > 25).map((e) => e.key));
    expect(heap.size).toBe(0);
  });

  it('holds a key once, at the earliest of its deadlines', () => {
    const heap = new DeadlineHeap<string>();
    heap.schedule('a', 300);
    heap.schedule('b', 200);
    heap.schedule('a', 100);
    heap.schedule('a', 500);
    expect(heap.size).toBe(2);
    expect(heap.popDue(150)).toEqual(['a']);
    expect(heap.popDue(1000)).toEqual(['b']);
  });
});
