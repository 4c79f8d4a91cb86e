import type { HostConfig, VM } from '../../../lib/api/v1alpha1/index.js';
import type { ReconcileResult } from '../../../lib/runtime/controller.js';
import { hasFinalizer } from '../../../lib/runtime/finalizers.js';
import type { VmBackend } from '../backend.js';
import { VM_FINALIZER } from './finalizer.js';
import { owns, recordedBackendId } from './identity.js';
import { lookUp } from './observe.js';
import type { StepDeps } from './store.js';

/**
 * Tears the backend VM and its disks down, then releases the addresses and the finalizer. Only a VM
 * this object created is deleted; without a HostConfig (no backend to ask) the finalizer stays.
 */
export async function finalize(
  vm: VM,
  host: HostConfig | undefined,
  backendFor: (host: HostConfig) => Promise<VmBackend>,
  deps: Pick<StepDeps, 'store' | 'claims' | 'log' | 'onStep' | 'timings'>,
): Promise<ReconcileResult> {
  if (!hasFinalizer(vm, VM_FINALIZER)) return;
  const { store, timings } = deps;
  // Never recorded and never started: nothing can exist on the backend.
  const mayExist = recordedBackendId(vm) !== undefined || vm.status?.phase === 'Creating';
  if (mayExist) {
    if (!host) {
      await store.writeStatus(vm, (s) => ({ ...s, phase: 'Deleting', lastTransitionReason: 'NoHostConfig' }));
      return { requeueAfterMs: timings.observeIntervalMs };
    }
    const backend = await backendFor(host);
    const observed = await lookUp(vm, backend);
    // Someone else's VM under our name or id is not ours to delete.
    if (observed && owns(vm, observed)) {
      if (vm.status?.phase !== 'Deleting') {
        vm = await store.writeStatus(vm, (s) => ({
          ...s,
          phase: 'Deleting',
          lastTransitionReason: 'Deleting',
          lastTransitionMessage: `removing ${observed.id} from ${backend.type}`,
        }));
      }
      await backend.delete(observed.id);
      deps.onStep?.('backendDeleteStarted');
      if (
        await backend.observe({ namespace: vm.metadata.namespace!, name: vm.metadata.name!, id: observed.id })
      )
        return { requeueAfterMs: timings.transitionPollMs };
      deps.log.info({ backendId: observed.id }, 'backend VM removed');
      await store.event(vm, 'Normal', 'Deleted', `removed ${observed.id} and its disks from ${backend.type}`);
    }
  }
  await deps.claims.release(vm);
  await store.removeFinalizer(vm);
}
