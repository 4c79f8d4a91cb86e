import { describe, expect, it } from '@jest/globals';
import { BackendError } from '../../backend.js';
import type { VirtualMachine, VirtualMachineInstance } from './resource-types.js';
import { guestAddresses, guestAgentConnected, observedVm, parseBackendId, powerStateOf } from './status.js';

function vm(printableStatus: string | undefined, runStrategy = 'Always'): VirtualMachine {
  return {
    metadata: {
      name: 'blockhost-001',
      namespace: 'vms',
      annotations: { 'blockhost.io/create-intent': 'i-1' },
    },
    spec: {
      runStrategy,
      template: { spec: { domain: { cpu: { cores: 2 }, memory: { guest: '2Gi' }, devices: {} } } },
      dataVolumeTemplates: [
        {
          metadata: { name: 'blockhost-001-rootdisk' },
          spec: { storage: { resources: { requests: { storage: '20Gi' } } } },
        },
      ],
    },
    ...(printableStatus !== undefined && { status: { printableStatus } }),
  };
}

const vmi = (status: VirtualMachineInstance['status']): VirtualMachineInstance => ({
  metadata: { name: 'blockhost-001', namespace: 'vms' },
  spec: { domain: { devices: {} } },
  status,
});

describe('printableStatus → power state', () => {
  it.each([
    ['Running', 'Always', 'Running'],
    ['Migrating', 'Always', 'Running'],
    ['Paused', 'Always', 'Paused'],
    ['Stopped', 'Halted', 'Stopped'],
    ['Stopping', 'Halted', 'Stopping'],
    ['Terminating', 'Always', 'Stopping'],
    ['Starting', 'Always', 'Starting'],
    ['Provisioning', 'Always', 'Starting'],
    ['ErrorUnschedulable', 'Always', 'Starting'],
    ['CrashLoopBackOff', 'Always', 'Starting'],
    ['ErrImagePull', 'Always', 'Starting'],
    ['DataVolumeError', 'Halted', 'Stopped'],
    ['Provisioning', 'Halted', 'Stopped'],
    ['Unknown', 'Always', 'Unknown'],
    ['SomethingNew', 'Always', 'Unknown'],
  ])('%s under %s is %s', (printable, runStrategy, power) => {
    expect(powerStateOf(vm(printable, runStrategy))).toBe(power);
  });

  it('before virt-controller has written a status: Starting or Stopped by runStrategy', () => {
    expect(powerStateOf(vm(undefined, 'Always'))).toBe('Starting');
    expect(powerStateOf(vm(undefined, 'Halted'))).toBe('Stopped');
  });
});

describe('guest agent', () => {
  it('is connected when the VMI says so', () => {
    const connected = vmi({ conditions: [{ type: 'AgentConnected', status: 'True' }] });
    expect(guestAgentConnected(vm('Running'), connected)).toBe(true);
    expect(guestAgentConnected(vm('Running'), vmi({ conditions: [{ type: 'Ready', status: 'True' }] }))).toBe(
      false,
    );
  });

  it('falls back to the condition virt-controller copies onto the VM, but never without a VMI', () => {
    const withCondition = {
      ...vm('Running'),
      status: { conditions: [{ type: 'AgentConnected', status: 'True' }] },
    };
    expect(guestAgentConnected(withCondition, vmi({}))).toBe(true);
    expect(guestAgentConnected(withCondition, undefined)).toBe(false);
  });
});

describe('guest addresses', () => {
  it('picks the first IPv4 and the first global IPv6 over all interfaces', () => {
    const addresses = guestAddresses(
      vmi({
        interfaces: [
          {
            name: 'default',
            ipAddress: '10.244.0.12',
            ipAddresses: ['10.244.0.12', 'fd10:0:2::2', 'fe80::1'],
          },
          { name: 'second', ipAddresses: ['192.0.2.10/24', '2001:db8::10/128'] },
        ],
      }),
    );
    expect(addresses).toEqual({ ipv4: '10.244.0.12', ipv6: '2001:db8::10' });
  });

  it('reads ipAddress when ipAddresses is absent, and nothing without a VMI', () => {
    expect(guestAddresses(vmi({ interfaces: [{ ipAddress: '10.0.0.5' }] }))).toEqual({ ipv4: '10.0.0.5' });
    expect(guestAddresses(undefined)).toEqual({});
  });
});

describe('observedVm', () => {
  it('reports id, intent, power and the size from the spec', () => {
    expect(observedVm(vm('Running'), undefined)).toEqual({
      id: 'vms/blockhost-001',
      intentId: 'i-1',
      power: 'Running',
      guestAgentConnected: false,
      addresses: {},
      cpu: 2,
      memoryMiB: 2048,
      diskGiB: 20,
    });
  });
});

describe('backend ids', () => {
  it('are namespace/name', () => {
    expect(parseBackendId('vms/blockhost-001')).toEqual({ namespace: 'vms', name: 'blockhost-001' });
  });

  it.each(['blockhost-001', 'a/b/c', '/x', 'x/'])('"%s" is rejected', (id) => {
    expect(() => parseBackendId(id)).toThrow(BackendError);
  });
});
