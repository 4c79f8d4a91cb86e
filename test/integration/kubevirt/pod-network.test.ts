// KubeVirt on the pod network (no Multus network in the HostConfig): virt-launcher's masquerade NAT
// serves the guest 10.0.2.2 by DHCP and the VM is reached at its pod IP, so the VM controller takes
// no pool address, renders a DHCP network config, and reports the address KubeVirt reports; an
// explicit address is refused with the way out. On a Multus bridge pool addresses work as on the
// other backends. The real VM controller and KubeVirt driver against the virt-controller simulator.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { KubevirtBackend } from '../../../controllers/vm/backends/kubevirt/driver.js';
import { BackendProvider } from '../../../controllers/vm/backends/provider.js';
import { registerVmController } from '../../../controllers/vm/controller.js';
import { exampleHostConfig } from '../../../lib/api/v1alpha1/examples.js';
import {
  blockhostTypes,
  HOST_CONFIG_NAME,
  type HostConfig,
  type VM,
} from '../../../lib/api/v1alpha1/index.js';
import type { KubeObject } from '../../../lib/kube/object.js';
import { coreTypes } from '../../../lib/kube/resource-types.js';
import { createLogger } from '../../../lib/log.js';
import { Manager } from '../../../lib/runtime/manager.js';
import { RuntimeMetrics } from '../../../lib/runtime/metrics.js';
import {
  claimHostConfig,
  withHostConfigClaimWait,
  createTestNamespace,
  deleteNamespace,
  eventually,
  testClient,
} from '../../harness/kube.js';
import { installKubevirtCrds } from '../../harness/kubevirt/crds.js';
import { readSeed } from '../../harness/kubevirt/launchers.js';
import { KubevirtSimulator } from '../../harness/kubevirt/simulator.js';
import { vmObject } from '../../harness/vm-object.js';
import {
  kubevirtTypes,
  type VirtualMachine,
} from '../../../controllers/vm/backends/kubevirt/resource-types.js';

const IMAGES = [{ name: 'debian', containerDisk: 'quay.io/containerdisks/debian:12' }];

describe('KubeVirt on the pod network', () => {
  const kube = testClient();
  let namespace: string;
  let release: () => Promise<void>;
  let simulator: KubevirtSimulator;
  let manager: Manager;
  let running: Promise<unknown>;

  const get = (name: string) => kube.get<VM>(blockhostTypes.vm, name, namespace);
  const claims = async () =>
    (
      await kube.list<KubeObject & { data?: { address?: string; vm?: string } }>(coreTypes.configMap, {
        namespace,
      })
    ).items
      .filter((c) => c.data?.vm?.startsWith(`${namespace}/`))
      .map((c) => c.data?.address);
  const makeVm = (name: string, network?: VM['spec']['network']) =>
    kube.create<VM>(
      blockhostTypes.vm,
      vmObject(namespace, name, {
        backend: 'kubevirt',
        image: 'debian',
        size: { cpu: 1, memoryMiB: 512, diskGiB: 10 },
        ...(network && { network }),
      }),
    );
  const networkConfig = async (name: string) => {
    const machine = await kube.get<VirtualMachine>(kubevirtTypes.virtualMachine, name, namespace);
    return parse((await readSeed(kube, machine)).networkConfig ?? '') as {
      ethernets: Record<string, { dhcp4: boolean; addresses: string[] }>;
    };
  };
  const setNetworkName = (networkName: string | null) =>
    kube.patch(
      blockhostTypes.hostConfig,
      HOST_CONFIG_NAME,
      undefined,
      { spec: { backend: { kubevirt: { networkName } } } },
      'merge',
    );

  beforeAll(async () => {
    release = await claimHostConfig(kube);
    namespace = await createTestNamespace(kube, 'kubevirt-pod-network');
    await installKubevirtCrds(kube);
    simulator = await KubevirtSimulator.start({ kube, namespace, agentDelayMs: 200 });
    const host = structuredClone(exampleHostConfig) as HostConfig;
    host.spec.backend = { type: 'kubevirt', kubevirt: { images: IMAGES } };
    await kube.create(blockhostTypes.hostConfig, host);
    const log = createLogger('kubevirt-pod-network-test');
    manager = new Manager({ client: kube, log, metrics: new RuntimeMetrics({ processMetrics: false }) });
    registerVmController(manager, {
      backends: new BackendProvider(
        {
          kubevirt: async (config, deps) =>
            new KubevirtBackend({
              kube: deps.kube,
              settings: config.spec.backend.kubevirt!,
              log: deps.log,
              launcherExec: simulator.launcherExec,
            }),
        },
        { kube, namespace, log },
      ),
      claimsNamespace: namespace,
      observeIntervalMs: 1000,
      transitionPollMs: 500,
    });
    running = manager.start();
  }, withHostConfigClaimWait(120_000));

  afterAll(async () => {
    if (namespace) await deleteNamespace(kube, namespace);
    manager?.stop();
    await running;
    await simulator?.stop();
    await release?.();
  }, 120_000);

  it('takes no pool address, has the guest use DHCP, and reports the pod IP KubeVirt reports', async () => {
    await makeVm('pod');
    await eventually(
      'VM running with an address',
      async () => {
        const vm = await get('pod');
        return vm.status?.phase === 'Running' && vm.status.addresses?.ipv4 !== undefined;
      },
      60_000,
    );
    const vm = await get('pod');
    expect(vm.spec.network).toBeUndefined();
    expect(vm.status?.addresses?.ipv4).toMatch(/^10\.244\.0\.\d+$/);
    expect(await claims()).toEqual([]);
    const [ethernet] = Object.values((await networkConfig('pod')).ethernets);
    expect(ethernet).toMatchObject({ dhcp4: true, addresses: [] });
  }, 90_000);

  it("reports the launcher pod's IP, not an address someone wrote into the VMI's status", async () => {
    const podIp = (await get('pod')).status?.addresses?.ipv4;
    // VMIs have no status subresource: whoever may edit a VMI can write its interfaces.
    await kube.patch(
      kubevirtTypes.virtualMachineInstance,
      'pod',
      namespace,
      {
        status: {
          interfaces: [{ name: 'default', ipAddress: '203.0.113.66', ipAddresses: ['203.0.113.66'] }],
        },
      },
      'merge',
    );
    // The controller observes afresh once the VM's status lacks the address.
    await kube.patch(blockhostTypes.vm, 'pod', namespace, { status: { addresses: null } }, 'merge', {
      subresource: 'status',
    });
    await eventually(
      'the address observed again',
      async () => (await get('pod')).status?.addresses?.ipv4 !== undefined,
      30_000,
    );
    expect((await get('pod')).status?.addresses?.ipv4).toBe(podIp);
  }, 60_000);

  it('refuses an explicit address with the way out, and creates nothing', async () => {
    await makeVm('static', { ipv4: '192.0.2.50' });
    await eventually(
      'AddressesNotSupported',
      async () =>
        (await get('static')).status?.conditions?.some((c) => c.reason === 'AddressesNotSupported') ?? false,
    );
    const ready = (await get('static')).status?.conditions?.find((c) => c.type === 'Ready');
    expect(ready?.message).toContain('set spec.backend.kubevirt.networkName');
    const machines = await kube.list<VirtualMachine>(kubevirtTypes.virtualMachine, { namespace });
    expect(machines.items.map((m) => m.metadata.name)).not.toContain('static');
    expect(await claims()).toEqual([]);
    await kube.delete(blockhostTypes.vm, 'static', namespace);
  }, 60_000);

  it('on a Multus bridge, claims a pool address and configures it in the guest', async () => {
    await setNetworkName(`${namespace}/host-bridge`);
    try {
      await makeVm('bridged');
      await eventually('VM running', async () => (await get('bridged')).status?.phase === 'Running', 60_000);
      const vm = await get('bridged');
      const address = vm.spec.network?.ipv4;
      expect(address).toBeDefined();
      expect(await claims()).toContain(address);
      const [ethernet] = Object.values((await networkConfig('bridged')).ethernets);
      expect(ethernet?.dhcp4).toBe(false);
      expect(ethernet?.addresses[0]).toMatch(new RegExp(`^${address!.replaceAll('.', '\\.')}/\\d+$`));
      expect(vm.status?.addresses?.ipv4).toBe(address);
    } finally {
      await setNetworkName(null);
    }
  }, 90_000);
});
