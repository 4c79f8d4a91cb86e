import type { VM } from '../../../lib/api/v1alpha1/index.js';
import { BackendError, type ObservedVm, type VmBackend } from '../backend.js';
import { backendRef, owns } from './identity.js';

/**
 * What the backend has under the VM's recorded id, or else under its name and intent. A recorded id
 * that names nothing is looked up again by name and intent: a crash may have left a VM created after
 * the id was recorded.
 */
export async function lookUp(vm: VM, backend: VmBackend): Promise<ObservedVm | undefined> {
  const ref = backendRef(vm);
  const observed = await backend.observe(ref);
  if (observed || ref.id === undefined) return observed;
  return backend.observe({ ...ref, id: undefined });
}

/**
 * The VM's backend VM, or undefined when there is none. A VM found that this object did not create
 * is an error (NameConflict), never adopted or touched.
 */
export async function observeOwned(vm: VM, backend: VmBackend): Promise<ObservedVm | undefined> {
  const observed = await lookUp(vm, backend);
  if (observed && !owns(vm, observed))
    throw new BackendError(
      `${vm.spec.backend} already has a VM named for ${vm.metadata.namespace}/${vm.metadata.name} (${observed.id}) that this object did not create`,
      'NameConflict',
    );
  return observed;
}
