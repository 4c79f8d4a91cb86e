import { describe, expect, it } from '@jest/globals';
import type { VM } from '../../../lib/api/v1alpha1/index.js';
import type { ObservedVm, PowerState } from '../backend.js';
import { planPower } from './power.js';

const NOW = Date.parse('2026-01-01T00:10:00Z');
const GRACE_MS = 120_000;

const vm = (
  runStrategy: 'Always' | 'Halted',
  {
    phase,
    shuttingDownSince,
    graceSeconds,
  }: { phase?: string; shuttingDownSince?: string; graceSeconds?: number } = {},
): VM =>
  ({
    metadata: { name: 'v', namespace: 'ns', uid: 'u' },
    spec: { runStrategy, ...(graceSeconds !== undefined && { shutdownGracePeriodSeconds: graceSeconds }) },
    status: {
      phase,
      conditions: shuttingDownSince
        ? [
            {
              type: 'Running',
              status: 'Unknown',
              reason: 'ShuttingDown',
              message: '',
              lastTransitionTime: shuttingDownSince,
            },
          ]
        : [],
    },
  }) as unknown as VM;
const at = (power: PowerState): ObservedVm => ({
  id: 'd1',
  power,
  guestAgentConnected: false,
  addresses: {},
});

describe('planPower', () => {
  it.each([
    ['starts a stopped VM that should run', vm('Always'), 'Stopped', 'acted', 'start', 'Started'],
    ['resumes a paused VM that should run', vm('Always'), 'Paused', 'acted', 'start', 'Started'],
    [
      'restarts, with a warning, a VM stopped behind our back',
      vm('Always', { phase: 'Running' }),
      'Stopped',
      'acted',
      'start',
      'Restarted',
    ],
    ['leaves a running VM that should run', vm('Always'), 'Running', 'settled', undefined, undefined],
    ['waits for a VM that boots', vm('Always'), 'Starting', 'transitioning', undefined, undefined],
    ['leaves a stopped VM that should not run', vm('Halted'), 'Stopped', 'settled', undefined, undefined],
    ['asks a running VM to shut down first', vm('Halted'), 'Running', 'acted', 'shutdown', 'ShuttingDown'],
    [
      'repeats the request, quietly, while the guest runs within the grace',
      vm('Halted', { shuttingDownSince: '2026-01-01T00:09:00Z' }),
      'Running',
      'acted',
      'shutdown',
      undefined,
    ],
    [
      'waits, asking nothing, while the guest stops within the grace',
      vm('Halted', { shuttingDownSince: '2026-01-01T00:09:00Z' }),
      'Stopping',
      'acted',
      undefined,
      undefined,
    ],
    [
      'powers off a guest that ignored the request past the grace',
      vm('Halted', { shuttingDownSince: '2026-01-01T00:07:00Z' }),
      'Running',
      'acted',
      'stop',
      'PoweredOff',
    ],
    [
      'a per-VM grace overrides the default',
      vm('Halted', { shuttingDownSince: '2026-01-01T00:09:50Z', graceSeconds: 5 }),
      'Running',
      'acted',
      'stop',
      'PoweredOff',
    ],
    [
      'a grace of 0 is a kill without any ACPI request',
      vm('Halted', { graceSeconds: 0 }),
      'Running',
      'acted',
      'stop',
      'PoweredOff',
    ],
  ])('%s', (_case, object, power, outcome, action, reason) => {
    const plan = planPower(object, at(power as PowerState), NOW, GRACE_MS);
    expect(plan.outcome).toBe(outcome);
    expect(plan.action).toBe(action);
    expect(plan.event?.reason).toBe(reason);
  });

  it('warns only when the VM ignored a graceful shutdown, not for a requested kill', () => {
    const ignored = planPower(
      vm('Halted', { shuttingDownSince: '2026-01-01T00:00:00Z' }),
      at('Running'),
      NOW,
      GRACE_MS,
    );
    expect(ignored.event).toMatchObject({
      type: 'Warning',
      note: 'd1 ignored the shutdown request for 120 s; powered off',
    });
    expect(planPower(vm('Halted', { graceSeconds: 0 }), at('Running'), NOW, GRACE_MS).event?.type).toBe(
      'Normal',
    );
  });
});
