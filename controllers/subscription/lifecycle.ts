import type { SubscriptionSpec } from '../../lib/api/v1alpha1/index.js';

export type VmState = 'running' | 'stopped' | 'absent';

/** Where a subscription should be at a moment in time, judged from confirmed chain facts only. */
export interface Lifecycle {
  vm: VmState;
  phase: 'Active' | 'Suspended' | 'Expired' | 'Cancelled';
  reason: string;
  message: string;
  /** When this answer changes by the clock alone (expiry, end of grace), if ever. */
  nextChangeAt?: number;
}

const DAY_MS = 86_400_000;

/**
 * The lifecycle rule, as a pure function of the on-chain facts and the clock. Until the absolute
 * on-chain expiry the VM runs; then it is stopped with its disk kept; after the grace period it is
 * destroyed. A cancellation destroys at once. A subscription a deep reorg removed is stopped, never
 * destroyed (the chain may bring it back). Nothing here reads RPC state, so an RPC error can never
 * lead to destruction.
 *
 * An operator's `hold` (the VM's spec.hold) overrides the chain: a VM that should run is stopped,
 * and one that should be destroyed is kept stopped until the hold is lifted. The phase stays what
 * the chain says.
 */
export function lifecycle(spec: SubscriptionSpec, now: number, graceDays: number, hold?: string): Lifecycle {
  const chain = chainLifecycle(spec, now, graceDays);
  if (hold === undefined) return chain;
  // Stopped anyway: the chain's reason stands, and the message still shows the hold.
  if (chain.vm === 'stopped') return { ...chain, message: `${chain.message}; held by the operator: ${hold}` };
  if (chain.vm === 'running')
    return { ...chain, vm: 'stopped', reason: 'Held', message: `held by the operator: ${hold}` };
  return {
    vm: 'stopped',
    phase: chain.phase,
    reason: 'HeldFromRemoval',
    message: `${chain.message}, but the operator holds the VM (${hold}): lift the hold to let it be removed`,
  };
}

function chainLifecycle(spec: SubscriptionSpec, now: number, graceDays: number): Lifecycle {
  if (spec.removedByReorg) {
    return {
      vm: 'stopped',
      phase: 'Suspended',
      reason: 'RemovedByReorg',
      message: 'the purchase is no longer on the canonical chain',
    };
  }
  if (spec.cancelled) {
    return {
      vm: 'absent',
      phase: 'Cancelled',
      reason: 'Cancelled',
      message: 'the subscription was cancelled on-chain',
    };
  }
  const expiresAt = Date.parse(spec.expiresAt);
  const destroyAt = expiresAt + graceDays * DAY_MS;
  if (now < expiresAt) {
    return {
      vm: 'running',
      phase: 'Active',
      reason: 'Paid',
      message: `paid until ${spec.expiresAt}`,
      nextChangeAt: expiresAt,
    };
  }
  if (now < destroyAt) {
    return {
      vm: 'stopped',
      phase: 'Suspended',
      reason: 'Expired',
      message: `expired at ${spec.expiresAt}; the VM is stopped and its disk kept until ${new Date(destroyAt).toISOString()} (an extension resumes it)`,
      nextChangeAt: destroyAt,
    };
  }
  return {
    vm: 'absent',
    phase: 'Expired',
    reason: 'GracePeriodOver',
    message: `expired at ${spec.expiresAt} and the ${graceDays}-day grace period is over`,
  };
}
