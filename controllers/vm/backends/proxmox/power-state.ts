import type { PowerState } from '../../backend.js';

/** The fields of GET /nodes/{node}/qemu/{vmid}/status/current that decide the power state. */
export interface PveVmStatus {
  status?: string;
  /** QEMU's own run state while the process exists: running, paused, prelaunch, inmigrate, ... */
  qmpstatus?: string;
  /** Config lock: clone, create, backup, migrate, suspending, suspended, ... */
  lock?: string;
}

/** Locks under which the VM is still being made: not usable yet, but on its way. */
const PROVISIONING_LOCKS = new Set(['clone', 'create', 'disk', 'rollback']);

export function powerStateOf({ status, qmpstatus, lock }: PveVmStatus): PowerState {
  if (status === 'running') {
    if (lock === 'suspending') return 'Stopping';
    if (qmpstatus === 'paused' || qmpstatus === 'suspended') return 'Paused';
    if (qmpstatus === 'prelaunch' || qmpstatus === 'inmigrate' || qmpstatus === 'restore-vm')
      return 'Starting';
    return 'Running';
  }
  if (status === 'stopped') {
    // Hibernated: the RAM is on disk and `start` resumes it.
    if (lock === 'suspended') return 'Paused';
    if (lock && PROVISIONING_LOCKS.has(lock)) return 'Starting';
    return 'Stopped';
  }
  return 'Unknown';
}
