import { describe, expect, it } from '@jest/globals';
import type { VM } from '../../../lib/api/v1alpha1/index.js';
import type { ObservedVm, PowerState } from '../backend.js';
import { observedStatus } from './status.js';

const vm = (runStrategy: 'Always' | 'Halted'): VM =>
  ({
    metadata: { name: 'v', namespace: 'ns', uid: 'u', generation: 3 },
    spec: { backend: 'libvirt', runStrategy, network: { ipv4: '192.168.122.10' } },
  }) as unknown as VM;
const at = (power: PowerState, guestAgentConnected: boolean): ObservedVm => ({
  id: 'd1',
  power,
  guestAgentConnected,
  addresses: { ipv4: '10.0.2.15', ipv6: '2001:db8::5' },
});
const condition = (status: NonNullable<VM['status']>, type: string) =>
  status.conditions?.find((c) => c.type === type);

describe('observedStatus', () => {
  it.each([
    ['running with its agent, wanted running', 'Always', 'Running', true, false, 'Running', 'True'],
    ['running without its agent yet', 'Always', 'Running', false, false, 'Running', 'False'],
    ['running while a power change is under way', 'Always', 'Running', true, true, 'Running', 'False'],
    ['booting', 'Always', 'Starting', false, true, 'Creating', 'False'],
    ['stopped, wanted stopped', 'Halted', 'Stopped', false, false, 'Stopped', 'True'],
    ['still running, wanted stopped', 'Halted', 'Running', true, true, 'Running', 'False'],
    ['unknown to the backend', 'Always', 'Unknown', false, false, 'Unknown', 'False'],
  ] as const)('%s: phase %s, Ready %s', (_case, strategy, power, agent, transitioning, phase, ready) => {
    const status = observedStatus(vm(strategy), at(power, agent), [], transitioning)({});
    expect(status.phase).toBe(phase);
    expect(condition(status, 'Ready')?.status).toBe(ready);
    expect(status.observedGeneration).toBe(3);
    expect(status.backendId).toBe('d1');
  });

  it('reports the configured static address over what the backend sees, and the rest as seen', () => {
    const status = observedStatus(vm('Always'), at('Running', true), [], false)({});
    expect(status.addresses).toEqual({ ipv4: '192.168.122.10', ipv6: '2001:db8::5' });
  });

  it('times a shutdown with Running=Unknown/ShuttingDown and keeps the reason of an unchanged phase', () => {
    const status = observedStatus(
      vm('Halted'),
      at('Running', true),
      [],
      true,
    )({
      phase: 'Running',
      lastTransitionReason: 'Running',
    });
    expect(condition(status, 'Running')).toMatchObject({ status: 'Unknown', reason: 'ShuttingDown' });
    expect(status.lastTransitionReason).toBe('Running');
  });
});
