import { BackendError } from '../../vm/backend.js';
import { notReady, ready, type SetupContext, type StepResult } from '../step.js';

/**
 * BackendReady: the configured VM backend answers its driver's connectivity check (libvirt: daemon,
 * storage pool, bridge; KubeVirt: API served, namespace; Proxmox: API + token, node, templates).
 * The controller rechecks periodically, so a backend that breaks later shows here.
 */
export async function backendStep({ backends, host }: SetupContext): Promise<StepResult> {
  const type = host.spec.backend.type;
  try {
    const backend = await backends.for(host, type);
    if (!backend.check) return ready('NotChecked', `the ${type} driver has no connectivity check`);
    await backend.check();
  } catch (error) {
    if (error instanceof BackendError) return notReady(error.reason, `${type}: ${error.message}`);
    throw error;
  }
  return ready('BackendReachable', `the ${type} backend is reachable and configured`);
}
