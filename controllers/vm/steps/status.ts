import type { VM, VMStatus } from '../../../lib/api/v1alpha1/index.js';
import { setCondition, type ConditionUpdate } from '../../../lib/runtime/conditions.js';
import type { ObservedVm } from '../backend.js';

type Phase = NonNullable<VMStatus['phase']>;

const POWER_PHASES: Record<ObservedVm['power'], Phase> = {
  Running: 'Running',
  Stopping: 'Running',
  Starting: 'Creating',
  Stopped: 'Stopped',
  Paused: 'Stopped',
  Unknown: 'Unknown',
};

/** `status` with each condition set, stamped with the generation it was computed from. */
export function withConditions(
  status: VMStatus,
  generation: number | undefined,
  updates: ConditionUpdate[],
): VMStatus {
  let conditions = status.conditions;
  for (const update of updates)
    conditions = setCondition(conditions, { ...update, observedGeneration: generation });
  return { ...status, conditions };
}

/**
 * The status that says what the backend reports for `vm`: phase, addresses, backend id and the
 * Created, Running, GuestAgentConnected and Ready conditions, plus `extra` ones (OwnerSynced).
 * Ready is True only when power is as runStrategy wants, the guest agent answers (for a running VM)
 * and nothing is `transitioning`.
 */
export function observedStatus(
  vm: VM,
  observed: ObservedVm,
  extra: ConditionUpdate[],
  transitioning: boolean,
): (status: VMStatus) => VMStatus {
  const wantRunning = vm.spec.runStrategy === 'Always';
  const running = observed.power === 'Running';
  const addresses = {
    ...(observed.addresses.ipv4 && { ipv4: observed.addresses.ipv4 }),
    ...(observed.addresses.ipv6 && { ipv6: observed.addresses.ipv6 }),
    // The static addresses we configured are where customers reach the VM.
    ...(vm.spec.network?.ipv4 && { ipv4: vm.spec.network.ipv4 }),
    ...(vm.spec.network?.ipv6 && { ipv6: vm.spec.network.ipv6 }),
  };
  const ready = (wantRunning ? running && observed.guestAgentConnected : !running) && !transitioning;
  const shuttingDown = !wantRunning && (running || observed.power === 'Stopping');
  const runningCondition: ConditionUpdate = shuttingDown
    ? // Unknown rather than True: entering it stamps lastTransitionTime, which times the shutdown.
      { type: 'Running', status: 'Unknown', reason: 'ShuttingDown', message: 'shutdown requested' }
    : {
        type: 'Running',
        status: running ? 'True' : 'False',
        reason: observed.power,
        message: `${observed.id} is ${observed.power}`,
      };
  return (s) => {
    const phase = POWER_PHASES[observed.power];
    const next: VMStatus = {
      ...s,
      phase,
      lastTransitionReason: s.phase === phase ? s.lastTransitionReason : observed.power,
      lastTransitionMessage:
        s.phase === phase
          ? s.lastTransitionMessage
          : `${vm.spec.backend} ${observed.id} is ${observed.power}`,
      backendId: observed.id,
      guestAgentConnected: observed.guestAgentConnected,
      ...(Object.keys(addresses).length > 0 && { addresses }),
      observedGeneration: vm.metadata.generation,
    };
    return withConditions(next, vm.metadata.generation, [
      { type: 'Created', status: 'True', reason: 'Created', message: `${observed.id} on ${vm.spec.backend}` },
      runningCondition,
      {
        type: 'GuestAgentConnected',
        status: observed.guestAgentConnected ? 'True' : 'False',
        reason: observed.guestAgentConnected ? 'Connected' : 'NotConnected',
        message: observed.guestAgentConnected
          ? 'the QEMU guest agent answers'
          : 'the QEMU guest agent does not answer',
      },
      ...extra,
      {
        type: 'Ready',
        status: ready ? 'True' : 'False',
        reason: ready ? 'AsDesired' : 'Reconciling',
        message: `runStrategy ${vm.spec.runStrategy}, power ${observed.power}`,
      },
    ]);
  };
}
