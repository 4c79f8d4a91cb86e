// The VM backend of the local stack: real libvirt (with the product's guest image) when a
// libvirtd can run here, otherwise KubeVirt's real CRDs with the virt-controller simulator.
import type { HostConfigSpec, PlanSpec } from '../../../lib/api/v1alpha1/index.js';
import type { KubeClient } from '../../../lib/kube/client.js';
import { installKubevirtCrds } from '../kubevirt/crds.js';
import { KubevirtSimulator } from '../kubevirt/simulator.js';
import { LibvirtEnvironment } from '../libvirt/environment.js';

export interface LocalBackend {
  description: string;
  /** HostConfig fields: backend, the IPv4 pool its VMs get addresses from, IPv6 when it cannot route. */
  spec: Pick<HostConfigSpec, 'backend'> & Partial<Pick<HostConfigSpec, 'ipv4Pool' | 'ipv6'>>;
  /** The demo plan's VM size and image. */
  size: PlanSpec['size'];
  stop(): Promise<void>;
}

export async function startLocalBackend(
  kube: KubeClient,
  namespace: string,
  choice: 'auto' | 'libvirt' | 'kubevirt',
  progress: (message: string) => void,
): Promise<LocalBackend> {
  if (choice !== 'kubevirt') {
    try {
      progress("starting libvirt (the first run builds the product's guest image: about 2 minutes)");
      const env = await LibvirtEnvironment.start({ guestImage: true });
      return {
        description: `libvirt (${env.daemon.uri}, bridge ${env.bridge}, pool ${env.pool}; guests boot under ${env.settings.accelerator ?? 'the default accelerator'})`,
        spec: {
          backend: { type: 'libvirt', libvirt: env.settings },
          ipv4Pool: env.ipv4Pool,
          // The throw-away bridge routes no IPv6: with the demo's IPv6 prefix the NFT would name an
          // address this machine cannot reach, and `ssh` from the signup page would fail.
          ipv6: { mode: 'none', allocationSize: 64 },
        },
        size: { cpu: 1, memoryMiB: 1024, diskGiB: 3, image: 'debian' },
        stop: () => env.stop([namespace]),
      };
    } catch (error) {
      if (choice === 'libvirt') throw error;
      progress(`libvirt is not available here (${(error as Error).message.split('\n')[0]}); using KubeVirt`);
    }
  }
  progress(
    'installing KubeVirt CRDs (generated once by KubeVirt’s own code: about 1.5 minutes) and its simulator',
  );
  await installKubevirtCrds(kube);
  const simulator = await KubevirtSimulator.start({ kube, namespace, agentDelayMs: 2_000 });
  return {
    description: 'KubeVirt (real CRDs; a simulator plays virt-controller, no guest boots)',
    spec: {
      backend: {
        type: 'kubevirt',
        kubevirt: { images: [{ name: 'debian', containerDisk: 'quay.io/containerdisks/debian:12' }] },
      },
    },
    size: { cpu: 1, memoryMiB: 1024, diskGiB: 10, image: 'debian' },
    stop: () => simulator.stop(),
  };
}
