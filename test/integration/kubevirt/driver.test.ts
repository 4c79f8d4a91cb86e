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
import { desiredVm, WALLET } from './fixtures.js';

const kube = testClient();
const log = createLogger('kubevirt-driver-test', { level: 'warn' });
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

const desired = (name: string, overrides: Partial<DesiredVm> = {}) => desiredVm(namespace, name, overrides);

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

  it('KubeVirt (simulated) runs it: Running, guest agent connected, reported at its pod IP', async () => {
    await eventually(
      'agent connected',
      async () => (await backend.observe(vm1))?.guestAgentConnected === true,
    );
    const observed = await backend.observe(vm1);
    // On the pod network KubeVirt reports the pod IP whatever the guest configured (a static address
    // there cuts the guest off the masquerade NAT; the VM controller renders DHCP instead).
    expect(observed?.power).toBe('Running');
    expect(observed?.addresses).toEqual({ ipv4: expect.stringMatching(/^10\.244\.0\.\d+$/) });
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

  describe('the guest agent through virsh in virt-launcher', () => {
    const command = { path: '/usr/bin/getent', args: ['passwd', 'admin'] };
    const pending = (file: string) => `/run/libpam-web3/pending/${file}`;
    let agentBackend: KubevirtBackend;
    const id = () => idOf('blockhost-007');
    beforeAll(async () => {
      agentBackend = new KubevirtBackend({
        kube,
        settings: settings(),
        log,
        launcherExec: simulator.launcherExec,
      });
      await agentBackend.create(desired('blockhost-007'));
      await eventually(
        'agent connected',
        async () =>
          (await agentBackend.observe({ namespace, name: 'blockhost-007' }))?.guestAgentConnected === true,
      );
    });

    it('a stopped VM: GuestAgentUnavailableError', async () => {
      const error = await agentBackend.guestExec(idOf('blockhost-001'), command).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(GuestAgentUnavailableError);
      expect((error as Error).message).toMatch(/not running/);
    });

    it('the default exec finds the launcher pod by the VMI uid; with no kubelet behind it: GuestAgentUnavailableError', async () => {
      const error = await backend.guestExec(id(), command).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(GuestAgentUnavailableError);
      expect((error as Error).message).toMatch(/cannot run virsh in .*\/virt-launcher-blockhost-007-/);
    });

    it('guestExec runs a program in the guest that booted from the VM cloud-init', async () => {
      const result = await agentBackend.guestExec(id(), command);
      expect(result).toEqual({
        exitCode: 0,
        stdout: `admin:x:1000:1000:wallet=${WALLET},nft=7:/home/admin:/bin/bash\n`,
        stderr: '',
      });
      const usermod = { path: '/usr/sbin/usermod', args: ['-c', 'wallet=0x1,nft=8', 'admin'] };
      expect((await agentBackend.guestExec(id(), usermod)).exitCode).toBe(0);
      expect(
        simulator
          .guest('blockhost-007')
          ?.users()
          .find((u) => u.name === 'admin')?.gecos,
      ).toBe('wallet=0x1,nft=8');
    });

    it('guestWriteFile then guestReadFile round-trips in the pending directory cloud-init made', async () => {
      await agentBackend.guestWriteFile(id(), pending('a.sig'), '0xsignature\n');
      expect(simulator.guest('blockhost-007')?.files.read(pending('a.sig')).toString()).toBe('0xsignature\n');
      expect(await agentBackend.guestReadFile(id(), pending('a.sig'), 100)).toBe('0xsignature\n');
    });

    it('a missing file reads as undefined; one larger than asked is GuestFileTooLarge', async () => {
      expect(await agentBackend.guestReadFile(id(), pending('none.json'), 100)).toBeUndefined();
      simulator.guest('blockhost-007')?.files.write(pending('big.json'), Buffer.alloc(5000, 'x'));
      const error = await agentBackend
        .guestReadFile(id(), pending('big.json'), 4096)
        .catch((e: unknown) => e);
      expect((error as BackendError).reason).toBe('GuestFileTooLarge');
    });

    it("an agent that stopped before the VMI's condition says so: virsh's error, GuestAgentUnavailableError", async () => {
      await simulator.stopAgent('blockhost-007');
      const error = await agentBackend.guestReadFile(id(), pending('a.sig'), 100).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(GuestAgentUnavailableError);
      expect((error as Error).message).toMatch(/QEMU guest agent is not connected/);
    });

    it('a running VM whose launcher pod is gone: GuestAgentUnavailableError', async () => {
      const pods = await kube.list<Pod>(kubevirtTypes.pod, {
        namespace,
        labelSelector: `kubevirt.io/created-by=${(await getVmi('blockhost-002'))?.metadata.uid}`,
      });
      expect(pods.items).toHaveLength(1);
      await kube.delete(kubevirtTypes.pod, pods.items[0]!.metadata.name!, namespace);
      const error = await agentBackend.guestExec(idOf('blockhost-002'), command).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(GuestAgentUnavailableError);
      expect((error as Error).message).toMatch(/no running virt-launcher pod/);
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
