import type { HostConfig, VM } from '../../../lib/api/v1alpha1/index.js';
import type { ObservedVm, VmBackend } from '../backend.js';
import { desiredVm, wantedGecos } from '../desired.js';
import { BACKEND_ID_ANNOTATION, intentIdOf } from './identity.js';
import type { StepDeps } from './store.js';

/**
 * Creates the backend VM. The create is tagged with the VM's UID and named deterministically by
 * each driver, so a crash anywhere here is resumed, never repeated: the retry finds the VM by name
 * and intent (observe.ts) or the driver's create returns the VM it already made. The backend id is
 * then recorded in the annotation (survives a lost status); status.backendId and the GECOS the boot
 * config carries (`appliedGecos`) are left to the caller's one status write of the pass.
 */
export async function createOnBackend(
  vm: VM,
  host: HostConfig,
  backend: VmBackend,
  deps: Pick<StepDeps, 'store' | 'loginSecret' | 'log' | 'onStep'>,
): Promise<{ vm: VM; observed: ObservedVm; appliedGecos: string }> {
  const { store } = deps;
  if (vm.status?.backendId) {
    deps.log.warn({ backendId: vm.status.backendId }, 'backend VM missing; recreating it');
    await store.event(
      vm,
      'Warning',
      'Recreating',
      `${vm.status.backendId} disappeared from ${backend.type}; creating it again`,
    );
  }
  vm = await store.writeStatus(vm, (s) => {
    // The old id names nothing any more; keeping it would let a new VM of that id pass as ours.
    const { backendId: _gone, ...rest } = s;
    return { ...rest, phase: 'Creating', lastTransitionReason: 'Creating' };
  });
  deps.onStep?.('createStarted');
  const intentId = intentIdOf(vm);
  const observed = await backend.create(desiredVm(vm, host, intentId, await deps.loginSecret(vm)));
  deps.onStep?.('backendCreated');
  deps.log.info({ backendId: observed.id, intentId }, 'backend VM created');
  vm = await recordBackendId(vm, observed.id, deps);
  await store.event(vm, 'Normal', 'Created', `created ${observed.id} on ${backend.type}`);
  return { vm, observed, appliedGecos: wantedGecos(vm) };
}

/** Keeps the backend-id annotation equal to the id the backend reports (written when it differs). */
export async function recordBackendId(vm: VM, id: string, { store }: Pick<StepDeps, 'store'>): Promise<VM> {
  if (vm.metadata.annotations?.[BACKEND_ID_ANNOTATION] === id) return vm;
  return store.annotate(vm, { [BACKEND_ID_ANNOTATION]: id });
}
