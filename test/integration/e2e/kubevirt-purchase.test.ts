// The purchase flow through the KubeVirt driver on the real API server with KubeVirt's CRDs, a
// simulator playing virt-controller and virt-launcher (KubeVirt itself cannot run here). The
// driver's virsh calls reach the simulated guest, so the GECOS is read back from its passwd.
import { KubevirtBackend } from '../../../controllers/vm/backends/kubevirt/driver.js';
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
      // The product's factory, with pods/exec replaced by the simulator's launcher.
      factory: async (host, { kube: client, log }) =>
        new KubevirtBackend({
          kube: client,
          settings: host.spec.backend.kubevirt!,
          log,
          launcherExec: simulator.launcherExec,
        }),
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
      gecos: async (vm) =>
        simulator
          .guest(vm.metadata.name!)
          ?.users()
          .find((u) => u.name === 'admin')?.gecos ?? '',
      stop: () => simulator.stop(),
    };
  },
);
