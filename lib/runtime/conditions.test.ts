import { describe, expect, it } from '@jest/globals';
import { findCondition, isConditionTrue, setCondition } from './conditions.js';

const t0 = new Date('2026-01-01T00:00:00Z');
const t1 = new Date('2026-01-01T01:00:00Z');

describe('setCondition', () => {
  it('adds a condition with a transition time and the observed generation', () => {
    const conditions = setCondition(
      undefined,
      { type: 'Ready', status: 'False', reason: 'Pending', observedGeneration: 3 },
      t0,
    );
    expect(conditions).toEqual([
      {
        type: 'Ready',
        status: 'False',
        reason: 'Pending',
        message: '',
        observedGeneration: 3,
        lastTransitionTime: '2026-01-01T00:00:00Z',
      },
    ]);
  });

  it('keeps lastTransitionTime when only reason or message change', () => {
    const first = setCondition(undefined, { type: 'Ready', status: 'False', reason: 'Pending' }, t0);
    const second = setCondition(
      first,
      { type: 'Ready', status: 'False', reason: 'StillPending', message: 'waiting' },
      t1,
    );
    expect(findCondition(second, 'Ready')).toMatchObject({
      reason: 'StillPending',
      message: 'waiting',
      lastTransitionTime: '2026-01-01T00:00:00Z',
    });
  });

  it('moves lastTransitionTime when the status flips', () => {
    const first = setCondition(undefined, { type: 'Ready', status: 'False', reason: 'Pending' }, t0);
    const second = setCondition(first, { type: 'Ready', status: 'True', reason: 'Done' }, t1);
    expect(findCondition(second, 'Ready')?.lastTransitionTime).toBe('2026-01-01T01:00:00Z');
    expect(isConditionTrue(second, 'Ready')).toBe(true);
  });

  it('returns the same array when nothing changed, so callers can skip the write', () => {
    const first = setCondition(
      undefined,
      { type: 'Ready', status: 'True', reason: 'Done', observedGeneration: 1 },
      t0,
    );
    expect(
      setCondition(first, { type: 'Ready', status: 'True', reason: 'Done', observedGeneration: 1 }, t1),
    ).toBe(first);
  });

  it('leaves other condition types untouched and in place', () => {
    let conditions = setCondition(undefined, { type: 'A', status: 'True', reason: 'R' }, t0);
    conditions = setCondition(conditions, { type: 'B', status: 'False', reason: 'R' }, t0);
    conditions = setCondition(conditions, { type: 'A', status: 'False', reason: 'R2' }, t1);
    expect(conditions.map((c) => [c.type, c.status])).toEqual([
      ['A', 'False'],
      ['B', 'False'],
    ]);
  });
});
