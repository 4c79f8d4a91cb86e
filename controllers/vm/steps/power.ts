import type { VM } from '../../../lib/api/v1alpha1/index.js';
import { findCondition } from '../../../lib/runtime/conditions.js';
import type { ObservedVm, PowerAction, VmBackend } from '../backend.js';
import type { StepDeps } from './store.js';

/** 'acted': a power change was just asked for; 'transitioning': one is under way without us. */
export type PowerOutcome = 'acted' | 'transitioning' | 'settled';

export interface PowerPlan {
  outcome: PowerOutcome;
  action?: PowerAction;
  event?: { type: 'Normal' | 'Warning'; reason: string; note: string };
}

/**
 * What to do so power matches runStrategy, as a pure function of the VM, what the backend reports
 * and the clock. A VM that should run is started (a Warning when it was stopped behind our back). A
 * VM that should not run is asked to shut down, and powered off once it ignored that for the grace
 * period (spec.shutdownGracePeriodSeconds, else `defaultGraceMs`) — at once for a grace of 0.
 */
export function planPower(vm: VM, observed: ObservedVm, now: number, defaultGraceMs: number): PowerPlan {
  const wantRunning = vm.spec.runStrategy === 'Always';
  if (wantRunning && (observed.power === 'Stopped' || observed.power === 'Paused')) {
    const wasRunning = vm.status?.phase === 'Running';
    return {
      outcome: 'acted',
      action: 'start',
      event: wasRunning
        ? {
            type: 'Warning',
            reason: 'Restarted',
            note: `${observed.id} was stopped behind our back; started it again`,
          }
        : { type: 'Normal', reason: 'Started', note: `started ${observed.id}` },
    };
  }
  if (!wantRunning && (observed.power === 'Running' || observed.power === 'Stopping')) {
    const graceSeconds = vm.spec.shutdownGracePeriodSeconds;
    const graceMs = graceSeconds === undefined ? defaultGraceMs : graceSeconds * 1000;
    const shuttingDown = findCondition(vm.status?.conditions, 'Running');
    const since =
      shuttingDown?.reason === 'ShuttingDown' ? Date.parse(shuttingDown.lastTransitionTime) : undefined;
    // A grace of 0 is a kill: no ACPI request at all, even when a graceful shutdown is under way.
    if (graceMs === 0)
      return {
        outcome: 'acted',
        action: 'stop',
        event: {
          type: 'Normal',
          reason: 'PoweredOff',
          note: `powered off ${observed.id} without a shutdown (shutdownGracePeriodSeconds 0)`,
        },
      };
    if (since !== undefined && now - since > graceMs)
      return {
        outcome: 'acted',
        action: 'stop',
        event: {
          type: 'Warning',
          reason: 'PoweredOff',
          note: `${observed.id} ignored the shutdown request for ${graceMs / 1000} s; powered off`,
        },
      };
    // The request is repeated while the guest still runs (it may have missed the first one).
    if (since === undefined)
      return {
        outcome: 'acted',
        action: 'shutdown',
        event: { type: 'Normal', reason: 'ShuttingDown', note: `asked ${observed.id} to shut down` },
      };
    return observed.power === 'Running' ? { outcome: 'acted', action: 'shutdown' } : { outcome: 'acted' };
  }
  return {
    outcome: observed.power === 'Starting' || observed.power === 'Stopping' ? 'transitioning' : 'settled',
  };
}

/** Carries out {@link planPower} on the backend. */
export async function syncPower(
  vm: VM,
  observed: ObservedVm,
  backend: VmBackend,
  deps: Pick<StepDeps, 'store' | 'now' | 'timings'>,
): Promise<PowerOutcome> {
  const plan = planPower(vm, observed, deps.now(), deps.timings.shutdownTimeoutMs);
  if (plan.action) await backend.power(observed.id, plan.action);
  if (plan.event) await deps.store.event(vm, plan.event.type, plan.event.reason, plan.event.note);
  return plan.outcome;
}
