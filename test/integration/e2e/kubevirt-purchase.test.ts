// The purchase flow through the KubeVirt driver on the real API server with KubeVirt's CRDs, a
// simulator playing virt-controller (KubeVirt itself cannot run here). No guest exists, so the
// GECOS cannot be read back: the flow checks that the controller reports it pending instead.
import { kubevirtTypes } from '../../../controllers/vm/backends/kubevirt/resource-types.js';
import type { VirtualMachine } from '../../../controllers/vm/backends/kubevirt/resource-types.js';
import { isNotFound } from '../../../lib/kube/errors.js';
import { describePurchaseFlow } from '../../harness/e2e/purchase-flow.js';
import { testClient } from '../../harness/kube.js';
import { installKubevirtCrds } from '../../harness/kubevirt/crds.js';
import { KubevirtSimulator } from '../../harness/kubevirt/simulator.js';

describePurchaseFlow(
  'purchase flow on KubeVirt (virt-controller simulator)',
  'kubevirt',
  async (namespace) => {
    const kube = testClient();
    await installKubevirtCrds(kube);
    const simulator = await KubevirtSimulator.start({ kube, namespace, agentDelayMs: 500 });
    return {
      spec: {
        backend: {
          type: 'kubevirt',
          kubevirt: { images: [{ name: 'demo', containerDisk: 'quay.io/containerdisks/debian:12' }] },
        },
      },
      planImage: 'demo',
      planSize: { cpu: 1, memoryMiB: 1024, diskGiB: 10 },
      bootTimeoutMs: 120_000,
      power: async (vm) => {
        const machine = await kube
          .get<VirtualMachine>(kubevirtTypes.virtualMachine, vm.metadata.name!, vm.metadata.namespace)
          .catch((error: unknown) => {
            if (isNotFound(error)) return undefined;
            throw error;
          });
        if (!machine) return 'absent';
        return machine.status?.printableStatus === 'Running' ? 'running' : 'stopped';
      },
      stop: () => simulator.stop(),
    };
  },
);
