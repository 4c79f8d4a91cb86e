import { describe, expect, it } from '@jest/globals';
import type { HostConfig, Plan } from '../../lib/api/v1alpha1/index.js';
import { RECHECK_MS, RETRY_SETUP_ANNOTATION, SetupSchedule } from './schedule.js';

const host = (generation: number, retry?: string, resourceVersion = '1') =>
  ({
    metadata: {
      name: 'host',
      uid: 'u1',
      generation,
      resourceVersion,
      annotations: retry ? { [RETRY_SETUP_ANNOTATION]: retry } : {},
    },
  }) as unknown as HostConfig;
const plan = (resourceVersion: string) => ({ metadata: { name: 'basic', resourceVersion } }) as Plan;

describe('SetupSchedule', () => {
  let now = 0;
  const schedule = () => new SetupSchedule(() => now);

  it('runs at first sight, then not again for a status-only change until the backoff is due', () => {
    now = 0;
    const s = schedule();
    expect(s.decide(host(1), [])).toEqual({ run: true, retryRequested: false });
    const delay = s.finished(host(1), false);
    expect(delay).toBeGreaterThanOrEqual(2000);
    // The controller's own status write bumps resourceVersion only.
    expect(s.decide(host(1, undefined, '2'), [])).toEqual({ run: false, waitMs: delay });
    now = delay;
    expect(s.decide(host(1, undefined, '3'), []).run).toBe(true);
    // Failing again waits longer.
    expect(s.finished(host(1), false)).toBeGreaterThan(delay);
  });

  it('runs at once for a spec change, a Plan change or a retry request, and resets the backoff', () => {
    now = 0;
    const s = schedule();
    s.decide(host(1), []);
    for (let i = 0; i < 6; i += 1) s.finished(host(1), false);
    expect(s.decide(host(1), [plan('7')]).run).toBe(true);
    s.finished(host(1), false);
    expect(s.decide(host(1, 'now'), [plan('7')])).toEqual({ run: true, retryRequested: true });
    expect(s.finished(host(1, 'now'), false)).toBeLessThan(3000);
    expect(s.decide(host(1, 'now'), [plan('7')]).run).toBe(false);
    expect(s.decide(host(2, 'now'), [plan('7')])).toEqual({ run: true, retryRequested: false });
  });

  it('rechecks a finished setup every five minutes', () => {
    now = 0;
    const s = schedule();
    s.decide(host(1), []);
    expect(s.finished(host(1), true)).toBe(RECHECK_MS);
    now = RECHECK_MS - 1;
    expect(s.decide(host(1), []).run).toBe(false);
    now = RECHECK_MS;
    expect(s.decide(host(1), []).run).toBe(true);
  });
});
