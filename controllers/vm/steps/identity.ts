import type { VM } from '../../../lib/api/v1alpha1/index.js';
import type { BackendRef, ObservedVm } from '../backend.js';

/**
 * The backend id of the VM, as Crossplane keeps an external name: in metadata, so a status that is
 * lost (a restore, a wiped subresource) still says what exists. Written when the create returns and
 * kept equal to status.backendId.
 */
export const BACKEND_ID_ANNOTATION = 'blockhost.io/backend-id';

/**
 * The tag every create puts on the backend VM: the object's UID. Deterministic, so a create retried
 * after a crash (before anything was recorded) is the same create, and the drivers' deterministic
 * names make it idempotent; and bound to this object, so no other VM object can claim it by copying
 * annotations (which less-trusted writers of VM metadata could).
 */
export const intentIdOf = (vm: VM): string => vm.metadata.uid!;

/** The id recorded for the VM: status (which only the controller writes) first, else the annotation. */
export const recordedBackendId = (vm: VM): string | undefined =>
  vm.status?.backendId ?? vm.metadata.annotations?.[BACKEND_ID_ANNOTATION];

/** How the drivers look the VM up: by its recorded id, else by its name and intent. */
export const backendRef = (vm: VM): BackendRef => ({
  namespace: vm.metadata.namespace!,
  name: vm.metadata.name!,
  id: recordedBackendId(vm),
  intentId: intentIdOf(vm),
});

/**
 * Whether `observed` belongs to `vm`: created under its intent, or the id the controller recorded in
 * status (VMs created before intents were UIDs). The annotation alone never makes a VM ours: anyone
 * who may patch the object could point it at another tenant's VM.
 */
export const owns = (vm: VM, observed: ObservedVm): boolean =>
  observed.intentId === intentIdOf(vm) ||
  (vm.status?.backendId !== undefined && observed.id === vm.status.backendId);
