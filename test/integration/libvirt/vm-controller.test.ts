// The VM controller driving a real libvirtd: domains without a guest OS (they sit in the firmware),
// which is enough for create, power, drift repair, resize and teardown. The real-guest flow is in
// test/integration/e2e/libvirt-purchase.test.ts.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { BackendProvider } from '../../../controllers/vm/backends/provider.js';
import { backendFactories } from '../../../controllers/vm/backends/index.js';
import { LibvirtBackend } from '../../../controllers/vm/backends/libvirt/driver.js';
import { registerVmController, VM_FINALIZER } from '../../../controllers/vm/controller.js';
import { BACKEND_ID_ANNOTATION } from '../../../controllers/vm/steps/identity.js';
import { exampleHostConfig } from '../../../lib/api/v1alpha1/examples.js';
import { blockhostTypes, type HostConfig, type VM } from '../../../lib/api/v1alpha1/index.js';
import type { KubeClient } from '../../../lib/kube/client.js';
import { isNotFound } from '../../../lib/kube/errors.js';
import type { KubeObject } from '../../../lib/kube/object.js';
import { coreTypes } from '../../../lib/kube/resource-types.js';
import { createLogger } from '../../../lib/log.js';
import { Manager } from '../../../lib/runtime/manager.js';
import { RuntimeMetrics } from '../../../lib/runtime/metrics.js';
import { LibvirtEnvironment } from '../../harness/libvirt/environment.js';
import { virsh } from '../../harness/libvirt/libvirtd.js';
import {
  claimHostConfig,
  withHostConfigClaimWait,
  createTestNamespace,
  deleteNamespace,
  eventually,
  testClient,
} from '../../harness/kube.js';
import { vmObject } from '../../harness/vm-object.js';

describe('VM controller on a real libvirtd', () => {
  let kube: KubeClient;
  let env: LibvirtEnvironment;
  let namespace: string;
  let manager: Manager;
  let running: Promise<unknown>;
  let release: () => Promise<void>;
  let crashAfterCreate = false;

  const get = (name: string) => kube.get<VM>(blockhostTypes.vm, name, namespace);
  const domain = (name: string) => LibvirtBackend.domainName({ namespace, name });
  const state = async (name: string) =>
    (await virsh(env.daemon.uri, ['domstate', domain(name)]).catch(() => 'absent')).trim();
  const uuid = async (name: string) => (await virsh(env.daemon.uri, ['domuuid', domain(name)])).trim();
  const eventList = async (name: string) =>
    (
      await kube.list<KubeObject & { reason?: string; regarding?: { name?: string } }>(coreTypes.event, {
        namespace,
      })
    ).items.filter((e) => e.regarding?.name === name);
  const events = async (name: string) => (await eventList(name)).map((e) => e.reason);
  const makeVm = (name: string, spec: Partial<VM['spec']> = {}) =>
    kube.create<VM>(
      blockhostTypes.vm,
      vmObject(namespace, name, {
        backend: 'libvirt',
        image: 'blank',
        size: { cpu: 1, memoryMiB: 256, diskGiB: 2 },
        ...spec,
      }),
    );

  beforeAll(async () => {
    kube = testClient();
    release = await claimHostConfig(kube);
    namespace = await createTestNamespace(kube, 'libvirt-vms');
    env = await LibvirtEnvironment.start();
    const host = structuredClone(exampleHostConfig) as HostConfig;
    host.spec.backend = { type: 'libvirt', libvirt: env.settings };
    host.spec.ipv4Pool = env.ipv4Pool;
    await kube.create(blockhostTypes.hostConfig, host);
    const log = createLogger('vm-controller-test');
    manager = new Manager({ client: kube, log, metrics: new RuntimeMetrics({ processMetrics: false }) });
    registerVmController(manager, {
      backends: new BackendProvider(backendFactories, { kube, namespace, log }),
      claimsNamespace: namespace,
      observeIntervalMs: 1500,
      transitionPollMs: 1000,
      shutdownTimeoutMs: 4000,
      onStep: (step) => {
        if (step === 'backendCreated' && crashAfterCreate) {
          crashAfterCreate = false;
          throw new Error('injected crash after the backend create, before the status write');
        }
      },
    });
    running = manager.start();
  }, withHostConfigClaimWait(120_000));

  afterAll(async () => {
    // VMs finalize while the controller and the HostConfig still exist.
    if (namespace) await deleteNamespace(kube, namespace);
    manager?.stop();
    await running;
    await env?.stop(namespace ? [namespace] : []);
    await release?.();
  }, 180_000);

  it('creates a running domain with a pool address, a finalizer and status from the backend', async () => {
    await makeVm('web');
    await eventually('VM running', async () => (await get('web')).status?.phase === 'Running', 60_000);
    const vm = await get('web');
    expect(await state('web')).toBe('running');
    expect(vm.status?.backendId).toBe(await uuid('web'));
    expect(vm.metadata.annotations?.[BACKEND_ID_ANNOTATION]).toBe(await uuid('web'));
    expect(vm.metadata.finalizers).toContain(VM_FINALIZER);
    expect(vm.spec.network?.ipv4).toMatch(
      new RegExp(`^${env.ipv4Pool.network.split('.').slice(0, 3).join('\\.')}\\.`),
    );
    // From the example HostConfig's /64; which one depends on the claims other files' VMs hold.
    expect(vm.spec.network?.ipv6).toMatch(/^2001:db8:42::[0-9a-f]{1,4}$/);
    expect(vm.status?.addresses).toEqual({ ipv4: vm.spec.network?.ipv4, ipv6: vm.spec.network?.ipv6 });
    // No OS, so no agent: the VM runs but is not Ready.
    expect(vm.status?.guestAgentConnected).toBe(false);
    const xml = await virsh(env.daemon.uri, ['dumpxml', domain('web')]);
    expect(xml).toContain(`<source bridge='${env.bridge}'/>`);
    expect(xml).toMatch(/<domain type='(qemu|kvm)'/);
    expect(await env.volumes()).toEqual(
      expect.arrayContaining([`${domain('web')}-disk.qcow2`, `${domain('web')}-seed.iso`]),
    );
    expect(await events('web')).toContain('Created');
  }, 90_000);

  it('starts a domain powered off behind its back again', async () => {
    const before = (await get('web')).status?.backendId;
    await virsh(env.daemon.uri, ['destroy', domain('web')]);
    expect(await state('web')).toBe('shut off');
    await eventually('domain running again', async () => (await state('web')) === 'running', 30_000);
    expect((await get('web')).status?.backendId).toBe(before);
    await eventually('Restarted event', async () => (await events('web')).includes('Restarted'), 10_000);
  }, 60_000);

  it('recreates a domain deleted behind its back, keeping the address', async () => {
    const before = await get('web');
    await virsh(env.daemon.uri, ['destroy', domain('web')]);
    await virsh(env.daemon.uri, ['undefine', domain('web'), '--remove-all-storage']);
    await eventually(
      'domain recreated',
      async () => {
        // While the create is in flight the status holds only the intent, no backend id yet.
        const id = (await get('web')).status?.backendId;
        return id !== undefined && id !== before.status?.backendId && (await state('web')) === 'running';
      },
      30_000,
    );
    const after = await get('web');
    expect(after.status?.backendId).toBe(await uuid('web'));
    expect(after.spec.network).toEqual(before.spec.network);
    expect(await events('web')).toContain('Recreating');
  }, 60_000);

  it('grows the disk when the size grows', async () => {
    await kube.patch(blockhostTypes.vm, 'web', namespace, { spec: { size: { diskGiB: 3 } } }, 'merge');
    await eventually(
      'disk grown',
      async () =>
        (await virsh(env.daemon.uri, ['domblkinfo', domain('web'), 'vda'])).includes(String(3 * 2 ** 30)),
      30_000,
    );
  }, 60_000);

  it('halts: asks for a shutdown, then powers off a guest that ignores it', async () => {
    await kube.patch(blockhostTypes.vm, 'web', namespace, { spec: { runStrategy: 'Halted' } }, 'merge');
    await eventually('VM stopped', async () => (await get('web')).status?.phase === 'Stopped', 40_000);
    expect(await state('web')).toBe('shut off');
    const reasons = await events('web');
    expect(reasons).toEqual(expect.arrayContaining(['ShuttingDown', 'PoweredOff']));
    // Stays stopped: a stopped VM that should be stopped is not "repaired".
    await new Promise((r) => setTimeout(r, 3000));
    expect(await state('web')).toBe('shut off');
    await kube.patch(blockhostTypes.vm, 'web', namespace, { spec: { runStrategy: 'Always' } }, 'merge');
    await eventually('running again', async () => (await state('web')) === 'running', 30_000);
    // The status follows at once: a VM just started is not reported Stopped.
    await eventually('VM Running', async () => (await get('web')).status?.phase === 'Running', 10_000);
  }, 90_000);

  it('kills with shutdownGracePeriodSeconds 0: powered off at once, no shutdown request', async () => {
    const before = new Set((await eventList('web')).map((e) => e.metadata.uid));
    const started = Date.now();
    await kube.patch(
      blockhostTypes.vm,
      'web',
      namespace,
      { spec: { runStrategy: 'Halted', shutdownGracePeriodSeconds: 0 } },
      'merge',
    );
    await eventually('domain shut off', async () => (await state('web')) === 'shut off', 20_000);
    // Well inside the controller's 4 s shutdown timeout: the guest (no OS) would ignore an ACPI request.
    expect(Date.now() - started).toBeLessThan(4000);
    await eventually('VM stopped', async () => (await get('web')).status?.phase === 'Stopped', 20_000);
    const fresh = (await eventList('web')).filter((e) => !before.has(e.metadata.uid));
    expect(fresh.map((e) => e.reason)).toContain('PoweredOff');
    expect(fresh.map((e) => e.reason)).not.toContain('ShuttingDown');
    await kube.patch(
      blockhostTypes.vm,
      'web',
      namespace,
      { spec: { runStrategy: 'Always', shutdownGracePeriodSeconds: null } },
      'merge',
    );
    await eventually('running again', async () => (await state('web')) === 'running', 30_000);
  }, 60_000);

  it('adopts the domain after a crash between the backend create and the status write: one domain', async () => {
    crashAfterCreate = true;
    await makeVm('crashy');
    await eventually('VM running', async () => (await get('crashy')).status?.phase === 'Running', 60_000);
    expect(crashAfterCreate).toBe(false); // the crash did happen
    expect((await env.domains(namespace)).filter((d) => d === domain('crashy'))).toHaveLength(1);
    expect((await get('crashy')).status?.backendId).toBe(await uuid('crashy'));
  }, 90_000);

  it('refuses a domain of the same name it did not create, and leaves it alone', async () => {
    const name = 'squatter';
    await virsh(env.daemon.uri, ['vol-create-as', env.pool, 'squat.qcow2', '64M', '--format', 'qcow2']);
    const path = (await virsh(env.daemon.uri, ['vol-path', '--pool', env.pool, 'squat.qcow2'])).trim();
    const xml = `<domain type='qemu'><name>${domain(name)}</name><memory unit='MiB'>128</memory><os><type arch='x86_64' machine='pc'>hvm</type></os><devices><disk type='file' device='disk'><source file='${path}'/><target dev='vda' bus='virtio'/></disk></devices></domain>`;
    const file = join(env.dir, 'squatter.xml');
    await writeFile(file, xml);
    await virsh(env.daemon.uri, ['define', file]);
    const foreign = (await uuid(name)).trim();
    await makeVm(name);
    await eventually(
      'NameConflict reported',
      async () => (await get(name)).status?.conditions?.some((c) => c.reason === 'NameConflict') ?? false,
      30_000,
    );
    expect(await state(name)).toBe('shut off');
    await kube.delete(blockhostTypes.vm, name, namespace);
    await eventually('VM gone', () => get(name).then(() => false, isNotFound), 30_000);
    // The foreign domain survives the VM object's deletion.
    expect(await uuid(name)).toBe(foreign);
    await virsh(env.daemon.uri, ['undefine', domain(name), '--remove-all-storage']);
  }, 90_000);

  it('deletes the domain, its volumes and its address claims before the VM object goes', async () => {
    const vm = await get('web');
    await kube.delete(blockhostTypes.vm, 'web', namespace);
    await eventually('VM gone', () => get('web').then(() => false, isNotFound), 60_000);
    expect(await state('web')).toBe('absent');
    expect((await env.volumes()).filter((v) => v.startsWith(domain('web')))).toEqual([]);
    const claims = await kube.list(coreTypes.configMap, {
      namespace,
      labelSelector: `blockhost.io/vm-uid=${vm.metadata.uid}`,
    });
    expect(claims.items).toEqual([]);
  }, 90_000);
});
