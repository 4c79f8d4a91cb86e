import { exampleVM } from '../../../lib/api/v1alpha1/examples.js';
import type { VM } from '../../../lib/api/v1alpha1/index.js';

/** A VM an admin made (no subscription, no claimed addresses), as the dashboard tests create it. */
export function adminMadeVm(name: string, namespace: string): VM {
  const { status: _status, ...vm } = structuredClone(exampleVM);
  return {
    ...vm,
    metadata: { name, namespace },
    spec: { ...vm.spec, subscriptionRef: undefined, network: undefined },
  } as unknown as VM;
}
