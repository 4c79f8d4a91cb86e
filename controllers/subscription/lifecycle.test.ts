import { describe, expect, it } from '@jest/globals';
import { exampleSubscription } from '../../lib/api/v1alpha1/examples.js';
import { subscriptionSpecSchema, type SubscriptionSpec } from '../../lib/api/v1alpha1/index.js';
import { lifecycle } from './lifecycle.js';

const spec = (overrides: Partial<SubscriptionSpec> = {}): SubscriptionSpec =>
  subscriptionSpecSchema.parse({
    ...exampleSubscription.spec,
    expiresAt: '2026-02-01T00:00:00Z',
    ...overrides,
  });
const at = (iso: string) => Date.parse(iso);

describe('subscription lifecycle', () => {
  it('runs until the absolute on-chain expiry and wakes up then', () => {
    const result = lifecycle(spec(), at('2026-01-31T23:59:59Z'), 7);
    expect(result).toMatchObject({
      vm: 'running',
      phase: 'Active',
      nextChangeAt: at('2026-02-01T00:00:00Z'),
    });
  });

  it('stops but keeps the VM during the grace period', () => {
    const result = lifecycle(spec(), at('2026-02-01T00:00:00Z'), 7);
    expect(result).toMatchObject({
      vm: 'stopped',
      phase: 'Suspended',
      reason: 'Expired',
      nextChangeAt: at('2026-02-08T00:00:00Z'),
    });
  });

  it('destroys after the grace period', () => {
    expect(lifecycle(spec(), at('2026-02-08T00:00:00Z'), 7)).toMatchObject({
      vm: 'absent',
      phase: 'Expired',
    });
    expect(lifecycle(spec(), at('2026-02-01T00:00:00Z'), 0)).toMatchObject({
      vm: 'absent',
      phase: 'Expired',
    });
  });

  it('resumes when an extension moves the expiry (during grace)', () => {
    const extended = spec({ expiresAt: '2026-03-01T00:00:00Z' });
    expect(lifecycle(extended, at('2026-02-03T00:00:00Z'), 7)).toMatchObject({
      vm: 'running',
      phase: 'Active',
    });
  });

  it('destroys a cancelled subscription at once', () => {
    expect(lifecycle(spec({ cancelled: true }), at('2026-01-15T00:00:00Z'), 7)).toMatchObject({
      vm: 'absent',
      phase: 'Cancelled',
    });
  });

  it('never destroys what a reorg removed, even long after expiry', () => {
    expect(lifecycle(spec({ removedByReorg: true }), at('2027-01-01T00:00:00Z'), 7)).toMatchObject({
      vm: 'stopped',
      reason: 'RemovedByReorg',
    });
  });
});

describe("subscription lifecycle under an operator's hold", () => {
  const hold = 'abuse report #12';
  const paid = at('2026-01-15T00:00:00Z');
  const inGrace = at('2026-02-03T00:00:00Z');
  const pastGrace = at('2026-02-08T00:00:00Z');

  it.each([
    ['paid', spec(), paid, 'Active', 'Held', `held by the operator: ${hold}`],
    ['in grace', spec(), inGrace, 'Suspended', 'Expired', `; held by the operator: ${hold}`],
    ['past grace', spec(), pastGrace, 'Expired', 'HeldFromRemoval', 'lift the hold to let it be removed'],
    ['cancelled', spec({ cancelled: true }), paid, 'Cancelled', 'HeldFromRemoval', 'lift the hold'],
    ['removed by a reorg', spec({ removedByReorg: true }), pastGrace, 'Suspended', 'RemovedByReorg', hold],
  ])('keeps the VM stopped, never absent, when %s', (_, subscription, now, phase, reason, message) => {
    const result = lifecycle(subscription, now, 7, hold);
    expect(result).toMatchObject({ vm: 'stopped', phase, reason });
    expect(result.message).toContain(message);
  });

  it('still wakes up at the expiry, so the reason follows the chain under the hold', () => {
    expect(lifecycle(spec(), paid, 7, hold).nextChangeAt).toBe(at('2026-02-01T00:00:00Z'));
  });
});
