import { describe, expect, it } from '@jest/globals';
import { Registry } from 'prom-client';
import { BackendError, type VmBackend } from '../backend.js';
import { BackendMetrics } from './instrumented.js';

describe('backend metrics', () => {
  it('times each call by operation and result, passing results and errors through', async () => {
    const registry = new Registry();
    const calls: string[] = [];
    const driver = {
      type: 'proxmox',
      observe: async (ref: { name: string }) => {
        calls.push(ref.name);
        return undefined;
      },
      power: async () => {
        throw new BackendError('VM is locked (clone)', 'ProxmoxVmLocked');
      },
      create: async () => undefined,
      update: async () => undefined,
      delete: async () => undefined,
      guestExec: async () => undefined,
    } as unknown as VmBackend;
    const backend = new BackendMetrics(registry).instrument(driver);
    expect(backend.type).toBe('proxmox');
    await expect(backend.observe({ namespace: 'n', name: 'a' })).resolves.toBeUndefined();
    await expect(backend.power('101', 'start')).rejects.toThrow('VM is locked');
    expect(calls).toEqual(['a']);
    const text = await registry.metrics();
    expect(text).toMatch(
      /blockhost_backend_operation_duration_seconds_count\{backend="proxmox",operation="observe",result="ok"\} 1/,
    );
    expect(text).toMatch(
      /blockhost_backend_operation_duration_seconds_count\{backend="proxmox",operation="power",result="ProxmoxVmLocked"\} 1/,
    );
  });
});
