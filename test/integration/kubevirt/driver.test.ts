import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { KubevirtBackend, type KubevirtSettings } from '../../../controllers/vm/backends/kubevirt/driver.js';
import {
  kubevirtTypes,
  type PersistentVolumeClaim,
  type Pod,
  type VirtualMachine,
  type VirtualMachineInstance,
} from '../../../controllers/vm/backends/kubevirt/resource-types.js';
import { BackendError, GuestAgentUnavailableError, type DesiredVm } from '../../../controllers/vm/backend.js';
import { renderCloudInit } from '../../../controllers/vm/cloud-init.js';
import { isNotFound } from '../../../lib/kube/errors.js';
import type { KubeObject } from '../../../lib/kube/object.js';
import { coreTypes, type ResourceType } from '../../../lib/kube/resource-types.js';
import { createLogger } from '../../../lib/log.js';
import { createTestNamespace, deleteNamespace, eventually, testClient } from '../../harness/kube.js';
import { installKubevirtCrds } from '../../harness/kubevirt/crds.js';
import { KubevirtSimulator } from '../../harness/kubevirt/simulator.js';

const kube = testClient();
const log = createLogger('kubevirt-driver-test', { level: 'warn' });
const WALLET = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8';
const SHUTDOWN_MS = 1500;
const storageClassType: ResourceType = {
  group: 'storage.k8s.io',
  version: 'v1',
  kind: 'StorageClass',
  plural: 'storageclasses',
  namespaced: false,
};

let namespace: string;
let simulator: KubevirtSimulator;
let backend: KubevirtBackend;
const storageClass = `kv-test-${randomUUID().slice(0, 8)}`;

const settings = (): KubevirtSettings => ({
  storageClass,
  images: [
    { name: 'debian', containerDisk: 'quay.io/containerdisks/debian:12' },
    { name: 'golden', pvc: { namespace: 'vm-images', name: 'debian-12' } },
  ],
});

function desired(name: string, overrides: Partial<DesiredVm> = {}): DesiredVm {
  return {
    namespace,
    name,
    uid: randomUUID(),
    intentId: randomUUID(),
    cpu: 2,
    memoryMiB: 2048,
    diskGiB: 20,
    image: 'debian',
    running: true,
    macAddress: '52:54:00:00:00:0a',
    cloudInit: renderCloudInit({
      login: { secretKey: 'ab'.repeat(32) },
      name,
      username: 'admin',
      ownerWallet: WALLET,
      nftTokenId: '7',
      network: {
        macAddress: '52:54:00:00:00:0a',
        ipv4: { address: '192.0.2.10', prefixLength: 24, gateway: '192.0.2.1' },
        ipv6: { address: '2001:db8::10', gateway: '2001:db8::1' },
      },
    }),
    addresses: { ipv4: '192.0.2.10', ipv6: '2001:db8::10' },
    ...overrides,
  };
}

const getOptional = <T extends KubeObject>(type: ResourceType, name: string) =>
  kube.get<T>(type, name, namespace).catch((error: unknown) => {
    if (isNotFound(error)) return undefined;
    throw error;
  });
const getVm = (name: string) => kube.get<VirtualMachine>(kubevirtTypes.virtualMachine, name, namespace);
const getVmi = (name: string) =>
  getOptional<VirtualMachineInstance>(kubevirtTypes.virtualMachineInstance, name);
const idOf = (name: string) => `${namespace}/${name}`;

async function eventuallyPower(name: string, power: string, timeoutMs = 15_000) {
  await eventually(
    `${name} ${power}`,
    async () => (await backend.observe({ namespace, name }))?.power === power,
    timeoutMs,
  );
}

beforeAll(async () => {
  await installKubevirtCrds(kube);
  namespace = await createTestNamespace(kube, 'kv-driver');
  simulator = await KubevirtSimulator.start({
    kube,
    namespace,
    agentDelayMs: 300,
    shutdownDelayMs: SHUTDOWN_MS,
  });
  backend = new KubevirtBackend({ kube, settings: settings(), log });
}, 300_000);

afterAll(async () => {
  await simulator?.stop();
  await deleteNamespace(kube, namespace);
  await kube.delete(storageClassType, storageClass).catch(() => undefined);
});

describe('KubevirtBackend against the real API server with KubeVirt CRDs', () => {
  let vm1: DesiredVm;
  beforeAll(() => {
    vm1 = desired('blockhost-001');
  });

  it('create writes the cloud-init Secret and a VirtualMachine with the requested spec', async () => {
    const observed = await backend.create(vm1);
    expect(observed).toMatchObject({
      id: idOf('blockhost-001'),
      intentId: vm1.intentId,
      cpu: 2,
      memoryMiB: 2048,
    });

    const vm = await getVm('blockhost-001');
    expect(vm.metadata.labels).toEqual({
      'app.kubernetes.io/managed-by': 'blockhost',
      'blockhost.io/vm-uid': vm1.uid,
    });
    expect(vm.metadata.annotations?.['blockhost.io/create-intent']).toBe(vm1.intentId);
    expect(vm.spec.runStrategy).toBe('Always');
    const template = vm.spec.template.spec;
    expect(template?.domain.cpu?.cores).toBe(2);
    expect(template?.domain.memory?.guest).toBe('2048Mi');
    expect(template?.domain.devices.disks).toEqual([
      { name: 'rootdisk', disk: { bus: 'virtio' } },
      { name: 'cloudinitdisk', disk: { bus: 'virtio' } },
    ]);
    expect(template?.domain.devices.interfaces).toEqual([
      { name: 'default', masquerade: {}, macAddress: '52:54:00:00:00:0a' },
    ]);
    expect(template?.networks).toEqual([{ name: 'default', pod: {} }]);
    expect(template?.volumes).toEqual([
      { name: 'rootdisk', containerDisk: { image: 'quay.io/containerdisks/debian:12' } },
      {
        name: 'cloudinitdisk',
        cloudInitNoCloud: {
          secretRef: { name: 'blockhost-001-cloudinit' },
          networkDataSecretRef: { name: 'blockhost-001-cloudinit' },
        },
      },
    ]);

    const secret = await kube.get<KubeObject & { data: Record<string, string> }>(
      coreTypes.secret,
      'blockhost-001-cloudinit',
      namespace,
    );
    const decoded = (key: string) => Buffer.from(secret.data[key] ?? '', 'base64').toString('utf8');
    expect(decoded('userdata')).toBe(vm1.cloudInit.userData);
    expect(decoded('networkdata')).toBe(vm1.cloudInit.networkConfig);
    expect(secret.metadata.ownerReferences).toEqual([
      expect.objectContaining({
        kind: 'VirtualMachine',
        name: 'blockhost-001',
        uid: vm.metadata.uid,
        controller: true,
      }),
    ]);
  });

  it('KubeVirt (simulated) runs it: Running, guest agent connected, the static addresses from cloud-init', async () => {
    await eventually(
      'agent connected',
      async () => (await backend.observe(vm1))?.guestAgentConnected === true,
    );
    const observed = await backend.observe(vm1);
    expect(observed).toMatchObject({
      power: 'Running',
      addresses: { ipv4: '192.0.2.10', ipv6: '2001:db8::10' },
    });
    const vm = await getVm('blockhost-001');
    expect(vm.status).toMatchObject({ printableStatus: 'Running', ready: true, created: true });
  });

  it('a VM without a network config reports the pod IP', async () => {
    const plain = desired('blockhost-002', {
      cloudInit: renderCloudInit({
        login: { secretKey: 'ab'.repeat(32) },
        name: 'blockhost-002',
        username: 'admin',
        ownerWallet: WALLET,
      }),
      addresses: {},
    });
    await backend.create(plain);
    const secret = await kube.get<KubeObject & { data: Record<string, string> }>(
      coreTypes.secret,
      'blockhost-002-cloudinit',
      namespace,
    );
    expect(Object.keys(secret.data)).toEqual(['userdata']);
    await eventuallyPower('blockhost-002', 'Running');
    expect((await backend.observe(plain))?.addresses.ipv4).toMatch(/^10\.244\.0\.\d+$/);
  });

  it('shutdown sets runStrategy Halted and passes through Stopping to Stopped; a second shutdown is a no-op', async () => {
    await backend.power(idOf('blockhost-001'), 'shutdown');
    expect((await getVm('blockhost-001')).spec.runStrategy).toBe('Halted');
    await eventuallyPower('blockhost-001', 'Stopping', 1000);
    await eventuallyPower('blockhost-001', 'Stopped');
    expect(await getVmi('blockhost-001')).toBeUndefined();
    await backend.power(idOf('blockhost-001'), 'shutdown');
    expect((await backend.observe(vm1))?.power).toBe('Stopped');
  });

  it('start sets runStrategy Always and the VM comes back', async () => {
    await backend.power(idOf('blockhost-001'), 'start');
    await backend.power(idOf('blockhost-001'), 'start');
    expect((await getVm('blockhost-001')).spec.runStrategy).toBe('Always');
    await eventuallyPower('blockhost-001', 'Running');
  });

  it('stop pulls the plug: the VMI is gone at once, without the graceful shutdown wait', async () => {
    const started = Date.now();
    await backend.power(idOf('blockhost-001'), 'stop');
    expect((await getVm('blockhost-001')).spec.runStrategy).toBe('Halted');
    expect(await getVmi('blockhost-001')).toBeUndefined();
    await eventuallyPower('blockhost-001', 'Stopped');
    expect(Date.now() - started).toBeLessThan(SHUTDOWN_MS);
    await backend.power(idOf('blockhost-001'), 'stop');
  });

  it('a second create with the same intent adopts the VirtualMachine and repairs the Secret owner', async () => {
    const before = await getVm('blockhost-001');
    // As if the first create died after the VirtualMachine but before the Secret's owner reference.
    await kube.patch(
      coreTypes.secret,
      'blockhost-001-cloudinit',
      namespace,
      { metadata: { ownerReferences: null } },
      'merge',
    );
    const observed = await backend.create(vm1);
    expect(observed.id).toBe(idOf('blockhost-001'));
    expect((await getVm('blockhost-001')).metadata.uid).toBe(before.metadata.uid);
    const secret = await kube.get(coreTypes.secret, 'blockhost-001-cloudinit', namespace);
    expect(secret.metadata.ownerReferences?.[0]?.uid).toBe(before.metadata.uid);
  });

  it('a create with another intent for the same name is a conflict and changes nothing', async () => {
    const other = desired('blockhost-001', { intentId: randomUUID(), cpu: 8 });
    const error = await backend.create(other).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackendError);
    expect((error as BackendError).reason).toBe('Conflict');
    expect((await getVm('blockhost-001')).spec.template.spec?.domain.cpu?.cores).toBe(2);
  });

  it('update grows CPU and memory, never shrinks, and rewrites the cloud-init Secret', async () => {
    const withoutNetwork = renderCloudInit({
      login: { secretKey: 'ab'.repeat(32) },
      name: 'blockhost-001',
      username: 'root2',
      ownerWallet: WALLET,
    });
    await backend.update(idOf('blockhost-001'), {
      ...vm1,
      cpu: 4,
      memoryMiB: 4096,
      cloudInit: withoutNetwork,
    });
    expect(await backend.observe(vm1)).toMatchObject({ cpu: 4, memoryMiB: 4096 });
    await backend.update(idOf('blockhost-001'), {
      ...vm1,
      cpu: 1,
      memoryMiB: 1024,
      cloudInit: withoutNetwork,
    });
    expect(await backend.observe(vm1)).toMatchObject({ cpu: 4, memoryMiB: 4096 });
    const secret = await kube.get<KubeObject & { data: Record<string, string> }>(
      coreTypes.secret,
      'blockhost-001-cloudinit',
      namespace,
    );
    expect(Object.keys(secret.data)).toEqual(['userdata']);
    expect(Buffer.from(secret.data.userdata ?? '', 'base64').toString()).toContain('root2');
  });

  it('when the guest dies behind our back KubeVirt (Always) starts a new VMI', async () => {
    await backend.power(idOf('blockhost-002'), 'start');
    const first = await getVmi('blockhost-002');
    await simulator.crashGuest('blockhost-002');
    await eventually('a new VMI', async () => {
      const vmi = await getVmi('blockhost-002');
      return vmi !== undefined && vmi.metadata.uid !== first?.metadata.uid;
    });
    await eventuallyPower('blockhost-002', 'Running');
  });

  it('an unschedulable VM reads as Starting (KubeVirt keeps trying), its printableStatus ErrorUnschedulable', async () => {
    simulator.failSchedulingFor('blockhost-003');
    await backend.create(desired('blockhost-003'));
    await eventually(
      'ErrorUnschedulable',
      async () => (await getVm('blockhost-003')).status?.printableStatus === 'ErrorUnschedulable',
    );
    expect((await backend.observe({ namespace, name: 'blockhost-003' }))?.power).toBe('Starting');
  });

  it('a golden-image VM gets a DataVolume template (clone), and update grows its template and bound PVC', async () => {
    const golden = desired('blockhost-004', { image: 'golden', running: false });
    const observed = await backend.create(golden);
    expect(observed).toMatchObject({ power: 'Stopped', diskGiB: 20 });
    const vm = await getVm('blockhost-004');
    expect(vm.spec.dataVolumeTemplates).toEqual([
      {
        metadata: { name: 'blockhost-004-rootdisk', labels: vm.metadata.labels },
        spec: {
          source: { pvc: { namespace: 'vm-images', name: 'debian-12' } },
          storage: { resources: { requests: { storage: '20Gi' } }, storageClassName: storageClass },
        },
      },
    ]);
    expect(vm.spec.template.spec?.volumes?.[0]).toEqual({
      name: 'rootdisk',
      dataVolume: { name: 'blockhost-004-rootdisk' },
    });

    // What CDI would have made of the template: a PVC of the DataVolume's name, in an expandable class.
    await kube.create(storageClassType, {
      metadata: { name: storageClass },
      provisioner: 'example.com/none',
      allowVolumeExpansion: true,
    } as KubeObject);
    await kube.create<PersistentVolumeClaim>(kubevirtTypes.persistentVolumeClaim, {
      metadata: { name: 'blockhost-004-rootdisk', namespace },
      spec: {
        accessModes: ['ReadWriteOnce'],
        storageClassName: storageClass,
        resources: { requests: { storage: '20Gi' } },
      },
    } as PersistentVolumeClaim);
    const pending = await backend
      .update(idOf('blockhost-004'), { ...golden, diskGiB: 30 })
      .catch((e: unknown) => e);
    expect((pending as BackendError).reason).toBe('DiskResizePending');
    expect((await backend.observe(golden))?.diskGiB).toBe(30);

    await kube.patch(
      kubevirtTypes.persistentVolumeClaim,
      'blockhost-004-rootdisk',
      namespace,
      { status: { phase: 'Bound', capacity: { storage: '20Gi' } } },
      'merge',
      { subresource: 'status' },
    );
    await backend.update(idOf('blockhost-004'), { ...golden, diskGiB: 30 });
    const pvc = await kube.get<PersistentVolumeClaim>(
      kubevirtTypes.persistentVolumeClaim,
      'blockhost-004-rootdisk',
      namespace,
    );
    expect(pvc.spec?.resources?.requests?.storage).toBe('30Gi');
    await backend.update(idOf('blockhost-004'), { ...golden, diskGiB: 10 });
    expect((await backend.observe(golden))?.diskGiB).toBe(30);
  });

  it('a Multus network puts the NIC on a bridge to that network', async () => {
    const bridged = new KubevirtBackend({
      kube,
      settings: { ...settings(), networkName: 'default/host-bridge' },
      log,
    });
    await bridged.create(desired('blockhost-005', { running: false }));
    const template = (await getVm('blockhost-005')).spec.template.spec;
    expect(template?.domain.devices.interfaces).toEqual([
      { name: 'default', bridge: {}, macAddress: '52:54:00:00:00:0a' },
    ]);
    expect(template?.networks).toEqual([{ name: 'default', multus: { networkName: 'default/host-bridge' } }]);
  });

  it('an unknown image is a clear error and creates nothing', async () => {
    const error = await backend.create(desired('blockhost-006', { image: 'nope' })).catch((e: unknown) => e);
    expect((error as BackendError).reason).toBe('UnknownImage');
    expect(await getOptional(kubevirtTypes.virtualMachine, 'blockhost-006')).toBeUndefined();
    expect(await getOptional(coreTypes.secret, 'blockhost-006-cloudinit')).toBeUndefined();
  });

  describe('guestExec', () => {
    const command = { path: '/usr/bin/true' };

    it('a stopped VM: GuestAgentUnavailableError', async () => {
      const error = await backend.guestExec(idOf('blockhost-001'), command).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(GuestAgentUnavailableError);
      expect((error as Error).message).toMatch(/not running/);
    });

    it('a running VM without a virt-launcher pod: GuestAgentUnavailableError', async () => {
      await eventually(
        'agent connected',
        async () =>
          (await backend.observe({ namespace, name: 'blockhost-002' }))?.guestAgentConnected === true,
      );
      const error = await backend.guestExec(idOf('blockhost-002'), command).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(GuestAgentUnavailableError);
      expect((error as Error).message).toMatch(/no running virt-launcher pod/);
    });

    it('finds the launcher pod by the VMI uid; with no kubelet behind it the exec fails as GuestAgentUnavailableError', async () => {
      const vmi = await getVmi('blockhost-002');
      const pod = {
        metadata: {
          name: 'virt-launcher-blockhost-002-abcde',
          namespace,
          labels: { 'kubevirt.io': 'virt-launcher', 'kubevirt.io/created-by': vmi?.metadata.uid ?? '' },
        },
        spec: {
          nodeName: 'node01',
          automountServiceAccountToken: false,
          containers: [{ name: 'compute', image: 'quay.io/kubevirt/virt-launcher:v1.7.0' }],
        },
      };
      // The service account controller creates `default` shortly after the namespace.
      await eventually('launcher pod created', () =>
        kube.create<Pod>(kubevirtTypes.pod, pod as Pod).then(
          () => true,
          () => false,
        ),
      );
      await kube.patch(
        kubevirtTypes.pod,
        pod.metadata.name,
        namespace,
        { status: { phase: 'Running' } },
        'merge',
        {
          subresource: 'status',
        },
      );
      const error = await backend.guestExec(idOf('blockhost-002'), command).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(GuestAgentUnavailableError);
      expect((error as Error).message).toMatch(/cannot run virsh in .*virt-launcher-blockhost-002-abcde/);
    });
  });

  it('delete removes the VirtualMachine, its VMI and its Secret; observe then returns undefined', async () => {
    await eventuallyPower('blockhost-002', 'Running');
    await backend.delete(idOf('blockhost-002'));
    await eventually(
      'VM gone',
      async () => (await backend.observe({ namespace, name: 'blockhost-002' })) === undefined,
    );
    expect(await getVmi('blockhost-002')).toBeUndefined();
    expect(await getOptional(coreTypes.secret, 'blockhost-002-cloudinit')).toBeUndefined();
    await backend.delete(idOf('blockhost-002'));
  });
});
