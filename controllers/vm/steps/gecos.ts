import type { HostConfig, VM } from '../../../lib/api/v1alpha1/index.js';
import type { ConditionUpdate } from '../../../lib/runtime/conditions.js';
import { BackendError, GuestAgentUnavailableError, type ObservedVm, type VmBackend } from '../backend.js';
import { desiredVm, wantedGecos } from '../desired.js';
import { intentIdOf } from './identity.js';
import type { StepDeps } from './store.js';

/** How far the GECOS got (the OwnerSynced condition) and, when this pass set it, what to record. */
export interface GecosSync {
  condition: ConditionUpdate;
  /** The GECOS just applied in the guest, for status.appliedGecos (written with the rest of the status). */
  applied?: string;
}

/**
 * Keeps the guest user's GECOS (wallet=…,nft=…, what the web3 PAM login reads) in step with the
 * owner through the guest agent, and says how far it got as the OwnerSynced condition. What it
 * applied is recorded by the caller's one status write of the pass (a crash before it repeats the
 * usermod, which is idempotent). A guest whose
 * agent does not answer yet is waited for; a usermod that fails is an error. The backend's boot
 * config (cloud-init) follows first: a guest whose root is not kept (a KubeVirt containerDisk) boots
 * from it afresh and would otherwise name the buyer again, letting a former holder back in.
 */
export async function syncGecos(
  vm: VM,
  host: HostConfig,
  observed: ObservedVm,
  backend: VmBackend,
  deps: Pick<StepDeps, 'store' | 'loginSecret'>,
): Promise<GecosSync> {
  const gecos = wantedGecos(vm);
  const applied: ConditionUpdate = {
    type: 'OwnerSynced',
    status: 'True',
    reason: 'Applied',
    message: `GECOS ${gecos}`,
  };
  if (vm.status?.appliedGecos === gecos) return { condition: applied };
  const waiting = (message: string): GecosSync => ({
    condition: { type: 'OwnerSynced', status: 'False', reason: 'WaitingForGuestAgent', message },
  });
  if (!observed.guestAgentConnected) return waiting(`GECOS ${gecos} pending`);
  await backend.update(observed.id, desiredVm(vm, host, intentIdOf(vm), await deps.loginSecret(vm)));
  let exitCode: number;
  let stderr: string;
  try {
    ({ exitCode, stderr } = await backend.guestExec(observed.id, {
      path: '/usr/sbin/usermod',
      args: ['-c', gecos, vm.spec.cloudInit.username],
    }));
  } catch (error) {
    if (error instanceof GuestAgentUnavailableError) return waiting(error.message);
    throw error;
  }
  if (exitCode !== 0)
    throw new BackendError(`usermod in the guest exited ${exitCode}: ${stderr.trim()}`, 'GecosUpdateFailed');
  await deps.store.event(vm, 'Normal', 'OwnerSynced', `guest GECOS set to ${gecos}`);
  return { condition: applied, applied: gecos };
}
