import type { HostConfig, VM } from '../../../lib/api/v1alpha1/index.js';
import type { ConditionUpdate } from '../../../lib/runtime/conditions.js';
import type { ReconcileResult } from '../../../lib/runtime/controller.js';
import type { VmBackend } from '../backend.js';
import { ensureAddresses } from './addresses.js';
import { createOnBackend, recordBackendId } from './create.js';
import { syncGecos } from './gecos.js';
import { backendRef } from './identity.js';
import { observeOwned } from './observe.js';
import { syncPower } from './power.js';
import { resize } from './resize.js';
import { observedStatus } from './status.js';
import type { StepDeps } from './store.js';

/**
 * One pass over a VM that is not being deleted, in the order the steps depend on each other:
 * finalizer and addresses before anything exists, create (or adopt) the backend VM, resize, power,
 * GECOS, then the status of what the backend now reports. Each step is safe to repeat after a crash.
 */
export async function reconcileVm(
  vm: VM,
  host: HostConfig,
  backend: VmBackend,
  deps: StepDeps,
): Promise<ReconcileResult> {
  const { store, timings } = deps;
  vm = await store.ensureFinalizer(vm);
  vm = await ensureAddresses(vm, host, deps);
  let observed = await observeOwned(vm, backend);
  /** The GECOS the guest has now, when this pass gave it (the boot config of a create, or usermod). */
  let appliedGecos: string | undefined;
  if (!observed) ({ vm, observed, appliedGecos } = await createOnBackend(vm, host, backend, deps));
  else {
    vm = await recordBackendId(vm, observed.id, deps);
    await resize(vm, host, observed, backend, deps);
  }
  const power = await syncPower(vm, observed, backend, deps);
  const transitioning = power !== 'settled';
  // After a power action the observation taken before it is stale (a VM just started would be
  // reported Stopped): the status says what the backend says now.
  if (power === 'acted')
    observed = (await backend.observe({ ...backendRef(vm), id: observed.id })) ?? observed;
  // Created with the GECOS in its boot config: nothing for the guest agent to apply.
  const gecos = appliedGecos
    ? await syncGecos({ ...vm, status: { ...vm.status, appliedGecos } }, host, observed, backend, deps)
    : await syncGecos(vm, host, observed, backend, deps);
  appliedGecos = gecos.applied ?? appliedGecos;
  const ownerSynced: ConditionUpdate = gecos.condition;
  // One status write per pass, and none when nothing changed (the store compares).
  const status = observedStatus(vm, observed, [ownerSynced], transitioning);
  await store.writeStatus(vm, (s) => ({ ...status(s), ...(appliedGecos !== undefined && { appliedGecos }) }));
  const waitingForGuest =
    vm.spec.runStrategy === 'Always' && (!observed.guestAgentConnected || ownerSynced.status === 'False');
  return {
    requeueAfterMs: transitioning || waitingForGuest ? timings.transitionPollMs : timings.observeIntervalMs,
  };
}
