import type { HostConfig, VM } from '../../../lib/api/v1alpha1/index.js';
import type { ObservedVm, VmBackend } from '../backend.js';
import { desiredVm } from '../desired.js';
import { intentIdOf } from './identity.js';
import type { StepDeps } from './store.js';

/**
 * Whether the backend VM differs from spec.size: CPU or memory either way, the disk only when it is
 * smaller (disks grow, never shrink). What the backend does not report is taken as matching.
 */
export function needsResize(observed: ObservedVm, size: VM['spec']['size']): boolean {
  return (
    (observed.cpu !== undefined && observed.cpu !== size.cpu) ||
    (observed.memoryMiB !== undefined && observed.memoryMiB !== size.memoryMiB) ||
    (observed.diskGiB !== undefined && observed.diskGiB < size.diskGiB)
  );
}

/**
 * Brings the backend VM to spec.size. Compared against the spec directly: rendering the desired VM
 * (cloud-init included) is only needed when there is something to change.
 */
export async function resize(
  vm: VM,
  host: HostConfig,
  observed: ObservedVm,
  backend: VmBackend,
  deps: Pick<StepDeps, 'store' | 'loginSecret'>,
): Promise<void> {
  const size = vm.spec.size;
  if (!needsResize(observed, size)) return;
  await backend.update(observed.id, desiredVm(vm, host, intentIdOf(vm), await deps.loginSecret(vm)));
  await deps.store.event(
    vm,
    'Normal',
    'Resized',
    `${size.cpu} CPU, ${size.memoryMiB} MiB, ${size.diskGiB} GiB`,
  );
}
