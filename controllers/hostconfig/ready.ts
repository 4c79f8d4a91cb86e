import { HOST_CONFIG_CONDITIONS, type HostConfig } from '../../lib/api/v1alpha1/index.js';
import type { ConditionUpdate } from '../../lib/runtime/conditions.js';
import { isConditionTrue } from '../../lib/runtime/conditions.js';

/** The setup steps, in pipeline order; Ready summarises them. */
export const SETUP_STEPS = HOST_CONFIG_CONDITIONS.filter((type) => type !== 'Ready');

/**
 * Ready is True exactly when every setup step's condition is True; otherwise it names the steps
 * still outstanding, so `kubectl get hostconfig` and the wizard show what the host is waiting for.
 */
export function readyCondition(hostConfig: HostConfig): ConditionUpdate {
  const conditions = hostConfig.status?.conditions;
  const pending = SETUP_STEPS.filter((step) => !isConditionTrue(conditions, step));
  const observedGeneration = hostConfig.metadata.generation;
  if (pending.length === 0) {
    return {
      type: 'Ready',
      status: 'True',
      reason: 'SetupComplete',
      message: 'every setup step is done',
      observedGeneration,
    };
  }
  return {
    type: 'Ready',
    status: 'False',
    reason: 'SetupPending',
    message: `waiting for ${pending.join(', ')}`,
    observedGeneration,
  };
}
