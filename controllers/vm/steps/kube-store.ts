import { isDeepStrictEqual } from 'node:util';
import { blockhostTypes, type VM } from '../../../lib/api/v1alpha1/index.js';
import type { KubeClient } from '../../../lib/kube/client.js';
import { isNotFound } from '../../../lib/kube/errors.js';
import type { CachedReader } from '../../../lib/runtime/cached-reader.js';
import type { EventRecorder } from '../../../lib/runtime/events.js';
import { ensureFinalizer, removeFinalizer } from '../../../lib/runtime/finalizers.js';
import { updateStatus } from '../../../lib/runtime/status.js';
import { VM_FINALIZER } from './finalizer.js';
import type { VmStore } from './store.js';

/**
 * The VM steps' writes on the API server: status through its subresource, the rest as merge patches,
 * each guarded by the resourceVersion the step read, and each told to `vms` so the controller's
 * cached reads see it (cached-reader.ts).
 */
export function kubeVmStore(kube: KubeClient, events: EventRecorder, vms: CachedReader<VM>): VmStore {
  // Carrying the resourceVersion we read: a concurrent edit gets a 409, never a silent overwrite.
  const patchGuarded = async (vm: VM, patch: { metadata?: object; spec?: object }) =>
    vms.wrote(
      await kube.patch<VM>(
        blockhostTypes.vm,
        vm.metadata.name!,
        vm.metadata.namespace,
        { ...patch, metadata: { ...patch.metadata, resourceVersion: vm.metadata.resourceVersion } },
        'merge',
      ),
    );
  return {
    writeStatus: (vm, mutate) =>
      updateStatus<VM>(
        kube,
        blockhostTypes.vm,
        { name: vm.metadata.name!, namespace: vm.metadata.namespace },
        (latest) => {
          const next = mutate(structuredClone(latest.status ?? {}));
          if (isDeepStrictEqual(next, latest.status ?? {})) return false;
          latest.status = next;
        },
        { reader: vms },
      ),
    annotate: (vm, annotations) => patchGuarded(vm, { metadata: { annotations } }),
    setNetwork: (vm, network) => patchGuarded(vm, { spec: { network } }),
    ensureFinalizer: async (vm) => {
      const stored = await ensureFinalizer(kube, blockhostTypes.vm, vm, VM_FINALIZER);
      return stored === vm ? vm : vms.wrote(stored);
    },
    removeFinalizer: async (vm) => {
      await removeFinalizer(kube, blockhostTypes.vm, vm, VM_FINALIZER).catch((error: unknown) => {
        if (!isNotFound(error)) throw error;
      });
    },
    event: (vm, type, reason, note) => events.record(vm, blockhostTypes.vm, type, reason, reason, note),
  };
}
